"""``idle-only``: copy only while the guest has no request in flight.

Stefan Hajnoczi in the seed thread (27 Feb 2013): "The simplest policy using
bs->tracked_requests is to only submit block job I/O requests when the list is
empty ... (The drawback is that the guest can starve the block job by
submitting I/O all the time.)"  Before each cluster the job waits, on an event
and never by polling, until the guest has nothing in flight.  A guest that
never pauses starves the job, which then ends with status ``timeout`` at
``run.max_time``.
"""

from __future__ import annotations

import simpy

from ..params import POLICIES
from .base import Policy, PolicyConfig

__all__ = ["IdleOnlyPolicy", "IdleOnlyConfig"]


class IdleOnlyConfig(PolicyConfig):
    """No parameters."""


@POLICIES.register("idle-only")
class IdleOnlyPolicy(Policy):
    """Yield when the guest is idle; otherwise wait for it to become idle."""

    Config = IdleOnlyConfig

    def before_cluster(self) -> int | simpy.Event:
        guest = self.ctx.guest
        if guest.in_flight == 0:
            return 0
        return guest.idle_event()
