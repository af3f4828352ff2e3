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

The head is where the last request to start service ended (``head``), whoever
issued it, so on one disk the guest's I/O and the backup's share it.  A local
backup to the same disk (``backup.target_on_source``) writes its target in a
region after the source's bytes, from offset ``disk_size`` on; its reads and
writes then alternate between the two regions and each pays a seek of about
``disk_size`` (image layout: ``disk_size - cluster_size`` from a read to its
write, ``disk_size`` back to the next read) and a rotational latency, where a
copy to a separate disk streams.  ``span`` is the stroke of the whole platter:
a distance beyond it costs a full stroke (it is clamped), so for such a run
``span`` should cover both regions (at least twice ``disk_size`` for an image
target).  A discard or write-zeroes moves the head like a write of its range
(the drive is taken to write the zeroes, or to update its map, there).
"""

from __future__ import annotations

import math

from ..params import DEVICES
from ..request import Request
from .config import SeekConfig
from .device import Device

__all__ = ["SeekingDisk", "seek_time"]


def seek_time(distance: int, span: int, track: int, full: int) -> int:
    """Seek time in ns over ``distance`` bytes (0 for no move; a full stroke from ``span`` bytes on)."""
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
