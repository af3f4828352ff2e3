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
``start`` / ``_completed`` overridden, and register it in
:data:`sim.params.WORKLOADS` (``@WORKLOADS.register("name")``; a built-in
guest also goes into the list of modules ``sim/workloads/__init__.py``
imports).  A guest that does not use the common stream (a trace, a mix of
streams) rejects its keys with :func:`reject_stream_keys`.  The configuration
classes of the guests compiled into the kernel are in
:mod:`sim.workloads.config` (that module says why).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, ClassVar

from mypy_extensions import mypyc_attr

from ..clock import Environment
from ..params import ConfigError
from ..recording import GuestStats, Recording, RequestLog
from ..request import DISCARD, GUEST, READ, WRITE, WRITE_ZEROES, Request
from ..rng import Draws
from .config import STREAM_KEYS, WorkloadConfig, reject_stream_keys, stream_region, workload_config

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
    "workload_config",
]


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


@mypyc_attr(allow_interpreted_subclasses=True)
class Guest:
    """Base guest: issues requests, records completions, stops on request.

    Compiled (a regular install, ``docs/kernel.md``) this is a native
    class that interpreted guests, built-in or plug-in, may still subclass.
    """

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
        self._record_call = self._record  # each request's completion, bound once (not per request)

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
        self.blk.submit_guest(req, self._record_call)

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
