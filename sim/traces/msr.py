"""MSR Cambridge block traces (Narayanan et al., FAST 2008; SNIA IOTTA 388).

Comma-separated, one request per line, no header::

    Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime

- ``Timestamp``: Windows FILETIME, 100 ns units since 1601 (replay subtracts the first);
- ``Hostname``, ``DiskNumber``: the volume, reported as device ``f"{Hostname}_{DiskNumber}"``;
- ``Type``: ``Read`` or ``Write`` (any case);
- ``Offset``, ``Size``: bytes;
- ``ResponseTime``: the traced latency in 100 ns units (checked, not used: the
  replay measures the simulated disk's own latency).

Example::

    128166372003061629,hm,0,Write,7014912,4096,26

is a 4 KiB write at byte 7014912 of device ``hm_0``.  Blank lines are
skipped, and so is a first line starting with ``Timestamp`` (a header some
copies add); zero-byte requests carry no data and are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..params import FORMATS
from ..request import READ, WRITE
from .record import TraceError, TraceRecord, uint

__all__ = ["parse", "SUMMARY", "FILETIME_NS"]

SUMMARY = "MSR Cambridge CSV: 'Timestamp(100ns),Hostname,DiskNumber,Read|Write,Offset,Size,ResponseTime'"
FILETIME_NS = 100
_EXPECTED = "7 comma-separated fields 'Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime'"
_OPS = {"read": READ, "write": WRITE}


@FORMATS.register("msr")
def parse(path: str | os.PathLike) -> Iterator[TraceRecord]:
    """The requests of an MSR Cambridge CSV trace, one at a time."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            text = line.strip()
            if not text or (n == 1 and text.lower().startswith("timestamp")):
                continue
            parts = text.split(",")
            if len(parts) != 7:
                raise TraceError(path, n, _EXPECTED, line)
            ts, host, disk, kind, off, size, resp = (p.strip() for p in parts)
            op = _OPS.get(kind.lower())
            if op is None:
                raise TraceError(path, n, "Type 'Read' or 'Write' in field 4", line)
            if not host:
                raise TraceError(path, n, "a Hostname in field 2", line)
            try:
                t, d, offset, nbytes = uint(ts), uint(disk), uint(off), uint(size)
                uint(resp)
            except ValueError:
                raise TraceError(
                    path,
                    n,
                    _EXPECTED + " with non-negative integers in Timestamp, DiskNumber, Offset, Size, ResponseTime",
                    line,
                ) from None
            if nbytes:
                yield TraceRecord(t * FILETIME_NS, f"{host}_{d}", op, offset, nbytes, n)
