"""What is on the source disk: allocated clusters and clusters full of zeroes.

Real disks are sparse: a thin volume or a qcow2 image has clusters that were
never written (unallocated), and allocated clusters that hold only zeroes.
QEMU's backup makes use of both: with ``sync=top`` it skips unallocated
clusters altogether (``block_copy_reset_unallocated``, qemu-backup.md section
1.2); and since the merge a cluster that reads as zeroes goes to the target as
a write-zeroes request with no data (``buffer_is_zero``, commit 98d2c6f2cd),
which a stream target (the VMA archive) records as a flag with no I/O at all.

``allocated`` and ``zero_fraction`` are fractions of clusters, drawn
independently per cluster from the run's ``layout`` stream, so the layout is
the same for a run, its baseline and every policy.  Both are bit arrays
(:class:`sim.bitmap.CopyBitmap`), so a layout costs 2 bits per cluster.
"""

from __future__ import annotations

import numpy as np

from .bitmap import CopyBitmap

__all__ = ["DiskLayout"]

_CHUNK = 1 << 20


class DiskLayout:
    """Which of ``n`` clusters are allocated, and which allocated ones hold zeroes."""

    def __init__(self, n: int, allocated: float, zero_fraction: float, gen: np.random.Generator):
        self.n = n
        self.allocated = CopyBitmap(n)
        self.zero = CopyBitmap(n)
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            u = gen.random((2, hi - lo))
            alloc = u[0] < allocated
            self.allocated.set_range_from(lo, alloc)
            self.zero.set_range_from(lo, alloc & (u[1] < zero_fraction))
        self.allocated_count = self.allocated.count()

    def is_allocated(self, c: int) -> bool:
        return self.allocated.get(c)

    def is_zero(self, c: int) -> bool:
        """Does cluster ``c`` read as zeroes (unallocated, or allocated and zero)?"""
        return self.zero.get(c) or not self.allocated.get(c)
