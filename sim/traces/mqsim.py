"""MQSim ASCII traces (CMU-SAFARI/MQSim, ``src/host/ASCII_Trace_Definition.h``).

One request per line, five fields separated by spaces or tabs::

    arrival_ns device_id lba_sectors size_sectors type

- ``arrival_ns``: arrival time in nanoseconds (absolute; replay subtracts the first);
- ``device_id``: the volume the request went to (kept as a string, ``"4"``);
- ``lba_sectors``, ``size_sectors``: offset and length in 512-byte sectors;
- ``type``: ``0`` = write, ``1`` = read.

Example (the first line of ``traces/tpcc-small.trace``)::

    938513000 4 264719034 16 0

is a write of 8 KiB at byte 135536145408 of device ``4`` at 938.513 ms.
Blank lines are skipped; a request of zero sectors carries no data and is
skipped too.  Any other line that does not have this shape is a
:class:`~sim.traces.record.TraceError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..params import FORMATS
from ..request import READ, WRITE
from .record import TraceError, TraceRecord, uint

__all__ = ["parse", "SUMMARY", "SECTOR"]

SUMMARY = "MQSim ASCII: 'arrival_ns device lba_sectors size_sectors type' (type 0 write, 1 read)"
SECTOR = 512
_EXPECTED = "5 fields 'arrival_ns device_id lba_sectors size_sectors type(0|1)'"
_OPS = {"0": WRITE, "1": READ}


@FORMATS.register("mqsim")
def parse(path: str | os.PathLike) -> Iterator[TraceRecord]:
    """The requests of an MQSim ASCII trace, one at a time."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5:
                raise TraceError(path, n, _EXPECTED, line)
            t, dev, lba, size, kind = parts
            op = _OPS.get(kind)
            if op is None:
                raise TraceError(path, n, "type 0 (write) or 1 (read) in field 5", line)
            try:
                t_ns, lba_s, size_s = uint(t), uint(lba), uint(size)
            except ValueError:
                raise TraceError(path, n, _EXPECTED + " with non-negative integers", line) from None
            if size_s:
                yield TraceRecord(t_ns, dev, op, lba_s * SECTOR, size_s * SECTOR, n)
