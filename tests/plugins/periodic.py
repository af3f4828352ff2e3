"""A user's workload outside the package (the sketch of docs/extending.md): one request every ``interval``."""

from pydantic import Field

from sim.params import Time
from sim.workloads.base import Guest, WorkloadConfig


class PeriodicConfig(WorkloadConfig):
    interval: Time = Field(1_000_000, gt=0)  # 1 ms


class PeriodicGuest(Guest):
    """One request of the common stream every ``interval``."""

    Config = PeriodicConfig

    def start(self) -> None:
        super().start()  # arms the stop after `duration` when it is a time
        self._tick(None)

    def _tick(self, _event) -> None:
        if self.stopped:
            return
        self.issue()  # draws the next request from the `workload` stream, submits it now
        self.env.timeout(self.cfg.interval).callbacks.append(self._tick)
