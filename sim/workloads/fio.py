"""``fio``: a closed-loop guest like fio with ``ioengine=libaio``.

It keeps ``iodepth`` requests in flight: each completion is followed, after
``think_time``, by the next request (fio's ``thinktime``).  ``rw``,
``rwmixread`` and ``bs`` mean what they mean to fio; sequential streams
continue where the previous request ended and wrap at the end of the disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import Environment
from ..params import WORKLOADS
from ..request import Request
from ..rng import Draws
from .base import Guest
from .config import FioConfig

if TYPE_CHECKING:
    from ..block import BlockLayer

__all__ = ["FioGuest", "FioConfig"]


class FioGuest(Guest):
    """``iodepth`` requests in flight, each replaced after ``think_time``."""

    Config = FioConfig

    def __init__(self, env: Environment, cfg: FioConfig, blk: BlockLayer, disk_size: int, draws: Draws) -> None:
        super().__init__(env, cfg, blk, disk_size, draws)
        # its own keys (``cfg`` stays typed as every guest's: a compiled class may not narrow it)
        self.iodepth: int = cfg.iodepth
        self.think_time: int = cfg.think_time

    def start(self) -> None:
        super().start()
        for _ in range(self.iodepth):
            self.issue()

    def _completed(self, req: Request) -> None:
        if self.stopped:
            return
        think = self.think_time
        if think:
            self.env.call_in(think, self._after_think)
        else:
            self.issue()

    def _after_think(self, _arg=None) -> None:
        if not self.stopped:
            self.issue()


# registered after the class, not by a decorator, so that compiled (docs/kernel.md) it stays a native class
WORKLOADS.register("fio")(FioGuest)
