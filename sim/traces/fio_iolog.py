"""fio I/O logs, versions 2 and 3 (``write_iolog`` / ``read_iolog``; fio's HOWTO "Trace file format").

The first line names the version.  **Version 2**::

    fio version 2 iolog
    /dev/vdb add
    /dev/vdb open
    /dev/vdb write 1048576 4096
    /dev/vdb wait 250 0
    /dev/vdb read 8192 4096
    /dev/vdb close

File lines are ``FILE add|open|close``; I/O lines are ``FILE ACTION OFFSET
LENGTH`` with ACTION ``read|write|sync|datasync|trim|wait``, offset and length
in bytes.  v2 lines carry no time: ``wait`` advances the log's clock by OFFSET
microseconds (HOWTO: "Wait for offset microseconds ... relative to the previous
wait statement"; fio itself dropped waits under 100 us, replay keeps them), so
a log without waits has every request at time 0 (replay it closed-loop).

**Version 3** (fio 3.30 and later) puts a timestamp first::

    fio version 3 iolog
    0 /dev/vdb add
    2 /dev/vdb open
    878 /dev/vdb write 1048576 16384

The timestamp is in **microseconds** since the start of the run: fio's
``iolog.c`` writes it with ``utime_since_now(&td->io_log_start_time)`` and, on
replay, compares timestamp differences with ``utime_since_now`` (the HOWTO
says only "relative to the beginning of the run").  v3 has no ``wait``
(fio ignores one; so does this parser).

The device of a record is the FILE name.  ``read``/``write``/``trim`` lines
become records (a ``trim`` is a discard, :data:`sim.request.DISCARD`: fio
issues it as ``DDIR_TRIM``, a discard of the range); ``sync`` and
``datasync`` (no data, no range in this model), file lines, zero-length
requests and blank lines are skipped.  v1 logs (no
header) and any malformed line are a :class:`~sim.traces.record.TraceError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..params import FORMATS
from ..request import DISCARD, READ, WRITE
from .record import TraceError, TraceRecord, uint

__all__ = ["parse", "SUMMARY", "HEADERS"]

SUMMARY = "fio iolog v2/v3: 'fio version N iolog' then '[timestamp_us] FILE ACTION [OFFSET LENGTH]' (v2 'wait' in us)"
HEADERS = {"fio version 2 iolog": 2, "fio version 3 iolog": 3}
_FILE_ACTIONS = ("add", "open", "close")
_IO_ACTIONS = {"read": READ, "write": WRITE, "sync": None, "datasync": None, "trim": DISCARD, "wait": None}


@FORMATS.register("fio-iolog")
def parse(path: str | os.PathLike) -> Iterator[TraceRecord]:
    """The read, write and trim requests of a fio iolog (v2 or v3), one at a time."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
        version = HEADERS.get(first.strip())
        if version is None:
            raise TraceError(path, 1, "the header 'fio version 2 iolog' or 'fio version 3 iolog'", first)
        lines = _v2(path, f) if version == 2 else _v3(path, f)
        yield from lines


def _v2(path, f) -> Iterator[TraceRecord]:
    t_ns = 0
    for n, line in enumerate(f, 2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 2:
            if parts[1] not in _FILE_ACTIONS:
                raise TraceError(path, n, "'FILE add|open|close'", line)
            continue
        if len(parts) != 4 or parts[1] not in _IO_ACTIONS:
            raise TraceError(
                path, n, "'FILE add|open|close' or 'FILE read|write|sync|datasync|trim|wait OFFSET LENGTH'", line
            )
        name, action, off, size = parts
        try:
            offset, nbytes = uint(off), uint(size)
        except ValueError:
            raise TraceError(path, n, "OFFSET and LENGTH as non-negative integers", line) from None
        if action == "wait":
            t_ns += offset * 1000
            continue
        op = _IO_ACTIONS[action]
        if op is not None and nbytes:
            yield TraceRecord(t_ns, name, op, offset, nbytes, n)


def _v3(path, f) -> Iterator[TraceRecord]:
    for n, line in enumerate(f, 2):
        parts = line.split()
        if not parts:
            continue
        try:
            t_ns = uint(parts[0]) * 1000
        except ValueError:
            raise TraceError(path, n, "a timestamp in microseconds first", line) from None
        if len(parts) == 3:
            if parts[2] not in _FILE_ACTIONS:
                raise TraceError(path, n, "'TIMESTAMP FILE add|open|close'", line)
            continue
        if len(parts) != 5 or parts[2] not in _IO_ACTIONS:
            raise TraceError(
                path,
                n,
                "'TIMESTAMP FILE add|open|close' or 'TIMESTAMP FILE read|write|sync|datasync|trim OFFSET LENGTH'",
                line,
            )
        _, name, action, off, size = parts
        try:
            offset, nbytes = uint(off), uint(size)
        except ValueError:
            raise TraceError(path, n, "OFFSET and LENGTH as non-negative integers", line) from None
        op = _IO_ACTIONS[action]
        if op is not None and nbytes:
            yield TraceRecord(t_ns, name, op, offset, nbytes, n)
