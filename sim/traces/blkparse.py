"""Linux ``blkparse`` default text output (blktrace; header format in ``blkparse_fmt.c``).

Each event line starts with blkparse's default header ``%D %2c %8s %5T.%9t %5p %2a %3d``
(device ``major,minor``, CPU, sequence number, time ``seconds.nanoseconds``
since the trace started, PID, action, RWBS flags), followed for I/O events by
``sector + nsectors [command]``::

    8,32   7        1     0.000000000  2923  Q   R 272208 + 2 [direct_io_read_]

is a read of 2 sectors (1 KiB) at sector 272208 (byte 139370496) of device
``8,32``, queued at time 0.

Replay uses only **Q** (queued: the request as the application issued it)
events as arrivals.  The other events of the same request are not used:
G/I/D (get request, insert, issue to the driver) describe the traced
kernel's own queueing, and **C** (complete) its device's latency; the replay
measures the simulated block layer and disk instead, so D and C lines are
checked for shape and otherwise skipped (an extension that wanted the traced
latency would pair D and C by sector here).  RWBS containing ``D`` is a
discard (also ``DE``, a secure erase), else containing ``W`` a write, else
containing ``R`` a read: blkparse's ``fill_rwbs`` (``blkparse_fmt.c``) writes
``D`` for a discard in place of ``W``, and the kernel's ``blk_fill_rwbs``
``D`` for ``REQ_OP_DISCARD``.  Other Q events (``N``, no data) and Q events
without a sector range (an empty flush such as ``FWS``) are skipped.  Blank
lines, message events (action ``m``) and the summary blkparse prints at the
end (from the first ``CPU0 (8,32):`` or ``Total (...)`` line on) are skipped.
Any other line is a :class:`~sim.traces.record.TraceError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from ..params import FORMATS
from ..request import DISCARD, READ, WRITE
from .record import TraceError, TraceRecord, uint

__all__ = ["parse", "SUMMARY", "SECTOR"]

SUMMARY = "blkparse text: 'maj,min cpu seq secs.nsecs pid Q rwbs sector + nsect [comm]' (Q events)"
SECTOR = 512
_DEV = re.compile(r"^\d+,\d+$")
_TRAILER = re.compile(r"^(CPU\d+|Total)\s*\(")
_EXPECTED = "an event 'maj,min cpu seq secs.nsecs pid action rwbs ...' or blkparse's summary"


def _time_ns(text: str) -> int:
    sec, dot, frac = text.partition(".")
    if not dot or len(frac) > 9:
        raise ValueError(text)
    return uint(sec) * 1_000_000_000 + uint(frac.ljust(9, "0"))


@FORMATS.register("blkparse")
def parse(path: str | os.PathLike) -> Iterator[TraceRecord]:
    """The queued (Q) requests of a blkparse text trace, one at a time."""
    trailer = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if trailer:
                continue
            parts = line.split()
            if not parts:
                continue
            if not _DEV.match(parts[0]):
                if _TRAILER.match(line):
                    trailer = True
                    continue
                raise TraceError(path, n, _EXPECTED, line)
            if len(parts) < 7:
                raise TraceError(path, n, _EXPECTED, line)
            try:
                uint(parts[1]), uint(parts[2]), uint(parts[4])
                t_ns = _time_ns(parts[3])
            except ValueError:
                raise TraceError(
                    path, n, _EXPECTED + " with integer cpu, seq, pid and a seconds.nanoseconds time", line
                ) from None
            if parts[5] != "Q":
                continue
            rwbs = parts[6]
            if "D" in rwbs:
                op = DISCARD
            elif "W" in rwbs:
                op = WRITE
            elif "R" in rwbs:
                op = READ
            else:
                continue
            if len(parts) < 8 or parts[7].startswith("["):
                continue  # no sector range: an empty flush
            if len(parts) < 10 or parts[8] != "+":
                raise TraceError(path, n, "'sector + nsectors' after the RWBS of a Q event", line)
            try:
                sector, nsect = uint(parts[7]), uint(parts[9])
            except ValueError:
                raise TraceError(path, n, "'sector + nsectors' as integers in a Q event", line) from None
            if nsect:
                yield TraceRecord(t_ns, parts[0], op, sector * SECTOR, nsect * SECTOR, n)
