"""``rate-limit``: QEMU's block-job speed limit, the reviewer's answer.

Stefan Hajnoczi in the seed thread (25 Feb 2013): "QEMU block jobs support
rate-limiting.  Set it to 10-20% of the disk's throughput and the slowness
should go away but the backup takes longer."  The merged job
(block/backup.c @98d2c6f2cd) calls ``ratelimit_calculate_delay(&limit,
bytes_read)`` before each cluster, with every byte read since the previous
call (background copies *and* copy-before-write, so guest-triggered copies use
up quota but are never delayed), then sleeps the delay.

Parameters: ``speed`` in bytes/s or as a percent of the source disk's
sequential read rate (``disk.read_bw``; 0 means unlimited); ``limiter``
``"fractional"`` (QEMU since 2018, default) or ``"2013"`` (see
:mod:`sim.policies.limiter`); ``schedule``: ``[[time, speed], ...]`` speed
changes at times after the backup starts, as ``block-job-set-speed`` does (the
new speed applies from the next delay computation; a sleeping job is not
woken, as QEMU's ``job_enter_cond(..., job_timer_not_pending)``).

On the block-copy modes (QEMU 6.0+, commit 7e032df0ea) the
limiter lives in block-copy: a task's bytes are charged when the task is
created (copy-before-write tasks too, which are never delayed), and before a
background task ``ratelimit_calculate_delay(limit, 0)`` decides whether it
must wait; the wait is a wakeable sleep that a speed change ends
(``block_copy_kick``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

import simpy
from pydantic import BeforeValidator, Field

from ..params import POLICIES, Rate, check_speed, units
from .base import Policy, PolicyConfig
from .limiter import JobMeter, make_limiter

__all__ = ["RateLimitPolicy", "RateLimitConfig", "resolve_rate"]


def resolve_rate(rate: int | Fraction, read_bw: int) -> int:
    """Bytes/s from an absolute rate or a fraction of ``read_bw``."""
    if isinstance(rate, Fraction):
        return int(rate * read_bw)
    return int(rate)


def _expected(err: ValueError) -> str:
    return str(err).removeprefix("expected ").rsplit(", got ", 1)[0]


def _schedule(value):
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of [time, speed] pairs")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(f"expected entry {i} to be [time, speed]")
        try:
            t = units.parse_time(item[0])
        except ValueError as e:
            raise ValueError(f"expected entry {i}'s time to be {_expected(e)}") from None
        try:
            speed = check_speed(units.parse_rate(item[1]))
        except ValueError as e:
            raise ValueError(f"expected entry {i}'s speed to be {_expected(e)}") from None
        out.append((t, speed))
    return tuple(sorted(out, key=lambda e: e[0]))


class RateLimitConfig(PolicyConfig):
    speed: Rate = Fraction(1, 10)
    limiter: Literal["fractional", "2013"] = "fractional"
    schedule: Annotated[tuple[tuple[int, int | Fraction], ...], BeforeValidator(_schedule)] = Field(default=())


@POLICIES.register("rate-limit")
class RateLimitPolicy(Policy):
    """Sleep what QEMU's limiter says for the bytes copied since the last cluster."""

    Config = RateLimitConfig
    cfg: RateLimitConfig
    gates_copied = True

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        self.meter = JobMeter(make_limiter(cfg.limiter, resolve_rate(cfg.speed, ctx.disk.read_bw)))
        self._stopped = False
        self._kick: simpy.Event | None = None  # fired by a speed change (block-copy's wakeable sleep)

    def start(self) -> None:
        env = self.ctx.env
        for t, speed in self.cfg.schedule:
            ev = env.timeout(t, speed)
            ev.callbacks.append(self._set_speed)

    def stop(self) -> None:
        self._stopped = True

    def _set_speed(self, event) -> None:
        if not self._stopped:
            self.meter.limiter.set_speed(resolve_rate(event.value, self.ctx.disk.read_bw))
            if self._kick is not None:
                kick, self._kick = self._kick, None
                kick.succeed()

    def on_copy(self, nbytes: int, cow: bool) -> None:
        if self.ctx.job.charges_on_create:
            self.meter.limiter.delay(self.ctx.env.now, nbytes)  # charged now; the delay is not waited
        else:
            self.meter.copied(nbytes)

    def before_cluster(self) -> int | simpy.Event:
        env = self.ctx.env
        if not self.ctx.job.charges_on_create:
            return self.meter.next_delay(env.now)
        delay = self.meter.limiter.delay(env.now, 0)
        if not delay:
            return 0
        if self._kick is None:
            self._kick = env.event()
        return env.any_of([env.timeout(delay), self._kick])
