"""``hybrid``: full speed while the guest is idle, rate-limited while it is active.

Kevin Wolf in the seed thread (28 Feb 2013): "Maybe mix the approaches? If
there is no guest I/O going on, run the backup at full speed, but if there is,
then rate-limit it?"  The guest is *active* when a request is in flight or one
completed within ``window`` (the detector of ZFS's legacy scan throttle,
``zfs_scan_idle`` = 50 ticks, before each scan I/O; default 50 ms).  While
active, QEMU's fractional limiter at ``busy_speed`` paces the copies; a
sleeping job wakes early as soon as the guest turns quiet, so the job switches
rates as the guest comes and goes.
"""

from __future__ import annotations

from fractions import Fraction

import simpy

from ..params import POLICIES, Rate, Time
from .base import Policy, PolicyConfig
from .limiter import JobMeter, RateLimitFractional
from .quiet import QuietDetector
from .rate_limit import resolve_rate

__all__ = ["HybridPolicy", "HybridConfig"]


class HybridConfig(PolicyConfig):
    busy_speed: Rate = Fraction(1, 10)
    window: Time = 50_000_000


@POLICIES.register("hybrid")
class HybridPolicy(Policy):
    """No delay when quiet; the limiter's delay (cut short by quiet) when active."""

    Config = HybridConfig

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        self.meter = JobMeter(RateLimitFractional(resolve_rate(cfg.busy_speed, ctx.disk.read_bw)))
        self.quiet = QuietDetector(ctx.env, ctx.guest, cfg.window)

    def on_copy(self, nbytes: int, cow: bool) -> None:
        self.meter.copied(nbytes)

    def before_cluster(self) -> int | simpy.Event:
        env = self.ctx.env
        if self.quiet.quiet():
            self.meter.forget()  # copies made while the guest was quiet are not charged
            return 0
        delay = self.meter.next_delay(env.now)
        if delay == 0:
            return 0
        return env.any_of([env.timeout(delay), self.quiet.event()])
