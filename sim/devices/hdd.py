"""A hard disk with a seek curve and rotational latency.

Ruemmler and Wilkes ("An introduction to disk drive modeling", IEEE Computer
27(3), 1994) show that constant or linear seek models are inaccurate: seek time
grows with the square root of the distance for short seeks and linearly for
long ones.  This model uses one square-root curve from the track-to-track
seek ``seek_track`` (a distance of one byte) to the full-stroke seek
``seek_full`` (a distance of ``span`` bytes, the stretch of the platter a full
stroke covers), so the average over uniformly random seeks is
``seek_track + 8/15 (seek_full - seek_track)``.  A request that does not start
where the previous one ended also waits for the platter: a rotational latency
drawn uniformly from one revolution (``60 s / rpm``; 4.17 ms on average at
7200 rpm).  A request that continues the previous one pays neither, so the
backup's sequential reads interleaved with random guest I/O pay seeks.  The
base costs of the linear model still apply on top (controller overhead).
"""

from __future__ import annotations

import math

from ..params import DEVICES
from ..request import Request
from .config import SeekConfig
from .device import Device

__all__ = ["SeekingDisk", "seek_time"]


def seek_time(distance: int, span: int, track: int, full: int) -> int:
    """Seek time in ns over ``distance`` bytes (0 for no move)."""
    if distance <= 0:
        return 0
    frac = min(1.0, distance / span)
    return int(track + (full - track) * math.sqrt(frac))


@DEVICES.register("seek")
class SeekingDisk(Device):
    """:class:`Device` whose random requests pay a seek and a rotational latency."""

    Config = SeekConfig
    cfg: SeekConfig

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cfg = self.cfg
        self.revolution = 60_000_000_000 // cfg.rpm
        self.head = 0

    def service(self, req: Request, sequential: bool) -> int:
        base = super().service(req, sequential)
        cfg = self.cfg
        distance = abs(req.offset - self.head)
        self.head = req.offset + req.nbytes
        if distance == 0:
            return base
        key = req.key if self._random else self.draw_key(req)  # service() keyed it when it drew
        rot = int(self.draws[req.origin].uniform("rotation", key) * self.revolution)
        return base + seek_time(distance, cfg.span, cfg.seek_track, cfg.seek_full) + rot
