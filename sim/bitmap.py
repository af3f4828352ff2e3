"""The copy bitmap: one bit per cluster, set when a cluster is claimed for copying.

As in the 2013 patch (and QEMU's HBitmap since), a set bit means "this cluster
is the job's business already": either copied or being copied.  The storage is
a numpy ``uint8`` array holding one bit per cluster (``numpy.packbits`` order),
so a 500 GiB disk with 64 KiB clusters costs 1 MiB.  ``next_clear`` scans
whole 64-bit words, so finding the next uncopied cluster after a run of copied
ones is fast.

This module imports nothing from SimPy, so its property tests are fast
(``tests/test_bitmap.py`` checks it against a plain Python set).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CopyBitmap"]


class CopyBitmap:
    """A fixed-size bitmap over ``n`` clusters: get, set, clear, next clear bit, count."""

    __slots__ = ("n", "_words", "_bytes", "_count")

    def __init__(self, n: int):
        if n < 0:
            raise ValueError("n must be >= 0")
        self.n = n
        nwords = (n + 63) // 64
        self._words = np.zeros(nwords, dtype="<u8")
        self._bytes = self._words.view(np.uint8)
        self._count = 0

    def __len__(self) -> int:
        return self.n

    def get(self, i: int) -> bool:
        """Is cluster ``i`` claimed?"""
        if not 0 <= i < self.n:
            raise IndexError(i)
        return bool((self._bytes[i >> 3] >> (i & 7)) & 1)

    def set(self, i: int) -> bool:
        """Claim cluster ``i``; returns whether it was clear before."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        b = i >> 3
        mask = 1 << (i & 7)
        old = int(self._bytes[b])
        if old & mask:
            return False
        self._bytes[b] = old | mask
        self._count += 1
        return True

    def clear(self, i: int) -> bool:
        """Release cluster ``i`` (a failed copy); returns whether it was set before."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        b = i >> 3
        mask = 1 << (i & 7)
        old = int(self._bytes[b])
        if not old & mask:
            return False
        self._bytes[b] = old & ~mask
        self._count -= 1
        return True

    def count(self) -> int:
        """Number of claimed clusters."""
        return self._count

    def next_clear(self, start: int = 0) -> int:
        """The first unclaimed cluster at or after ``start``, or ``n`` if there is none."""
        if start >= self.n:
            return self.n
        start = max(start, 0)
        w = start >> 6
        words = self._words
        word = int(words[w]) | ((1 << (start & 63)) - 1)
        if word != 0xFFFFFFFFFFFFFFFF:
            return min(self.n, (w << 6) + _lowest_zero(word))
        full = np.flatnonzero(words[w + 1 :] != np.uint64(0xFFFFFFFFFFFFFFFF))
        if full.size == 0:
            return self.n
        w2 = w + 1 + int(full[0])
        return min(self.n, (w2 << 6) + _lowest_zero(int(words[w2])))

    def set_range_from(self, start: int, mask: np.ndarray) -> None:
        """Set the clusters ``start + i`` for which ``mask[i]`` is true (``start`` a multiple of 8)."""
        if start % 8:
            raise ValueError("start must be a multiple of 8")
        if start + mask.size > self.n:
            raise IndexError(start + mask.size)
        packed = np.packbits(mask.astype(bool), bitorder="little")
        b = start >> 3
        old = self._bytes[b : b + packed.size]
        new = old | packed
        self._count += int(np.unpackbits(new, bitorder="little").sum() - np.unpackbits(old, bitorder="little").sum())
        self._bytes[b : b + packed.size] = new

    def set_all_clear_of(self, other: CopyBitmap) -> None:
        """Set every cluster that is clear in ``other`` (same size)."""
        if other.n != self.n:
            raise ValueError("bitmaps differ in size")
        self._bytes |= ~other._bytes
        tail = self.n % 64
        if tail:
            self._words[-1] &= np.uint64((1 << tail) - 1)
        self._count = int(np.unpackbits(self._bytes, bitorder="little")[: self.n].sum())

    def to_array(self) -> np.ndarray:
        """A boolean array of ``n`` entries (for tests and analysis)."""
        return np.unpackbits(self._bytes, bitorder="little")[: self.n].astype(bool)


def _lowest_zero(word: int) -> int:
    inv = ~word & 0xFFFFFFFFFFFFFFFF
    return (inv & -inv).bit_length() - 1
