"""The content oracle: does the target hold the disk as it was when the backup started?

Every cluster carries a generation number, bumped by each guest write that
lands on the disk (at the write's device completion).  A backup read samples
the generations of its cluster when the device completes it; the target
records what was copied.  The backup is point-in-time consistent exactly when
every copied generation equals the generation at backup start.

A backup read that overlaps in time, on the device, a guest write of the same
cluster (either one submitted while the other is in flight) is *torn*: a
device may return the old data, the new, or a mix, so what it read is
undefined and the copy counts as inconsistent whatever generation it saw.
With the block layer's request serialization on, this cannot happen.

The backup is *complete* when every cluster is on the target or was skipped
as unallocated (``sync = "top"``); consistent says nothing about clusters
never copied, so a good backup needs both.

Generations live in flat arrays of 32-bit integers, one entry per cluster:
on the disk now, at backup start (a copy taken by :meth:`snapshot`) and on
the target, 12 bytes a cluster (192 MiB for a 1 TiB disk in 64 KiB clusters),
however many writes the run makes (a dict per written cluster cost about 100
bytes each).  Only the requests in flight (``writing``, ``reading``,
``torn``) are kept in dicts: they are bounded by the queue depths.
"""

from __future__ import annotations

from array import array

import numpy as np

from .bitmap import CopyBitmap

__all__ = ["ContentOracle", "NoOracle", "TORN"]

#: The generation a torn read reports: never a generation a cluster had.
TORN = -1


class ContentOracle:
    """Generations of ``n`` clusters on the disk, and of what the target received."""

    def __init__(self, n: int):
        self.n = n
        self.gen = array("i", [0]) * n  # generation on the disk now
        # allocated by snapshot(), when the backup starts (a run without backup does without)
        self.start_gen: array | None = None  # generation at backup start
        self._target: array | None = None  # generation copied (TORN: a torn read), where on_target
        self.on_target = CopyBitmap(n)
        self.inconsistent = 0  # clusters on the target whose generation is not the start one
        self.copied_twice = 0
        self.copied = 0
        self.writing: dict[int, int] = {}  # cluster -> guest writes in flight on the disk
        self.reading: dict[int, int] = {}  # cluster -> backup reads in flight on the disk
        self.torn: set[int] = set()  # clusters whose backup read in flight is torn
        self.torn_reads = 0

    def write_started(self, c0: int, c1: int) -> None:
        """A guest write to clusters ``c0 .. c1-1`` was submitted to the disk."""
        writing, reading = self.writing, self.reading
        for c in range(c0, c1):
            writing[c] = writing.get(c, 0) + 1
            if c in reading:
                self.torn.add(c)

    def write_landed(self, c0: int, c1: int) -> None:
        """A guest write to clusters ``c0 .. c1-1`` reached the disk."""
        gen, writing = self.gen, self.writing
        for c in range(c0, c1):
            gen[c] += 1
            n = writing.get(c, 0)
            if n > 1:
                writing[c] = n - 1
            elif n:
                del writing[c]

    def read_started(self, c0: int, c1: int) -> None:
        """A backup read of clusters ``c0 .. c1-1`` was submitted to the disk."""
        reading, writing = self.reading, self.writing
        for c in range(c0, c1):
            reading[c] = reading.get(c, 0) + 1
            if c in writing:
                self.torn.add(c)

    def read_ended(self, c: int) -> int:
        """A backup read of cluster ``c`` completed: the generation it saw, or :data:`TORN`."""
        reading = self.reading
        n = reading[c]
        torn = c in self.torn
        if n > 1:
            reading[c] = n - 1
        else:
            del reading[c]
            self.torn.discard(c)
        if torn:
            self.torn_reads += 1
            return TORN
        return self.gen[c]

    def snapshot(self) -> None:
        """The backup starts now: remember every cluster's generation."""
        self.start_gen = array("i", self.gen)
        if self._target is None:
            self._target = array("i", [0]) * self.n

    def read(self, c: int) -> int:
        """The generation a read of cluster ``c`` sees now."""
        return self.gen[c]

    def copy_landed(self, c: int, generation: int) -> None:
        """The target now holds cluster ``c`` as of ``generation``."""
        self.copied += 1
        if self._target is None:  # a copy without snapshot: the start was all zeroes
            self.start_gen = array("i", [0]) * self.n
            self._target = array("i", [0]) * self.n
        start = self.start_gen[c]  # type: ignore[index]
        target = self._target
        if not self.on_target.set(c):
            self.copied_twice += 1
            if target[c] != start:  # it was inconsistent
                self.inconsistent -= 1
        target[c] = generation
        if generation != start:
            self.inconsistent += 1

    @property
    def mismatched(self) -> dict[int, int]:
        """Cluster -> generation on the target, for the clusters whose generation is not the one at start."""
        if self._target is None or self.start_gen is None:
            return {}
        on = self.on_target.to_array()
        tg = np.frombuffer(self._target, dtype=np.int32)
        st = np.frombuffer(self.start_gen, dtype=np.int32)
        idx = np.flatnonzero(on & (tg != st))
        return {int(c): int(tg[c]) for c in idx}

    @property
    def consistent(self) -> bool:
        """True when every copied cluster holds its generation at backup start (none torn)."""
        return not self.inconsistent

    def complete(self, skipped: int = 0) -> bool:
        """True when every cluster is on the target, but ``skipped`` unallocated ones."""
        return self.on_target.count() + skipped == self.n

    def target_generation(self, c: int) -> int | None:
        """What the target holds for cluster ``c`` (None if never copied)."""
        if not self.on_target.get(c) or self._target is None:
            return None
        return self._target[c]

    def start_generation(self, c: int) -> int:
        return self.start_gen[c] if self.start_gen is not None else 0


class NoOracle(ContentOracle):
    """The oracle of a run without a backup job (a baseline, ``backup.mode = "none"``).

    No backup reads the disk, so no generation is ever compared: the guest's
    writes are not counted and no per-cluster array is allocated (a
    :class:`ContentOracle` holds 12 bytes a cluster, 192 MiB for a 1 TiB disk).
    """

    def __init__(self, n: int = 0):
        super().__init__(0)

    def write_started(self, c0: int, c1: int) -> None:
        """A guest write was submitted: nothing to record."""

    def write_landed(self, c0: int, c1: int) -> None:
        """A guest write landed: nothing to record."""
