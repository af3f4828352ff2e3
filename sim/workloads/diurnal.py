"""``diurnal``: an open-loop guest whose Poisson rate follows a sine curve.

The arrival rate at time ``t`` after the guest starts is
``iops * (1 + amplitude * sin(2 * pi * t / period))``: mean ``iops``, peak
``iops * (1 + amplitude)`` a quarter period in, trough at three quarters.
Arrivals are generated exactly by thinning (Lewis and Shedler 1979): candidate
arrivals at the peak rate, each kept with probability ``rate(t) / peak``.
Set ``period`` to the run's scale (the default is a day) to compress a day's
load cycle into a simulated run.  Draws come from the guest's own stream only.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BeforeValidator, Field

from ..params import WORKLOADS, units
from .base import Guest, WorkloadConfig

__all__ = ["DiurnalGuest", "DiurnalConfig"]


class DiurnalConfig(WorkloadConfig):
    iops: float = Field(1000.0, gt=0)
    amplitude: float = Field(0.5, ge=0.0, le=1.0)
    period: Annotated[int, BeforeValidator(units.parse_time), Field(gt=0)] = 24 * 3600 * 10**9


@WORKLOADS.register("diurnal")
class DiurnalGuest(Guest):
    """Poisson arrivals with a sinusoidal rate, by thinning a peak-rate stream."""

    Config = DiurnalConfig
    cfg: DiurnalConfig

    def rate(self, t_ns: int) -> float:
        """The arrival rate (per second) ``t_ns`` after the guest started."""
        cfg = self.cfg
        return cfg.iops * (1.0 + cfg.amplitude * math.sin(2.0 * math.pi * t_ns / cfg.period))

    def start(self) -> None:
        super().start()
        self._t_start = self.env.now
        self._peak = self.cfg.iops * (1.0 + self.cfg.amplitude)
        self._mean_ns = 1e9 / self._peak
        self._schedule()

    def _schedule(self) -> None:
        gap = int(self.draws.exponential() * self._mean_ns)
        self.env.call_in(gap, self._candidate)

    def _candidate(self, _arg=None) -> None:
        if self.stopped:
            return
        if self.draws.random() * self._peak < self.rate(self.env.now - self._t_start):
            self.issue()
        self._schedule()
