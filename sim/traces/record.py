"""What every trace parser yields, and the error it raises on a malformed line.

A parser is a generator over one file: it opens the file, reads it one line at
a time and yields one :class:`TraceRecord` per I/O request, so a trace larger
than memory replays in constant memory.  It skips what is not an I/O request
(headers, file management, syncs, summary lines) and raises
:class:`TraceError` naming the file and line at the first line it cannot read.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from ..params import ConfigError

__all__ = ["TraceRecord", "TraceError", "uint", "GOT_MAX"]

GOT_MAX = 80  # characters of an offending line quoted in an error message


class TraceRecord(NamedTuple):
    """One request of a trace: arrival time, volume, operation, byte offset and length.

    ``t_ns`` is the trace's own clock in integer nanoseconds (absolute or
    relative, as the format has it); ``op`` is :data:`sim.request.READ`,
    :data:`sim.request.WRITE`, :data:`sim.request.DISCARD` or
    :data:`sim.request.WRITE_ZEROES`; ``line`` is the 1-based line of the file the
    record came from (for error messages), not part of the request.
    """

    t_ns: int
    device: str
    op: int
    offset: int
    nbytes: int
    line: int = 0


class TraceError(ConfigError):
    """A trace file that does not match its format: names the file, the line and what was expected.

    ``str(err)`` is ``"{path}:{line}: expected {expected}, got '{got}'"``.  It is
    a :class:`sim.config.ConfigError` (bad input: the command line reports it
    with exit status 2) whose key is ``workload.path``.
    """

    def __init__(self, path: str | os.PathLike, line: int, expected: str, got: str):
        got = got.rstrip("\r\n")
        if len(got) > GOT_MAX:
            got = got[: GOT_MAX - 3] + "..."
        super().__init__("workload.path", os.fspath(path), expected)
        self.path = os.fspath(path)
        self.line = line
        self.got = got
        self.args = (f"{self.path}:{line}: expected {expected}, got {got!r}",)

    def __str__(self) -> str:
        return self.args[0]

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.path, self.line, self.expected, self.got))


def uint(text: str) -> int:
    """A non-negative decimal integer, or ``ValueError``."""
    if not text.isascii() or not text.isdigit():
        raise ValueError(text)
    return int(text)
