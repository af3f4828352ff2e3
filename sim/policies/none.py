"""``none``: yield to the event loop between clusters, no delay.

What QEMU merged (commit 98d2c6f2cd, June 2013): "Use 0 delay instead of 1us,
like other block jobs", i.e. ``block_job_sleep_ns(..., 0)`` before each
cluster when no speed is set.  The reviewer's argument (seed thread, Stefan
Hajnoczi, 20-21 Feb 2013): a magic delay hides a bug; the job should run at
full speed unless rate-limited.
"""

from __future__ import annotations

from ..params import POLICIES
from .base import Policy, PolicyConfig

__all__ = ["NonePolicy", "NoneConfig"]


class NoneConfig(PolicyConfig):
    """No parameters."""


@POLICIES.register("none")
class NonePolicy(Policy):
    """Zero delay: the loop runs the job again in its next iteration."""

    Config = NoneConfig
    gates_copied = True

    def before_cluster(self) -> int:
        return 0
