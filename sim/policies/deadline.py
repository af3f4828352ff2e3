"""``deadline``: finish by a deadline while hurting the guest least.

Linux md RAID resync (``drivers/md/md.c``) keeps resync between
``speed_limit_min`` and ``speed_limit_max``: above the minimum it backs off
while the array is not idle (``is_mddev_idle``); below it, it goes on
regardless.  Here the minimum is not fixed but derived from the deadline: a
floor rate of the remaining bytes over the time left (times ``margin``), and
extra speed only while the guest is quiet (nothing in flight, nothing
completed within ``window``).  A sleeping job wakes early when the guest
turns quiet.  ``deadline`` is counted from the backup's start; once it has
passed the job runs at full speed.
"""

from __future__ import annotations

import simpy
from pydantic import Field

from ..params import POLICIES, Time
from .base import Policy, PolicyConfig
from .quiet import QuietDetector

__all__ = ["DeadlinePolicy", "DeadlineConfig"]


class DeadlineConfig(PolicyConfig):
    deadline: Time = 600 * 10**9
    window: Time = 50_000_000
    margin: float = Field(1.1, ge=1.0, le=10.0)


@POLICIES.register("deadline")
class DeadlinePolicy(Policy):
    """Pace at remaining/time-left while the guest is active; full speed while it is quiet."""

    Config = DeadlineConfig
    cfg: DeadlineConfig

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        self.next_at = 0  # earliest start of the next paced copy
        self.quiet = QuietDetector(ctx.env, ctx.guest, cfg.window)

    def before_cluster(self) -> int | simpy.Event:
        env, job = self.ctx.env, self.ctx.job
        now = env.now
        if self.quiet.quiet():
            self.next_at = now
            return 0
        left = job.t_start + self.cfg.deadline - now
        remaining = job.remaining_bytes
        if left <= 0 or remaining <= 0:
            return 0
        rate = remaining * self.cfg.margin / (left / 1e9)  # bytes per second
        gap = int(job.unit * 1e9 / rate)
        if now >= self.next_at:
            self.next_at = max(self.next_at, now - gap) + gap
            return 0
        return env.any_of([env.timeout(self.next_at - now), self.quiet.event()])
