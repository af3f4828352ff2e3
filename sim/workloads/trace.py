"""``trace``: a guest that replays a block I/O trace file (``sim.traces`` formats).

Keys: ``path`` and ``format`` (``mqsim``, ``msr``, ``blkparse``, ``fio-iolog``)
name the file; ``device`` picks one volume of the trace (its id as the trace
writes it: ``"4"``, ``"hm_0"``, ``"8,32"``, ``"/dev/vdb"``) or ``"all"``
(default) folds every volume onto the one simulated disk.  ``start`` skips the
trace's first ``start`` of time (measured from the file's first record).

``replay = "open"`` (default) submits each request at its trace time: the
replay clock starts when the guest starts, at the file's first record plus
``start``, and inter-arrival times are multiplied by ``time_scale`` (0.5
replays twice as fast).  A record earlier than the one before it is submitted
at once.  ``replay = "closed"`` keeps the trace's order but ignores its times:
``iodepth`` requests in flight, each completion followed by the next record.

Trace volumes are usually larger than the simulated disk.  ``beyond_disk``
decides for a request that does not fit (:func:`sim.traces.place`):
``"wrap"`` (default) takes its offset modulo the disk size, aligned down to
512 bytes (moved back if it would straddle the end; its size is kept);
``"reject"`` stops the run with a :class:`~sim.traces.TraceError` naming the
line.  ``loop = true`` starts over at the end of the trace: in an open
replay each pass is shifted by the previous pass's replay time of its last
request plus its mean inter-arrival gap; in a closed replay the passes simply
follow each other.  The file is read one record ahead of the replay,
never whole.

The configuration check reads the file once (:func:`sim.traces.validate_trace`),
so a malformed line, an unknown device, or a selection with no request is a
configuration error naming ``workload.path`` / ``workload.device`` before any
run starts.  Whether the requests fit the disk depends on ``backup.disk_size``,
which this section does not see: :meth:`TraceConfig.check_disk` does that check
for the configuration's cross-section validation; without it a rejected
request stops the run when it is reached.  The result of that check is remembered per file (path, size,
modification time) so that sweeps do not re-read a large trace for every
configuration; the cache cannot change a result.  A relative ``path`` is
relative to the working directory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Generator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, model_validator

from ..params import FORMATS, WORKLOADS, ConfigError, Time, units
from ..request import GUEST, Request
from ..traces import TraceError, TraceRecord, TraceStats, open_trace, place, validate_trace
from .base import Guest, WorkloadConfig, reject_stream_keys

__all__ = ["TraceGuest", "TraceConfig"]


def _device(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _format(name: str) -> str:
    """A registered trace format (:data:`sim.params.FORMATS`), a plug-in's, or ``module:function``."""
    try:
        FORMATS.get(name)
    except ConfigError as e:
        raise ValueError(f"expected {e.expected}, got {name!r}") from None
    return name


class TraceConfig(WorkloadConfig):
    path: str = ""
    format: Annotated[str, AfterValidator(_format)] = "mqsim"
    device: Annotated[str, BeforeValidator(_device)] = "all"
    time_scale: float = Field(1.0, gt=0, le=1e6)
    start: Time = 0
    replay: Literal["open", "closed"] = "open"
    iodepth: int = Field(8, ge=1, le=65536)
    beyond_disk: Literal["wrap", "reject"] = "wrap"
    loop: StrictBool = False

    @model_validator(mode="after")
    def _check_trace(self) -> TraceConfig:
        reject_stream_keys(self, "trace")
        stats = trace_stats(self.path, self.format, self.device, self.start)
        if self.device != "all" and self.device not in stats.devices:
            names = sorted(stats.devices, key=lambda d: (len(d), d))
            seen = ", ".join(repr(d) for d in names[:20]) + (", ..." if len(names) > 20 else "")
            raise ConfigError("device", self.device, f"'all' or a device of the trace ({seen})")
        if stats.records == 0:
            raise ConfigError(
                "start" if self.start else "path",
                units.format_time(self.start) if self.start else self.path,
                "a trace selection with at least one read or write request",
            )
        if self.loop and self.replay == "open" and stats.span_ns == 0:
            raise ConfigError(
                "loop",
                self.loop,
                "false for a trace whose requests all arrive at one "
                "time (an open replay would loop without time passing); or replay 'closed'",
            )
        return self

    def check_disk(self, disk_size: int) -> None:
        """Read the trace as replayed on a disk of ``disk_size`` bytes: with ``beyond_disk =
        "reject"`` a request beyond the disk (and in any mode one larger than the disk) is a
        :class:`ConfigError` on ``path`` naming the line, before any run starts."""
        trace_stats(self.path, self.format, self.device, self.start, disk_size, self.beyond_disk)


def trace_stats(
    path: str, format: str, device: str = "all", start: int = 0, disk_size: int | None = None, beyond_disk: str = "wrap"
) -> TraceStats:
    """:func:`validate_trace` as a configuration check: errors become :class:`ConfigError` on ``path``."""
    if not path:
        raise ConfigError("path", path, "the path of a trace file")
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise ConfigError("path", path, f"an existing trace file (looked in {os.getcwd()})") from None
    if not p.is_file():
        raise ConfigError("path", path, "a trace file, not a directory")
    try:
        return _cached_stats(
            str(p.resolve()), st.st_size, st.st_mtime_ns, path, format, device, start, disk_size, beyond_disk
        )
    except TraceError as e:
        what = (
            f"a well-formed {format} trace"
            if disk_size is None
            else f"a {format} trace whose requests fit the {units.format_size(disk_size)} disk"
        )
        raise ConfigError("path", path, f"{what} ({e})") from None
    except OSError as e:
        raise ConfigError("path", path, f"a readable trace file ({e.strerror})") from None


@functools.lru_cache(maxsize=32)
def _cached_stats(
    resolved: str,
    size: int,
    mtime_ns: int,
    path: str,
    format: str,
    device: str,
    start: int,
    disk_size: int | None,
    beyond_disk: str,
) -> TraceStats:
    # keyed by the file's identity (path, size, modification time): a pure memo
    return validate_trace(path, format, device, start, disk_size, beyond_disk)


@WORKLOADS.register("trace")
class TraceGuest(Guest):
    """Replays a trace file's requests, open-loop at its times or closed-loop in its order."""

    Config = TraceConfig
    cfg: TraceConfig

    def __init__(self, env, cfg: TraceConfig, blk, disk_size: int, draws):
        super().__init__(env, cfg, blk, disk_size, draws)
        self.disk_size = disk_size
        self.finished = False  # the trace (without loop) has no more requests
        self.passes = 0  # passes over the file started
        self._records: Generator[tuple[int, TraceRecord], None, None] | None = None
        self._t_start = 0
        self._last_at = 0

    # -- reading ------------------------------------------------------------------

    def _selected(self) -> Generator[tuple[int, TraceRecord], None, None]:
        """(replay time in ns from the guest's start, record), pass after pass if ``loop``."""
        cfg = self.cfg
        device, start, scale = cfg.device, cfg.start, cfg.time_scale
        shift = 0
        while True:
            self.passes += 1
            t0 = first = None
            n = 0
            last = 0
            for rec in open_trace(cfg.path, cfg.format):
                if t0 is None:
                    t0 = rec.t_ns
                rel = rec.t_ns - t0 - start
                if rel < 0 or (device != "all" and rec.device != device):
                    continue
                at = rel if scale == 1.0 else round(rel * scale)
                if first is None:
                    first = at
                n += 1
                last = max(last, at)
                yield shift + at, rec
            if not cfg.loop or n == 0 or first is None:
                return
            period = last + (round((last - first) / (n - 1)) if n > 1 else 0)
            if cfg.replay == "open" and period <= 0:
                return
            shift += period

    def _pull(self) -> tuple[int, TraceRecord] | None:
        item = next(self._records, None) if self._records is not None else None
        if item is None:
            self.finished = True
            self._exhaust()
        return item

    # -- issuing ------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        self._t_start = self.env.now
        self._records = self._selected()
        if self.cfg.replay == "open":
            self._schedule()
        else:
            for _ in range(self.cfg.iodepth):
                if not self._issue_next():
                    break

    def stop(self) -> None:
        super().stop()
        if self._records is not None:
            self._records.close()  # closes the file

    def submit(self, rec: TraceRecord) -> None:
        """Hand one trace record to the block layer now (placed on the disk per ``beyond_disk``)."""
        offset = place(rec, self.disk_size, self.cfg.beyond_disk, self.cfg.path)
        req = Request(rec.op, offset, rec.nbytes, GUEST, self.issued)
        self.issued += 1
        self.blk.submit_guest(req, self._record_call)

    def _schedule(self) -> None:
        item = self._pull()
        if item is None:
            return
        at, rec = item
        at = max(at, self._last_at)  # out-of-order records go at once
        self._last_at = at
        delay = self._t_start + at - self.env.now
        self.env.call_in(max(0, delay), self._arrive, rec)

    def _arrive(self, rec) -> None:
        if self.stopped:
            return
        self.submit(rec)
        self._schedule()

    def _issue_next(self) -> bool:
        item = self._pull()
        if item is None:
            return False
        self.submit(item[1])
        return True

    def _completed(self, req: Request) -> None:
        if self.cfg.replay == "closed" and not self.stopped:
            self._issue_next()
