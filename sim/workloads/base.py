"""What every guest workload shares: its request stream and its records.

A guest issues requests through :meth:`sim.block.BlockLayer.submit_guest` and
hands each completion to its :class:`sim.recording.GuestStats` (``stats``):
counts, latency histograms and a timeline, in memory that does not grow with
the run; with ``run.keep_requests`` also one row per request (submit and
completion time, operation, size, time spent in copy-before-write, error),
which ``sim.metrics.guest_frame`` turns into a table.  Which requests it
issues comes only from its ``workload`` stream and the order it issues them,
never from timing, so a run with a backup and its baseline issue the same
requests (``docs/model.md`` section 2).

The common request stream (:class:`RequestStream`) is fio-like: random or
sequential blocks of ``bs`` bytes over a region of the disk (``offset``,
``size``; the whole disk by default), with a read share.  ``rw = "trim"`` /
``"randtrim"`` issue only discards, as fio's; ``trim_fraction`` and
``write_zeroes_fraction`` issue that share of the write ops as discards and
write-zeroes instead (fio has no such mix: a guest's file system discards
freed blocks and zeroes new ones among its writes).  QEMU copies before all
three (``block/copy-before-write.c``: ``cbw_co_pwritev``,
``cbw_co_pwrite_zeroes``, ``cbw_co_pdiscard``).  Random offsets are
uniform, or with ``offset_dist = "zipf"`` skewed toward hot spots: the region
is cut into ``zipf_regions`` equal parts, part *k* (from the region's start)
is chosen with probability proportional to ``1 / (k+1) ** zipf_theta`` and the
block inside it uniformly.  Skewed writes rewrite clusters the backup has
already copied, so copy-before-write fires less often than under uniform
writes.

To add a workload: subclass :class:`WorkloadConfig` with ``kind`` a
``Literal`` of its name, subclass :class:`Guest` with ``Config`` set and
``start`` / ``_completed`` overridden, and add it to ``REGISTRY`` in
``sim/workloads/__init__.py``.  A guest that does not use the common stream
(a trace, a mix of streams) rejects its keys with :func:`reject_stream_keys`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from ..clock import Environment
from ..params import WORKLOADS, ConfigError, Section, units
from ..recording import GuestStats, Recording, RequestLog
from ..request import DISCARD, GUEST, READ, WRITE, WRITE_ZEROES, Request
from ..rng import Draws

if TYPE_CHECKING:
    from ..block import BlockLayer

__all__ = [
    "WorkloadConfig",
    "Guest",
    "RequestStream",
    "ZipfRegions",
    "STREAM_KEYS",
    "reject_stream_keys",
    "stream_region",
]


def _duration(value):
    if value == "backup":
        return value
    return units.parse_time(value)


def _size_or_none(value):
    return None if value is None else units.parse_size(value)


class WorkloadConfig(Section):
    """Fields every synthetic guest has: its mix, block size, region, offsets and how long it runs.

    ``offset`` / ``size`` bound the region the stream covers (``size`` unset:
    to the end of the disk; a sequential stream starts at ``offset`` and wraps
    back to it, as fio does).  ``offset_dist`` is ``uniform`` or ``zipf``
    (random streams only; see the module docstring).

    ``rw`` ``"trim"`` / ``"randtrim"`` issue only discards (sequential or
    random), as fio's.  ``trim_fraction`` and ``write_zeroes_fraction`` (each
    0-1, at most 1 together, default 0) turn that share of the write ops into
    discards and write-zeroes: each write op then takes one more uniform draw
    of the ``workload`` stream (none when both are 0, nor when one is 1); they
    change nothing when ``rw`` issues no writes.
    """

    kind: str = ""
    rw: Literal["read", "write", "randread", "randwrite", "randrw", "rw", "trim", "randtrim"] = "randrw"
    rwmixread: int = Field(70, ge=0, le=100)
    trim_fraction: float = Field(0.0, ge=0.0, le=1.0)
    write_zeroes_fraction: float = Field(0.0, ge=0.0, le=1.0)
    bs: Annotated[int, BeforeValidator(units.parse_size), Field(ge=512)] = 4096
    duration: Annotated[Literal["backup"] | int, BeforeValidator(_duration)] = "backup"
    offset: Annotated[int, BeforeValidator(units.parse_size), Field(ge=0)] = 0
    size: Annotated[Annotated[int, Field(gt=0)] | None, BeforeValidator(_size_or_none)] = None
    offset_dist: Literal["uniform", "zipf"] = "uniform"
    zipf_theta: float = Field(0.99, ge=0.0, le=10.0)
    zipf_regions: int = Field(100, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _check_stream(self) -> WorkloadConfig:
        if self.offset_dist == "zipf" and not self.rw.startswith("rand"):
            raise ConfigError(
                "offset_dist", self.offset_dist, f"'uniform' with a sequential rw ({self.rw!r}); zipf needs a random rw"
            )
        if self.size is not None and self.size < self.bs:
            raise ConfigError("size", self.size, f"at least bs ({units.format_size(self.bs)})")
        if self.trim_fraction + self.write_zeroes_fraction > 1.0:
            raise ConfigError(
                "write_zeroes_fraction",
                self.write_zeroes_fraction,
                f"at most 1 - trim_fraction ({1.0 - self.trim_fraction:g}): both are shares of the write ops",
            )
        return self

    def check_disk(self, disk_size: int) -> None:
        """Raise :class:`~sim.config.ConfigError` (key relative to ``workload``) if this
        workload does not fit a disk of ``disk_size`` bytes.  Meant for the
        configuration's cross-section check, which knows ``backup.disk_size``."""
        stream_region(self, disk_size)


STREAM_KEYS = (
    "rw",
    "rwmixread",
    "trim_fraction",
    "write_zeroes_fraction",
    "bs",
    "offset",
    "size",
    "offset_dist",
    "zipf_theta",
    "zipf_regions",
)


def reject_stream_keys(cfg: WorkloadConfig, kind: str) -> None:
    """Raise if ``cfg`` sets a common-stream key to other than its default (the guest ignores them)."""
    for name in STREAM_KEYS:
        value = getattr(cfg, name)
        if value != type(cfg).model_fields[name].default:
            raise ConfigError(name, value, f"no value: a '{kind}' workload does not use it")


def stream_region(cfg: WorkloadConfig, disk_size: int) -> tuple[int, int]:
    """``(offset, size)`` of the region a stream covers on a disk of ``disk_size`` bytes."""
    span = cfg.size if cfg.size is not None else disk_size - cfg.offset
    if cfg.offset + span > disk_size or span < cfg.bs:
        raise ConfigError(
            "offset",
            cfg.offset,
            f"a region (offset + size, of at least bs) inside the disk ({units.format_size(disk_size)})",
        )
    return cfg.offset, span


class ZipfRegions:
    """Zipf-skewed blocks: region *k* of ``regions`` near-equal regions with weight ``1/(k+1)**theta``.

    Region *k* covers blocks ``[k*n//r, (k+1)*n//r)`` (``r`` is ``regions``,
    at most ``n``, the number of blocks); the block inside is uniform.  Two
    uniform draws per block.
    """

    def __init__(self, nblocks: int, regions: int, theta: float):
        r = max(1, min(regions, nblocks))
        weights = [1.0 / (k + 1) ** theta for k in range(r)]
        total = math.fsum(weights)
        self.cdf = [c / total for c in accumulate(weights)]
        self.cdf[-1] = 1.0
        self.bounds = [k * nblocks // r for k in range(r + 1)]
        self.regions = r

    def probability(self, k: int) -> float:
        """The probability of region ``k``."""
        return self.cdf[k] - (self.cdf[k - 1] if k else 0.0)

    def block(self, draws: Draws) -> int:
        k = bisect_right(self.cdf, draws.random())
        if k >= self.regions:
            k = self.regions - 1
        lo = self.bounds[k]
        return lo + draws.integers(self.bounds[k + 1] - lo)


class RequestStream:
    """The fio-like sequence of (operation, offset): random or sequential, with a read mix.

    A write op becomes a discard or a write-zeroes with probabilities
    ``trim_fraction`` and ``write_zeroes_fraction`` (one uniform draw, taken
    only when it can change the answer, so the default stream draws what it
    always drew).
    """

    def __init__(self, cfg: WorkloadConfig, disk_size: int, draws: Draws):
        self.draws = draws
        self.bs = cfg.bs
        try:
            self.base, span = stream_region(cfg, disk_size)
        except ConfigError as e:  # relative to the workload section
            raise ConfigError("workload." + e.key, e.value, e.expected) from None
        self.nblocks = span // cfg.bs
        self.random = cfg.rw.startswith("rand")
        self.zipf = (
            ZipfRegions(self.nblocks, cfg.zipf_regions, cfg.zipf_theta)
            if (self.random and cfg.offset_dist == "zipf")
            else None
        )
        if cfg.rw in ("read", "randread"):
            self.read_share = 1.0
        elif cfg.rw in ("write", "randwrite", "trim", "randtrim"):
            self.read_share = 0.0
        else:
            self.read_share = cfg.rwmixread / 100
        if cfg.rw in ("trim", "randtrim"):
            self.discard_share, self.zeroes_share = 1.0, 0.0  # fio's trim: every op a discard
        else:
            self.discard_share, self.zeroes_share = cfg.trim_fraction, cfg.write_zeroes_fraction
        self.split = self.discard_share + self.zeroes_share > 0.0  # some write ops are not writes
        self.next_block = 0

    def next(self) -> tuple[int, int]:
        share = self.read_share
        if share == 1.0:
            op = READ
        elif share == 0.0:
            op = WRITE
        else:
            op = READ if self.draws.random() < share else WRITE
        if op == WRITE and self.split:
            op = self._write_kind()
        if self.random:
            zipf = self.zipf
            if zipf is None:
                block = self.draws.integers(self.nblocks)
            else:
                block = zipf.block(self.draws)
        else:
            block = self.next_block
            self.next_block = (block + 1) % self.nblocks
        return op, self.base + block * self.bs

    def _write_kind(self) -> int:
        """A write op's kind: a write, a discard or a write-zeroes (a draw only when it is not certain)."""
        if self.discard_share == 1.0:
            return DISCARD
        if self.zeroes_share == 1.0:
            return WRITE_ZEROES
        u = self.draws.random()
        if u < self.discard_share:
            return DISCARD
        if u < self.discard_share + self.zeroes_share:
            return WRITE_ZEROES
        return WRITE


class Guest:
    """Base guest: issues requests, records completions, stops on request."""

    kind: ClassVar[str] = ""
    Config: ClassVar[type[WorkloadConfig]] = WorkloadConfig
    #: Its requests have a due time (``req.t_due``): the schedule latency is recorded too.
    paced: ClassVar[bool] = False

    def __init__(self, env: Environment, cfg: WorkloadConfig, blk: BlockLayer, disk_size: int, draws: Draws):
        self.env = env
        self.cfg = cfg
        self.blk = blk
        self.draws = draws
        self.stream = RequestStream(cfg, disk_size, draws)
        self.stopped = False
        self.exhausted = env.event()  # fires when a finite guest has issued its last request
        self.issued = 0
        # settle(): requests submitted before _horizon still to complete, and what to call then
        self._horizon = -1
        self._left = 0
        self._on_settled: Callable[[], object] | None = None
        # what it records (sim.workloads.make_guest gives it the model's window and settings)
        self.stats: GuestStats = Recording().guest_stats(self.paced)

    @property
    def completed(self) -> int:
        """Requests completed so far."""
        return self.stats.completed

    @property
    def requests(self) -> RequestLog | None:
        """The per-request log (``run.keep_requests``), or None."""
        return self.stats.log

    def _exhaust(self) -> None:
        """A finite guest (a trace, a script) has nothing more to issue."""
        if not self.exhausted.triggered:
            self.exhausted.succeed()

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
        self.stats.record(req)
        if req.t_submit < self._horizon:
            self._settle_one()
        self._completed(req)

    def settle(self, done: Callable[[], object]) -> None:
        """Call ``done()`` once every request submitted before now has completed (at once if none is in flight).

        Call it at the very start of an instant (``env.call_first``), before
        anything is issued at it.  The guest goes on issuing meanwhile: a
        baseline run ends only when the requests of its window are all counted,
        whatever it issues after the window (:class:`sim.model.Model`).
        """
        left = self.issued - self.completed
        if left <= 0:
            done()
            return
        self._horizon = self.env.now
        self._left = left
        self._on_settled = done

    def _settle_one(self) -> None:
        self._left -= 1
        if self._left == 0:
            self._horizon = -1
            done, self._on_settled = self._on_settled, None
            if done is not None:
                done()

    def _completed(self, req: Request) -> None:
        """Hook for closed-loop guests: a request completed."""


DEFAULT = "fio"


def workload_config(data: Any) -> WorkloadConfig:
    """Validate a ``workload`` table against the config class of its ``kind`` (:data:`sim.params.WORKLOADS`)."""
    return WORKLOADS.section(data, DEFAULT, WorkloadConfig)
