"""Block I/O trace files: one streaming parser per format, and their checks.

:data:`sim.params.FORMATS` maps a ``workload.format`` name to its parser, a generator
``parse(path)`` that reads the file one line at a time and yields
:class:`TraceRecord` ``(t_ns, device, op, offset, nbytes, line)`` in file order,
so a trace larger than memory replays in constant memory.  Each format's
module docstring gives its exact line format with an example.

:func:`validate_trace` reads a whole file once and raises :class:`TraceError`
at the first malformed line; the configuration layer calls it so that a bad
trace is rejected before any run starts.  :func:`place` maps a record onto a
disk of a given size (``beyond_disk`` = ``wrap`` or ``reject``).

To add a format: write ``sim/traces/<name>.py`` with a ``parse(path)``
generator (raising :class:`TraceError` with the 1-based line number),
registered with ``@FORMATS.register("<name>")``, and a one-line ``SUMMARY``;
import it below; add a fixture and its tests to ``tests/test_traces.py``.  A
format outside the package is named by ``module:function``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Callable, Iterator

from ..params import FORMATS
from ..request import DISCARD, READ
from .record import TraceError, TraceRecord

for _module in ("mqsim", "msr", "blkparse", "fio_iolog"):  # registered in this order, as `backupsim list` shows them
    importlib.import_module(f".{_module}", __name__)

__all__ = [
    "FORMATS",
    "summary",
    "TraceRecord",
    "TraceError",
    "TraceStats",
    "open_trace",
    "validate_trace",
    "place",
    "ALIGN",
]

Parser = Callable[[str | os.PathLike], Iterator[TraceRecord]]


def summary(name: str) -> str:
    """The one-line description of trace format ``name`` (its module's ``SUMMARY``)."""
    fn = FORMATS.get(name)
    return getattr(sys.modules.get(fn.__module__), "SUMMARY", "") or (fn.__doc__ or "").strip().splitlines()[0]


ALIGN = 512  # a wrapped offset is aligned down to this many bytes
MAX_DEVICES = 10_000  # distinct device names counted by validate_trace (bounded memory)


def open_trace(path: str | os.PathLike, format: str) -> Iterator[TraceRecord]:
    """The records of ``path`` read as ``format``, streamed (nothing is read until iterated)."""
    return FORMATS.get(format, "workload.format")(path)


def place(rec: TraceRecord, disk_size: int, beyond_disk: str, path: str | os.PathLike) -> int:
    """The offset at which ``rec`` lands on a disk of ``disk_size`` bytes.

    A request inside the disk keeps its offset.  Otherwise ``beyond_disk``
    decides: ``"reject"`` raises :class:`TraceError` naming the line;
    ``"wrap"`` takes the offset modulo the disk size, aligned down to
    :data:`ALIGN` bytes, and if the request would then straddle the end of the
    disk moves it back so that it ends at the end (its size is kept, so the
    bytes a replay moves are the trace's).  A request larger than the disk is
    an error either way.
    """
    offset, nbytes = rec.offset, rec.nbytes
    if offset + nbytes <= disk_size:
        return offset
    if nbytes > disk_size:
        raise TraceError(
            path, rec.line, f"a request of at most the disk's {disk_size} bytes", f"{nbytes} bytes at offset {offset}"
        )
    if beyond_disk == "reject":
        raise TraceError(
            path,
            rec.line,
            f'a request inside the disk\'s {disk_size} bytes (or workload.beyond_disk = "wrap")',
            f"{nbytes} bytes at offset {offset}",
        )
    offset = offset % disk_size // ALIGN * ALIGN
    if offset + nbytes > disk_size:
        offset = (disk_size - nbytes) // ALIGN * ALIGN
    return offset


@dataclasses.dataclass
class TraceStats:
    """What :func:`validate_trace` saw: the selected records, and every device's count.

    ``t0`` is the time of the file's first record (the replay clock's origin);
    ``first_ns`` / ``last_ns`` bound the selected records' times (trace clock);
    ``out_of_order`` counts selected records earlier than one before them;
    ``discards`` counts the discards among the records, ``writes`` the writes
    (and write-zeroes).
    """

    records: int = 0
    reads: int = 0
    writes: int = 0
    discards: int = 0
    bytes: int = 0
    t0: int | None = None
    first_ns: int | None = None
    last_ns: int | None = None
    out_of_order: int = 0
    devices: dict[str, int] = dataclasses.field(default_factory=dict)
    devices_truncated: bool = False

    @property
    def span_ns(self) -> int:
        """Time from the first to the last selected record (0 for none or one)."""
        if self.first_ns is None or self.last_ns is None:
            return 0
        return self.last_ns - self.first_ns


def validate_trace(
    path: str | os.PathLike,
    format: str,
    device: str = "all",
    start: int = 0,
    disk_size: int | None = None,
    beyond_disk: str = "wrap",
) -> TraceStats:
    """Read the whole trace once; raise :class:`TraceError` at its first malformed line.

    Counts the records of ``device`` (or all, for ``"all"``) that arrive
    ``start`` ns or more after the file's first record.  With ``disk_size``,
    each selected record is also placed on the disk (:func:`place`), so
    ``beyond_disk="reject"`` fails on the first request beyond the disk.
    Memory stays bounded whatever the file's size.
    """
    st = TraceStats()
    devices = st.devices
    prev = None
    for rec in open_trace(path, format):
        if st.t0 is None:
            st.t0 = rec.t_ns
        n = devices.get(rec.device)
        if n is not None:
            devices[rec.device] = n + 1
        elif len(devices) < MAX_DEVICES:
            devices[rec.device] = 1
        else:
            st.devices_truncated = True
        if (device != "all" and rec.device != device) or rec.t_ns - st.t0 < start:
            continue
        if disk_size is not None:
            place(rec, disk_size, beyond_disk, path)
        st.records += 1
        if rec.op == READ:
            st.reads += 1
        elif rec.op == DISCARD:
            st.discards += 1
        else:
            st.writes += 1
        st.bytes += rec.nbytes
        t = rec.t_ns
        if st.first_ns is None:
            st.first_ns = st.last_ns = t
        if prev is not None and t < prev:
            st.out_of_order += 1
        prev = t
        st.first_ns = min(st.first_ns, t)
        st.last_ns = max(st.last_ns if st.last_ns is not None else t, t)
    return st
