"""``slow-start``: a user's pacing policy that lives outside the backupsim package.

The idea is TCP's slow start (Jacobson, "Congestion Avoidance and Control",
SIGCOMM 1988; RFC 5681): begin cautiously and double the sending rate every
round trip until a threshold.  Here the backup's background copy begins at a
rate limit of ``speed`` and the limit doubles every ``period``; once it
reaches the source disk's sequential read rate (``disk.read_bw``), beyond
which a limit no longer limits, the job runs unlimited.  A guest that was
hurt by the first seconds of a full-speed backup is spared them, and the
backup still ends at full speed.

The limit is applied as QEMU applies a block job's speed: before each
cluster the job sleeps what QEMU's fractional rate limiter
(``include/qemu/ratelimit.h`` since 2018, :mod:`sim.policies.limiter`) says
for every byte copied since the previous cluster, background copies and
copy-before-writes alike.  Guest-triggered copies use up quota but are never
delayed.

A scenario names this policy by reference, with this folder on the Python
path (run from this folder, or with ``PYTHONPATH=examples``)::

    [base.policy]
    name = "slow_start:SlowStartPolicy"
    speed = "1%"
    period = "100ms"

Parameters: ``speed`` (the first limit: bytes/s such as ``"4MiB/s"``, or a
percent of ``disk.read_bw``; default 1 %), ``period`` (time between
doublings; default 1 s).  ``speed = 0`` means unlimited from the start.
"""

from __future__ import annotations

from fractions import Fraction

from pydantic import Field

from sim.params import Rate, Time
from sim.policies.base import Policy, PolicyConfig
from sim.policies.limiter import JobMeter, RateLimitFractional
from sim.policies.rate_limit import resolve_rate

__all__ = ["SlowStartConfig", "SlowStartPolicy"]


class SlowStartConfig(PolicyConfig):
    """The policy's parameters, validated like a built-in policy's.

    ``name`` is inherited (a plain ``str``): the registry fills it with the
    name the scenario used, ``"slow_start:SlowStartPolicy"``.
    """

    speed: Rate = Fraction(1, 100)
    period: Time = Field(1_000_000_000, gt=0)


class SlowStartPolicy(Policy):
    """A rate limit that starts at ``speed`` and doubles every ``period`` until unlimited."""

    Config = SlowStartConfig
    #: A policy written since 2013: jump to the next uncopied cluster instead of
    #: sleeping before clusters copy-before-write already copied.
    gates_copied = False

    def __init__(self, cfg: SlowStartConfig, ctx):
        super().__init__(cfg, ctx)
        self.full = ctx.disk.read_bw  # a limit at or above this does not limit
        self.rate = resolve_rate(cfg.speed, self.full)  # bytes/s; 0 = unlimited
        if self.rate >= self.full:
            self.rate = 0
        self.meter = JobMeter(RateLimitFractional(self.rate))
        self.stopped = False
        self.history: list[tuple[int, int]] = []  # (time ns, limit bytes/s) at each change

    def start(self) -> None:
        """The job starts: note the first limit and arm the first doubling."""
        self.history.append((self.ctx.env.now, self.rate))
        if self.rate:
            self.ctx.env.timeout(self.cfg.period).callbacks.append(self._double)

    def stop(self) -> None:
        """The job has ended: the pending doubling does nothing."""
        self.stopped = True

    def _double(self, _event) -> None:
        if self.stopped:
            return
        self.rate *= 2
        if self.rate >= self.full:
            self.rate = 0  # unlimited from now on: no more doublings
        self.meter.limiter.set_speed(self.rate)
        self.history.append((self.ctx.env.now, self.rate))
        if self.rate:
            self.ctx.env.timeout(self.cfg.period).callbacks.append(self._double)

    def on_copy(self, nbytes: int, cow: bool) -> None:
        """Every copy uses up quota, copy-before-write included."""
        self.meter.copied(nbytes)

    def before_cluster(self) -> int:
        """Sleep what the limiter says for the bytes copied since the last cluster (0: go on)."""
        return self.meter.next_delay(self.ctx.env.now)
