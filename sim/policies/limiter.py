"""QEMU's rate limiter arithmetic (``include/qemu/ratelimit.h``), both versions.

A limiter with speed ``speed`` bytes/s and slice ``slice_ns`` (QEMU: 100 ms)
answers ``delay(n)``: how long the caller must wait after dispatching ``n``
more bytes.  Two versions:

* :class:`RateLimit2013`, as in QEMU 1.x when the backup job was merged (quota
  in 512-byte sectors, integer ``speed * slice / 1e9``): the first request of a
  slice always passes; a request that would exceed the slice's quota is charged
  to the *next* slice and waits until the current one ends.  When the next
  call comes in that new slice, the slice is reset and the carried charge
  forgotten, so it passes too: a quota smaller than one request lets *two*
  requests through per slice (the overshoot QEMU fixed in 2016-2018).
* :class:`RateLimitFractional`, QEMU since 2018 (commit b7728f3221, Wolfgang
  Bumiller; multi-slice delays since f14a39ccb9, 2016; speed 0 = unlimited since
  720507ed95, 2021): quota in bytes, at least 1; once the quota is reached the
  slice is stretched to ``dispatched / quota`` slices and the caller waits for
  its end.  With 64 KiB clusters this gives exactly one cluster per second at
  64 KiB/s and four at 256 KiB/s (QEMU iotests 185 and 219).

Both take the time from the caller, so they are plain arithmetic and tested
without SimPy.
"""

from __future__ import annotations

__all__ = ["RateLimit2013", "RateLimitFractional", "JobMeter", "make_limiter", "SLICE_NS"]

SLICE_NS = 100_000_000  # SLICE_TIME in block/backup.c: 100 ms


class RateLimitFractional:
    """``ratelimit_calculate_delay`` of QEMU 2018+ (bytes; fractional multi-slice)."""

    def __init__(self, speed: int, slice_ns: int = SLICE_NS):
        self.slice_start = 0
        self.slice_end = -1
        self.dispatched = 0
        self.set_speed(speed, slice_ns)

    def set_speed(self, speed: int, slice_ns: int = SLICE_NS) -> None:
        """``ratelimit_set_speed``: speed 0 means unlimited."""
        self.speed = speed
        self.slice_ns = slice_ns
        self.quota = 0 if speed == 0 else max(int(speed * slice_ns / 1e9), 1)

    def delay(self, now: int, n: int) -> int:
        if not self.quota:
            return 0
        if self.slice_end < now:
            self.slice_start = now
            self.slice_end = now + self.slice_ns
            self.dispatched = 0
        self.dispatched += n
        if self.dispatched < self.quota:
            return 0
        slices = self.dispatched / self.quota
        self.slice_end = self.slice_start + int(slices * self.slice_ns)
        return self.slice_end - now


class RateLimit2013:
    """``ratelimit_calculate_delay`` of QEMU 1.x (sectors; the excess waits for the next slice)."""

    SECTOR = 512

    def __init__(self, speed: int, slice_ns: int = SLICE_NS):
        self.next_slice = -1
        self.dispatched = 0
        self.set_speed(speed, slice_ns)

    def set_speed(self, speed: int, slice_ns: int = SLICE_NS) -> None:
        # backup_set_speed: ratelimit_set_speed(&s->limit, speed / BDRV_SECTOR_SIZE, SLICE_TIME)
        self.speed = speed
        self.slice_ns = slice_ns
        self.quota = (speed // self.SECTOR) * slice_ns // 1_000_000_000

    def delay(self, now: int, n: int) -> int:
        if self.speed == 0:
            return 0
        n = -(-n // self.SECTOR)
        if self.next_slice < now:
            self.next_slice = now + self.slice_ns
            self.dispatched = 0
        if self.dispatched == 0 or self.dispatched + n <= self.quota:
            self.dispatched += n
            return 0
        self.dispatched = n
        return self.next_slice - now


def make_limiter(version: str, speed: int):
    """A limiter of ``version`` ``"2013"`` or ``"fractional"``."""
    return RateLimit2013(speed) if version == "2013" else RateLimitFractional(speed)


class JobMeter:
    """How the backup job uses a limiter: charge what was copied since the last cluster.

    ``backup_run`` calls ``ratelimit_calculate_delay(&limit, bytes_read)`` before
    each cluster with every byte read since the previous call (background copies
    and copy-before-write alike) and then resets the count.
    """

    def __init__(self, limiter):
        self.limiter = limiter
        self.pending = 0

    def copied(self, nbytes: int) -> None:
        self.pending += nbytes

    def forget(self) -> None:
        """Charge nothing for what was copied since the last cluster."""
        self.pending = 0

    def next_delay(self, now: int) -> int:
        n, self.pending = self.pending, 0
        return self.limiter.delay(now, n)
