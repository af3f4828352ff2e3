"""``fio``: a closed-loop guest like fio with ``ioengine=libaio``.

It keeps ``iodepth`` requests in flight: each completion is followed, after
``think_time``, by the next request (fio's ``thinktime``).  ``rw``,
``rwmixread`` and ``bs`` mean what they mean to fio; sequential streams
continue where the previous request ended and wrap at the end of the disk.
"""

from __future__ import annotations

from pydantic import Field

from ..params import WORKLOADS, Time
from ..request import Request
from .base import Guest, WorkloadConfig

__all__ = ["FioGuest", "FioConfig"]


class FioConfig(WorkloadConfig):
    iodepth: int = Field(8, ge=1, le=65536)
    think_time: Time = 0


@WORKLOADS.register("fio")
class FioGuest(Guest):
    """``iodepth`` requests in flight, each replaced after ``think_time``."""

    Config = FioConfig
    cfg: FioConfig

    def start(self) -> None:
        super().start()
        for _ in range(self.cfg.iodepth):
            self.issue()

    def _completed(self, req: Request) -> None:
        if self.stopped:
            return
        think = self.cfg.think_time
        if think:
            self.env.call_in(think, self._after_think)
        else:
            self.issue()

    def _after_think(self, _arg=None) -> None:
        if not self.stopped:
            self.issue()
