"""``bursty``: an open-loop on/off guest (an interrupted Poisson process).

During an ON period requests arrive as a Poisson stream at rate ``iops``;
during an OFF period the guest is silent.  ON and OFF lengths are independent
draws with means ``on_mean`` and ``off_mean`` from ``period_dist``:
``exponential`` (a Markov-modulated source) or ``pareto`` with shape
``pareto_shape`` (> 1; heavy-tailed, the classic model of self-similar
traffic: a shape below 2 has infinite variance, so some bursts and silences
are very long).  The guest starts with an ON period.  The long-run rate is
``iops * on_mean / (on_mean + off_mean)``.

Every draw (periods, gaps, the requests themselves) comes from the guest's own
``workload`` stream, so a run and its baseline see the same bursts.  To add a
period distribution, extend :func:`draw_period` and ``period_dist``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import Environment
from ..params import WORKLOADS
from ..rng import Draws
from .base import Guest
from .config import BurstyConfig

if TYPE_CHECKING:
    from ..block import BlockLayer

__all__ = ["BurstyGuest", "BurstyConfig", "draw_period"]


def draw_period(draws: Draws, mean_ns: int, dist: str, shape: float = 1.5) -> int:
    """One ON or OFF length in ns (at least 1) with mean ``mean_ns``.

    ``pareto``: scale ``x_m = mean * (shape - 1) / shape``, drawn by inversion
    as ``x_m / U ** (1 / shape)`` with ``U`` uniform on (0, 1].
    """
    if dist == "exponential":
        x = draws.exponential() * mean_ns
    else:
        xm = mean_ns * (shape - 1.0) / shape
        x = xm / (1.0 - draws.random()) ** (1.0 / shape)
    return max(1, int(x))


class BurstyGuest(Guest):
    """Poisson arrivals at ``iops`` in ON periods, none in OFF periods."""

    Config = BurstyConfig

    def __init__(self, env: Environment, cfg: BurstyConfig, blk: BlockLayer, disk_size: int, draws: Draws) -> None:
        super().__init__(env, cfg, blk, disk_size, draws)
        # its own keys (``cfg`` stays typed as every guest's: a compiled class may not narrow it)
        self.on_mean: int = cfg.on_mean
        self.off_mean: int = cfg.off_mean
        self.period_dist: str = cfg.period_dist
        self.pareto_shape: float = cfg.pareto_shape
        self.on_count = self.off_count = 0  # periods begun
        self.on_ns = self.off_ns = 0  # their drawn lengths, summed
        self._on_end = 0
        self._mean_ns = 1e9 / cfg.iops
        self._arrive_call = self._arrive  # each arrival's agenda callback, bound once

    def start(self) -> None:
        super().start()
        self._begin_on()

    def _period(self, mean_ns: int) -> int:
        return draw_period(self.draws, mean_ns, self.period_dist, self.pareto_shape)

    def _begin_on(self, _arg=None) -> None:
        if self.stopped:
            return
        length = self._period(self.on_mean)
        self.on_count += 1
        self.on_ns += length
        self._on_end = self.env.now + length
        self._next()

    def _next(self) -> None:
        gap = int(self.draws.exponential() * self._mean_ns)
        now = self.env.now
        if now + gap < self._on_end:
            self.env.call_in(gap, self._arrive_call)
        else:  # memoryless: the gap that crosses the end of ON is dropped
            self.env.call_in(self._on_end - now, self._begin_off)

    def _arrive(self, _arg=None) -> None:
        if self.stopped:
            return
        self.issue()
        self._next()

    def _begin_off(self, _arg=None) -> None:
        if self.stopped:
            return
        length = self._period(self.off_mean)
        self.off_count += 1
        self.off_ns += length
        self.env.call_in(length, self._begin_on)


# registered after the class, not by a decorator, so that compiled (docs/kernel.md) it stays a native class
WORKLOADS.register("bursty")(BurstyGuest)
