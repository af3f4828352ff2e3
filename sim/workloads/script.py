"""``script``: a guest that issues exactly the listed requests at the listed times.

For exact traces and the defining-behaviour tests of policies: each entry of
``requests`` is ``[time, op, offset, size]`` with ``op`` ``"r"`` (read),
``"w"`` (write), ``"d"`` (discard) or ``"z"`` (write-zeroes), or the names
``"read"``, ``"write"``, ``"discard"``, ``"write-zeroes"``; times and sizes in
the usual units (``["1ms", "w", "64KiB", "4KiB"]``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from ..params import WORKLOADS, units
from ..request import DISCARD, GUEST, READ, WRITE, WRITE_ZEROES, Request
from .base import Guest, WorkloadConfig

__all__ = ["ScriptGuest", "ScriptConfig"]


#: An entry's op, by its letter or name.
_OPS = {
    "r": READ,
    "read": READ,
    "w": WRITE,
    "write": WRITE,
    "d": DISCARD,
    "discard": DISCARD,
    "z": WRITE_ZEROES,
    "write-zeroes": WRITE_ZEROES,
}
_LETTER = {READ: "r", WRITE: "w", DISCARD: "d", WRITE_ZEROES: "z"}


def _entries(value):
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of [time, op, offset, size] entries")
    out = []
    for i, e in enumerate(value):
        if not isinstance(e, (list, tuple)) or len(e) != 4:
            raise ValueError(f"expected entry {i} to be [time, op, offset, size]")
        t, op, off, size = e
        if not isinstance(op, str) or op not in _OPS:
            raise ValueError(f"expected entry {i}'s op to be 'r', 'w', 'd' or 'z'")
        size = units.parse_size(size)
        if size <= 0:
            raise ValueError(f"expected entry {i}'s size to be positive")
        out.append((units.parse_time(t), _LETTER[_OPS[op]], units.parse_size(off), size))
    return tuple(sorted(out, key=lambda e: e[0]))


class ScriptConfig(WorkloadConfig):
    requests: Annotated[tuple[tuple[int, str, int, int], ...], BeforeValidator(_entries)] = ()


@WORKLOADS.register("script")
class ScriptGuest(Guest):
    """Issues each scripted request at its time, whatever happens to the others."""

    Config = ScriptConfig
    cfg: ScriptConfig

    def start(self) -> None:
        super().start()
        now = self.env.now
        if not self.cfg.requests:
            self._exhaust()
        for i, (t, op, offset, size) in enumerate(self.cfg.requests):
            self.env.call_in(max(0, t - now), self._submit, (i, op, offset, size))

    def _submit(self, item) -> None:
        if self.stopped:
            return
        i, op, offset, size = item
        req = Request(_OPS[op], offset, size, GUEST, i)
        self.issued += 1
        if self.issued == len(self.cfg.requests):
            self._exhaust()
        self.blk.submit_guest(req, self._record)
