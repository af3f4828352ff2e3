"""The host's memory: what it costs QEMU to fill a buffer that was just allocated (``[host]``).

QEMU's block-copy allocates a bounce buffer for every task and frees it at
the end (``block_copy_do_copy`` in ``block/block-copy.c``, 5.0 to 10.x:
``qemu_blockalign(s->source->bs, nbytes)``, read into it, write it out,
``qemu_vfree``).  ``qemu_blockalign`` is ``posix_memalign`` with the node's
``opt_mem_alignment``, at least a page for the ``file`` driver
(``raw_refresh_limits`` in ``block/file-posix.c``).  Whether that buffer is
fresh memory, whose pages fault as the read fills it, is glibc's choice
(``malloc/malloc.c``, ``mallopt(3)``), which :class:`Allocator` follows:

* a request whose padded size reaches the **mmap threshold** (128 KiB at
  start) gets a fresh mapping: the read faults every page of the buffer, and
  one more for the page that holds the chunk's header (the buffer starts at
  the next page boundary);
* freeing such a mapping **raises the threshold** to the size of its chunk
  (the dynamic threshold, up to 32 MiB), so that later smaller requests come
  from the heap's reused memory, which faults nothing;
* an aligned request pads its size by the alignment while the chunk it got
  lost its leading part to the alignment, so the raised threshold sits just
  below the padded size of the very request that raised it: a task of the same
  size is mapped afresh every time.  Measured with a C loop of
  ``posix_memalign(4096, 1 MiB)``, fill and ``free``: 257.0 faults and one
  ``munmap`` per buffer, with 1 to 4 buffers held at a time.

So 1 MiB tasks always fault, and shorter ones only where the heap grows into
memory it had given back.  In the calibration cases that is what tells them
apart: QEMU's daemon took about 65,000 faults more than without a backup with
64 workers and no speed limit (every 1 MiB task fresh), about 43,000 at 50%
speed (a slice's tasks grow the heap past its trim threshold) and about 2,000
at 20%, where copy-before-write has cut what is left to copy into runs of a
few clusters; the model's heap gives the same (``benchmarks/fault_counts.py``,
``docs/calibration.md``).  The model's heap holds block-copy's task buffers and
the NBD server's request buffers (:mod:`sim.nbd`).

That cost is the host's, not the disk's: ``page_fault_cost`` is the time of
one such fault per 4 KiB page.  The thread that reads into the buffer pays
it: on a memory-backed device (``memory = true``: a tmpfs file, a RAM disk,
whose reads are the CPU's copy) it is part of the copy, elsewhere it delays
the read without holding the device (:class:`sim.devices.Device`).

Measured (``backupsim calibrate``, :func:`sim.calibrate.compare.measure_faults`):
a 1 MiB copy into a fresh anonymous mapping against the same copy into a
buffer already faulted in.  On the 2-vCPU reference machine that is about
0.6-0.7 ms per MiB, about 2.5 µs per page, which QEMU's own figures confirm:
an unthrottled ``null-co`` backup that fills each buffer with zeroes costs
681 µs per 1 MiB task and 49 µs per MiB in 64 KiB tasks
(``docs/calibration.md``).  0 (the default) leaves faults out; a bare-metal
host is nearer 0.25 µs a page.

Left out: QEMU's other allocations in the same heap (coroutines, AIO tasks,
QMP), glibc's small-request paths (tcache, fastbins) and ``malloc_trim``,
which QEMU's RCU thread calls now and then.  To model another allocator
(jemalloc, a fixed ``M_MMAP_THRESHOLD`` set with ``mallopt``, which turns the
dynamic threshold off), subclass :class:`Allocator` and build the model's
``heap`` from it.
"""

from __future__ import annotations

from pydantic import Field

from .params import Section, Size, Time

__all__ = ["HostConfig", "Allocator", "Buffer", "NO_BUFFER", "PAGE", "MMAP_THRESHOLD", "MMAP_THRESHOLD_MAX"]

#: The page the kernel faults in at a time (x86-64, without transparent huge pages).
PAGE = 4096
#: glibc's default ``M_MMAP_THRESHOLD``: where the threshold starts.
MMAP_THRESHOLD = 128 << 10
#: ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit hosts: the dynamic threshold rises no higher.
MMAP_THRESHOLD_MAX = 32 << 20
#: glibc's chunk header (``SIZE_SZ``), alignment mask and smallest chunk (``MINSIZE``) on 64-bit hosts.
_SIZE_SZ, _ALIGN_MASK, _MINSIZE = 8, 15, 32
#: ``DEFAULT_TRIM_THRESHOLD``: the top is trimmed when it holds this much (until the dynamic threshold moves it).
DEFAULT_TRIM_THRESHOLD = 128 << 10
#: ``DEFAULT_TOP_PAD`` (``malloc-machine.h``): what the heap grows by beyond a request, and keeps when trimmed.
TOP_PAD = 128 << 10
#: ``FASTBIN_CONSOLIDATION_THRESHOLD``: only a free this large (after coalescing) may trim the top.
FASTBIN_CONSOLIDATION_THRESHOLD = 64 << 10


#: A buffer's handle: its chunk's address and size, and whether it is a mapping of its own.
Buffer = tuple[int, int, bool]
#: The handle of no buffer (a zero task's, or any while faults are left out): freeing it does nothing.
NO_BUFFER: Buffer = (0, 0, False)


class HostConfig(Section):
    """``[host]``: the host's memory costs (0: left out)."""

    page_fault_cost: Time = 0
    mmap_threshold: Size = Field(MMAP_THRESHOLD, ge=PAGE)  # where glibc's threshold starts


def _request2size(nbytes: int) -> int:
    """glibc's ``request2size``: the chunk size that serves ``nbytes``."""
    return max(_MINSIZE, (nbytes + _SIZE_SZ + _ALIGN_MASK) & ~_ALIGN_MASK)


def _pages(lo: int, hi: int, resident: int) -> int:
    """Pages of ``[lo, hi)`` at or above ``resident`` (the first page never faulted in)."""
    lo = max(lo // PAGE, -(-resident // PAGE))
    return max(-(-hi // PAGE) - lo, 0)


class Allocator:
    """glibc's ``posix_memalign`` and ``free`` in the main arena, as block-copy's bounce buffers meet them.

    One per run.  :meth:`alloc` gives the page faults a new buffer's first fill
    pays (ns) and a handle for :meth:`free`.  What it follows of
    ``malloc/malloc.c`` (glibc 2.36, Debian 12's):

    * ``_int_memalign`` asks ``_int_malloc`` for the size padded by the
      alignment and ``MINSIZE``, then frees the chunk's misaligned lead and
      its tail beyond the buffer;
    * ``_int_malloc`` takes the best-fitting free chunk (ties: the lowest
      address), else the top chunk if it is large enough, else
      (``sysmalloc``) a new mapping if the size reaches the mmap threshold,
      else grows the heap by the size, less the top, plus ``M_TOP_PAD``
      (128 KiB, ``DEFAULT_TOP_PAD``);
    * ``free`` coalesces a chunk with free neighbours and the top; when the
      top then holds at least the trim threshold (128 KiB at start) it gives
      back all but ``M_TOP_PAD`` to the kernel (``systrim``), whose pages will
      fault again; freeing a mapping unmaps it and raises the mmap threshold
      to its size and the trim threshold to twice that (the dynamic threshold).

    A page faults when a buffer's fill or its chunk's header first touches it
    since the heap last gave it back; pages below ``resident`` are in memory.
    """

    __slots__ = ("fault_ns", "threshold", "trim", "top", "brk", "resident", "free_at", "faulted_pages")

    def __init__(self, host: HostConfig):
        self.fault_ns = host.page_fault_cost
        self.threshold = host.mmap_threshold
        self.trim = DEFAULT_TRIM_THRESHOLD
        self.top = self.brk = self.resident = 0  # the heap's top chunk, its end, and the end of what is in memory
        self.free_at: dict[int, int] = {}  # free chunks below the top: address -> size
        self.faulted_pages = 0  # pages faulted in so far (what ``perf stat -e minor-faults`` counts)

    def alloc(self, nbytes: int) -> tuple[int, Buffer]:
        """A buffer of ``nbytes``: (the faults its fill pays in ns, its handle: address, size, mapped)."""
        if not self.fault_ns:
            return 0, NO_BUFFER
        nb = _request2size(nbytes)
        # _int_memalign's request; the alignment is opt_mem_alignment, a page for the file driver
        padded = _request2size(nb + PAGE + _MINSIZE)
        got = padded
        fits = [(size, at) for at, size in self.free_at.items() if size >= padded]
        if fits:
            size, at = min(fits)
            del self.free_at[at]
            if size - padded >= _MINSIZE:
                self.free_at[at + padded] = size - padded
            else:
                got = size
        elif self.brk - self.top >= padded + _MINSIZE:
            at = self.top
            self.top += padded
        elif padded >= self.threshold:
            return self._map(nbytes, padded)
        else:  # sysmalloc: grow the heap, then take the top
            grow = -(-(padded + TOP_PAD + _MINSIZE - (self.brk - self.top)) // PAGE) * PAGE
            self.brk += grow
            at = self.top
            self.top += padded
        # align the buffer: give the lead back (at least MINSIZE) and the tail beyond nb
        data = -(-(at + 2 * _SIZE_SZ) // PAGE) * PAGE
        if data - 2 * _SIZE_SZ - at < _MINSIZE:
            data += PAGE
        chunk = data - 2 * _SIZE_SZ
        self._release(at, chunk - at)
        end = chunk + nb
        tail = at + got - end
        if tail > _MINSIZE:
            self._release(end, tail)
        else:
            end += tail
        pages = _pages(at, data + nbytes, self.resident)
        self.resident = max(self.resident, data + nbytes)
        self.faulted_pages += pages
        return pages * self.fault_ns, (chunk, end - chunk, False)

    def _map(self, nbytes: int, padded: int) -> tuple[int, Buffer]:
        """``sysmalloc_mmap``: a fresh mapping, the buffer at its second page (the header on the first)."""
        mapped = -(-(padded + _SIZE_SZ) // PAGE) * PAGE
        chunk = mapped - (PAGE - 2 * _SIZE_SZ)  # the lead given up to align the buffer to a page
        pages = 1 + -(-nbytes // PAGE)
        self.faulted_pages += pages
        return pages * self.fault_ns, (0, chunk, True)

    def free(self, handle: Buffer) -> None:
        """Free a buffer (:meth:`alloc`'s handle)."""
        at, size, mapped = handle
        if not size:
            return
        if mapped:  # munmap; the dynamic threshold
            if self.threshold < size <= MMAP_THRESHOLD_MAX:
                self.threshold = size
                self.trim = 2 * size
            return
        self._release(at, size)

    def _release(self, at: int, size: int) -> None:
        """``_int_free`` of a heap chunk: coalesce, merge into the top, trim the top."""
        free_at = self.free_at
        for before, bsize in list(free_at.items()):
            if before + bsize == at:
                del free_at[before]
                at, size = before, size + bsize
                break
        after = free_at.pop(at + size, None)
        if after is not None:
            size += after
        if at + size != self.top:
            free_at[at] = size
            return
        self.top = at
        size = self.brk - at  # the chunk is the top now
        if size >= FASTBIN_CONSOLIDATION_THRESHOLD and size >= self.trim:
            extra = (size - _MINSIZE - 1 - TOP_PAD) // PAGE * PAGE  # systrim
            if extra > 0:
                self.brk -= extra
                self.resident = min(self.resident, self.brk)
