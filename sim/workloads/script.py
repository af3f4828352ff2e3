"""``script``: a guest that issues exactly the listed requests at the listed times.

For exact traces and the defining-behaviour tests of policies: each entry of
``requests`` is ``[time, op, offset, size]`` with ``op`` ``"r"`` or ``"w"``,
times and sizes in the usual units (``["1ms", "w", "64KiB", "4KiB"]``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from ..params import WORKLOADS, units
from ..request import GUEST, READ, WRITE, Request
from .base import Guest, WorkloadConfig

__all__ = ["ScriptGuest", "ScriptConfig"]


def _entries(value):
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of [time, op, offset, size] entries")
    out = []
    for i, e in enumerate(value):
        if not isinstance(e, (list, tuple)) or len(e) != 4:
            raise ValueError(f"expected entry {i} to be [time, op, offset, size]")
        t, op, off, size = e
        if op not in ("r", "w", "read", "write"):
            raise ValueError(f"expected entry {i}'s op to be 'r' or 'w'")
        size = units.parse_size(size)
        if size <= 0:
            raise ValueError(f"expected entry {i}'s size to be positive")
        out.append((units.parse_time(t), op[0], units.parse_size(off), size))
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
            ev = self.env.timeout(max(0, t - now), (i, op, offset, size))
            ev.callbacks.append(self._submit)

    def _submit(self, event) -> None:
        if self.stopped:
            return
        i, op, offset, size = event.value
        req = Request(READ if op == "r" else WRITE, offset, size, GUEST, i)
        self.issued += 1
        if self.issued == len(self.cfg.requests):
            self._exhaust()
        self.blk.submit_guest(req, self._record)
