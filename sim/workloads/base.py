"""What every guest workload shares: its request stream and its records.

A guest issues requests through :meth:`sim.block.BlockLayer.submit_guest` and
records each completion (submit and completion time, operation, size, time
spent in copy-before-write, error) in flat lists that the metrics turn into
tables.  Which requests it issues comes only from its ``workload`` stream and
the order it issues them, never from timing, so a run with a backup and its
baseline issue the same requests (MODEL.md section 2).

To add a workload: subclass :class:`WorkloadConfig` with ``kind`` a
``Literal`` of its name, subclass :class:`Guest` with ``Config`` set and
``start`` / ``_completed`` overridden, and add it to ``REGISTRY`` in
``sim/workloads/__init__.py``.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import simpy
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .. import units
from ..request import READ, WRITE, GUEST, Request
from ..rng import Draws

if TYPE_CHECKING:
    from ..block import BlockLayer

__all__ = ["WorkloadConfig", "Guest", "RequestStream"]


def _duration(value):
    if value == "backup":
        return value
    return units.parse_time(value)


class WorkloadConfig(BaseModel):
    """Fields every synthetic guest has: its mix, block size and how long it runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str
    rw: Literal["read", "write", "randread", "randwrite", "randrw", "rw"] = "randrw"
    rwmixread: int = Field(70, ge=0, le=100)
    bs: Annotated[int, BeforeValidator(units.parse_size), Field(ge=512)] = 4096
    duration: Annotated[Literal["backup"] | int, BeforeValidator(_duration)] = "backup"


class RequestStream:
    """The fio-like sequence of (operation, offset): random or sequential, with a read mix."""

    def __init__(self, cfg: WorkloadConfig, disk_size: int, draws: Draws):
        self.draws = draws
        self.bs = cfg.bs
        self.nblocks = disk_size // cfg.bs
        self.random = cfg.rw.startswith("rand")
        if cfg.rw in ("read", "randread"):
            self.read_share = 1.0
        elif cfg.rw in ("write", "randwrite"):
            self.read_share = 0.0
        else:
            self.read_share = cfg.rwmixread / 100
        self.next_block = 0

    def next(self) -> tuple[int, int]:
        share = self.read_share
        if share == 1.0:
            op = READ
        elif share == 0.0:
            op = WRITE
        else:
            op = READ if self.draws.random() < share else WRITE
        if self.random:
            block = self.draws.integers(self.nblocks)
        else:
            block = self.next_block
            self.next_block = (block + 1) % self.nblocks
        return op, block * self.bs


class Guest:
    """Base guest: issues requests, records completions, stops on request."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[WorkloadConfig]] = WorkloadConfig

    def __init__(self, env: simpy.Environment, cfg: WorkloadConfig, blk: "BlockLayer",
                 disk_size: int, draws: Draws):
        self.env = env
        self.cfg = cfg
        self.blk = blk
        self.draws = draws
        self.stream = RequestStream(cfg, disk_size, draws)
        self.stopped = False
        self.issued = 0
        # flat typed arrays (8 bytes a value, not a Python object each)
        self.t_submit = array("q")
        self.t_done = array("q")
        self.op = array("b")
        self.nbytes = array("q")
        self.cow_ns = array("q")
        self.error = array("b")
        self.offset = array("q")
        self.index = array("q")

    def start(self) -> None:
        """Begin issuing at the current time (and stop after ``duration`` if it is a time)."""
        if isinstance(self.cfg.duration, int):
            self.env.timeout(self.cfg.duration).callbacks.append(lambda _ev: self.stop())

    def stop(self) -> None:
        """Issue nothing more; requests in flight still complete."""
        self.stopped = True

    def issue(self) -> None:
        """Draw the next request and hand it to the block layer now."""
        op, offset = self.stream.next()
        req = Request(op, offset, self.stream.bs, GUEST, self.issued)
        self.issued += 1
        self.blk.submit_guest(req, self._record)

    def _record(self, req: Request) -> None:
        self.t_submit.append(req.t_submit)
        self.t_done.append(req.t_done)
        self.op.append(req.op)
        self.nbytes.append(req.nbytes)
        self.cow_ns.append(req.cow_ns)
        self.error.append(req.error)
        self.offset.append(req.offset)
        self.index.append(req.index)
        self._completed(req)

    def _completed(self, req: Request) -> None:
        """Hook for closed-loop guests: a request completed."""
