"""``poisson``: an open-loop guest with exponential inter-arrival times.

Requests arrive at rate ``iops`` whatever the disk does (an M/·/· arrival
stream), which is what the queueing checks (M/M/1, M/D/1, Little's law) need.
"""

from __future__ import annotations

from pydantic import Field

from ..params import WORKLOADS
from .base import Guest, WorkloadConfig

__all__ = ["PoissonGuest", "PoissonConfig"]


class PoissonConfig(WorkloadConfig):
    iops: float = Field(1000.0, gt=0)


@WORKLOADS.register("poisson")
class PoissonGuest(Guest):
    """Arrivals at rate ``iops``, each a request from the fio-like stream."""

    Config = PoissonConfig
    cfg: PoissonConfig

    def start(self) -> None:
        super().start()
        self._mean_ns = 1e9 / self.cfg.iops
        self._schedule()

    def _schedule(self) -> None:
        gap = int(self.draws.exponential() * self._mean_ns)
        self.env.call_in(gap, self._arrive)

    def _arrive(self, _arg=None) -> None:
        if self.stopped:
            return
        self.issue()
        self._schedule()
