"""``fixed-sleep``: sleep a fixed time before every cluster, copied or not.

The reviewed patch (v4 2/6, Dietmar Maurer, 20 Feb 2013) slept 1 us before each
cluster, also before clusters already copied, "use 1000 instead of 0 (0
prioritize this task too much)"; its author said without it "the VM gets a bit
unresponsive ... just a feeling".  The sleep is a timer, so in the 2013 event
loop it lasts at least ``loop.timer_min_rearm`` on an idle loop
(:mod:`sim.loop`).
"""

from __future__ import annotations

from ..params import POLICIES, Time
from .base import Policy, PolicyConfig

__all__ = ["FixedSleepPolicy", "FixedSleepConfig"]


class FixedSleepConfig(PolicyConfig):
    sleep: Time = 1_000


@POLICIES.register("fixed-sleep")
class FixedSleepPolicy(Policy):
    """Sleep ``sleep`` ns before each cluster."""

    Config = FixedSleepConfig
    cfg: FixedSleepConfig
    gates_copied = True

    def before_cluster(self) -> int:
        return self.cfg.sleep
