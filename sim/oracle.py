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
never copied, so a good backup needs both.  Generations are kept sparsely
(only clusters the guest wrote), so the oracle costs little on disks of
hundreds of GiB.
"""

from __future__ import annotations

from .bitmap import CopyBitmap

__all__ = ["ContentOracle", "TORN"]

#: The generation a torn read reports: never a generation a cluster had.
TORN = -1


class ContentOracle:
    """Generations of ``n`` clusters on the disk, and of what the target received."""

    def __init__(self, n: int):
        self.n = n
        self.gen: dict[int, int] = {}
        self.start_gen: dict[int, int] = {}  # set by snapshot(), when the backup starts
        self.on_target = CopyBitmap(n)
        self.mismatched: dict[int, int] = {}  # cluster -> generation copied, when not the start one
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
            gen[c] = gen.get(c, 0) + 1
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
        return self.gen.get(c, 0)

    def snapshot(self) -> None:
        """The backup starts now: remember every cluster's generation."""
        self.start_gen = dict(self.gen)

    def read(self, c: int) -> int:
        """The generation a read of cluster ``c`` sees now."""
        return self.gen.get(c, 0)

    def copy_landed(self, c: int, generation: int) -> None:
        """The target now holds cluster ``c`` as of ``generation``."""
        self.copied += 1
        if not self.on_target.set(c):
            self.copied_twice += 1
        if generation != self.start_gen.get(c, 0):
            self.mismatched[c] = generation
        else:
            self.mismatched.pop(c, None)

    @property
    def consistent(self) -> bool:
        """True when every copied cluster holds its generation at backup start (none torn)."""
        return not self.mismatched

    def complete(self, skipped: int = 0) -> bool:
        """True when every cluster is on the target, but ``skipped`` unallocated ones."""
        return self.on_target.count() + skipped == self.n

    def target_generation(self, c: int) -> int | None:
        """What the target holds for cluster ``c`` (None if never copied)."""
        if not self.on_target.get(c):
            return None
        return self.mismatched.get(c, self.start_gen.get(c, 0))

    def start_generation(self, c: int) -> int:
        return self.start_gen.get(c, 0)
