"""The content oracle: does the target hold the disk as it was when the backup started?

Every cluster carries a generation number, bumped by each guest write that
lands on the disk (at the write's device completion).  A backup read samples
the generations of its cluster when the device completes it; the target
records what was copied.  The backup is point-in-time consistent exactly when
every copied generation equals the generation at backup start (MODEL.md
section 3).  Generations are kept sparsely (only clusters the guest wrote), so
the oracle costs little on disks of hundreds of GiB.
"""

from __future__ import annotations

from .bitmap import CopyBitmap

__all__ = ["ContentOracle"]


class ContentOracle:
    """Generations of ``n`` clusters on the disk, and of what the target received."""

    def __init__(self, n: int):
        self.n = n
        self.gen: dict[int, int] = {}
        self.start_gen: dict[int, int] | None = None
        self.on_target = CopyBitmap(n)
        self.mismatched: dict[int, int] = {}   # cluster -> generation copied, when not the start one
        self.copied_twice = 0
        self.copied = 0

    def write_landed(self, c0: int, c1: int) -> None:
        """A guest write to clusters ``c0 .. c1-1`` reached the disk."""
        gen = self.gen
        for c in range(c0, c1):
            gen[c] = gen.get(c, 0) + 1

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
        """True when every copied cluster holds its generation at backup start."""
        return not self.mismatched

    def target_generation(self, c: int) -> int | None:
        """What the target holds for cluster ``c`` (None if never copied)."""
        if not self.on_target.get(c):
            return None
        return self.mismatched.get(c, self.start_gen.get(c, 0))

    def start_generation(self, c: int) -> int:
        return self.start_gen.get(c, 0)
