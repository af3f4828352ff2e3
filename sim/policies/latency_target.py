"""``latency-target``: hold the guest's latency near a target, AIMD on the backup.

blk-iolatency (``block/blk-iolatency.c``, ``io.latency target=``) applied to the
backup job: every ``window`` (default ``clamp(16 * target, 100 ms, 1 s)`` as
blk-iolatency) compare the guest's latency over the window with ``target`` —
the p90 on SSDs (a miss when 10% or more of the I/Os took at least the target)
and the mean on HDDs, as blk-iolatency does (``stat = "auto"`` picks by the
source disk: one slot means a rotating disk).  On a miss the backup's allowed
depth is halved; at depth 1 its rate is halved instead (blk-iolatency induces
delay once depth is 1), never below ``floor`` (bytes/s or percent of the
source's read rate), so the backup never starves.  On success the rate rises
additively by 1/16 of the source's read rate per window (``nr_requests >> 4``
in blk-iolatency) until unlimited, then depth rises by one up to ``max_depth``.
Windows with fewer than 5 guest I/Os change nothing (blk-iolatency needs 5
good samples before scaling up).  The job starts at depth 1, as the patch's
job copies, and probes upwards.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

import numpy as np
from pydantic import Field

from ..params import POLICIES, Rate, Time
from .base import Policy, PolicyConfig
from .limiter import JobMeter, RateLimitFractional
from .rate_limit import resolve_rate

__all__ = ["LatencyTargetPolicy", "LatencyTargetConfig"]

MIN_SAMPLES = 5


class LatencyTargetConfig(PolicyConfig):
    target: Time = 2_000_000
    window: Time | None = None
    stat: Literal["auto", "p90", "mean"] = "auto"
    max_depth: int = Field(4, ge=1, le=1024)
    floor: Rate = Fraction(1, 100)


@POLICIES.register("latency-target")
class LatencyTargetPolicy(Policy):
    """Additive increase, multiplicative decrease of depth, then rate, against a latency target."""

    Config = LatencyTargetConfig
    cfg: LatencyTargetConfig

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        self.window = cfg.window or min(max(16 * cfg.target, 100_000_000), 1_000_000_000)
        self.stat = cfg.stat if cfg.stat != "auto" else ("mean" if ctx.disk.queue_depth == 1 else "p90")
        self.full_rate = ctx.disk.read_bw
        self.floor = max(1, resolve_rate(cfg.floor, ctx.disk.read_bw))
        self.step = max(1, self.full_rate // 16)
        self.cur_depth = 1  # start as the patch does, then probe upwards
        self.rate = 0  # 0: unlimited
        self.meter = JobMeter(RateLimitFractional(0))
        self.log: list[int] = []
        self._stopped = False
        self.history: list[tuple[int, int, int, bool]] = []  # (time, depth, rate, missed)

    def start(self) -> None:
        self.ctx.guest.latency_log = self.log
        self.ctx.env.timeout(self.window).callbacks.append(self._tick)

    def stop(self) -> None:
        self._stopped = True
        self.ctx.guest.latency_log = None

    def _tick(self, _ev) -> None:
        if self._stopped:
            return
        lat = np.asarray(self.log, dtype=np.int64)
        self.log.clear()
        if lat.size >= MIN_SAMPLES:
            if self.stat == "mean":
                missed = bool(lat.mean() > self.cfg.target)
            else:
                missed = bool((lat >= self.cfg.target).mean() >= 0.10)
            if missed:
                if self.cur_depth > 1:
                    self.cur_depth = max(1, self.cur_depth // 2)
                else:
                    base = self.rate or self.full_rate
                    self.rate = max(self.floor, base // 2)
            elif self.rate:
                self.rate += self.step
                if self.rate >= self.full_rate:
                    self.rate = 0
            else:
                self.cur_depth = min(self.cfg.max_depth, self.cur_depth + 1)
            self.meter.limiter.set_speed(self.rate)
            self.history.append((self.ctx.env.now, self.cur_depth, self.rate, missed))
        self.ctx.env.timeout(self.window).callbacks.append(self._tick)

    def on_copy(self, nbytes: int, cow: bool) -> None:
        self.meter.copied(nbytes)

    def before_cluster(self) -> int:
        return self.meter.next_delay(self.ctx.env.now)

    def depth(self) -> int:
        return self.cur_depth
