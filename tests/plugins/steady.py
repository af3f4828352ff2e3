"""A user's policy outside the package, for the plug-in tests: copy at a share of the source's read rate.

Named in a scenario as ``policy.name = "steady:Steady"`` with this folder on
``sys.path`` (``PYTHONPATH``); validated and run exactly as a built-in policy.
"""

from __future__ import annotations

from fractions import Fraction

from sim.params import Percent, Time
from sim.policies.base import Policy, PolicyConfig
from sim.policies.limiter import RateLimitFractional


class SteadyConfig(PolicyConfig):
    """``share`` of ``disk.read_bw``; nothing copied before ``start_after`` (guest writes still copy)."""

    share: Percent = Fraction(1, 10)
    start_after: Time = 0


class Steady(Policy):
    """A fixed share of the source's read rate through QEMU's fractional limiter, charged per cluster."""

    Config = SteadyConfig
    gates_copied = False

    def start(self) -> None:
        self.t0 = self.ctx.env.now
        self.limit = RateLimitFractional(int(self.ctx.disk.read_bw * self.cfg.share))
        self.pending = 0  # bytes copied since the last call, charged as QEMU charges them

    def before_cluster(self) -> int:
        now = self.ctx.env.now
        if now < self.t0 + self.cfg.start_after:
            return self.t0 + self.cfg.start_after - now
        wait, self.pending = self.limit.delay(now, self.pending), 0
        return wait

    def on_copy(self, nbytes: int, cow: bool) -> None:
        self.pending += nbytes
