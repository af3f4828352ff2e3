"""The host's memory: what it costs QEMU to fill a buffer that was just allocated (``[host]``).

QEMU's block-copy allocates a bounce buffer for every task and frees it at
the end (``block_copy_do_copy`` in ``block/block-copy.c``, 5.0 to 10.x:
``qemu_blockalign(s->source->bs, nbytes)``, read into it, write it out,
``qemu_vfree``).  glibc serves an allocation of at least ``M_MMAP_THRESHOLD``
bytes (128 KiB by default, ``mallopt(3)``) with fresh pages from the kernel
and gives them back when it is freed, so the read that fills a 1 MiB task
buffer also takes a page fault for each of its 256 pages: the kernel finds
and zeroes a page and maps it.  A 64 KiB buffer comes from the heap's
reused memory and faults nothing.

That cost is the host's, not the disk's: ``page_fault_cost`` is the time of
one such fault per 4 KiB page.  The thread that reads into the buffer pays
it: on a memory-backed device (``memory = true``: a tmpfs file, a RAM disk,
whose reads are the CPU's copy) it is part of the copy, elsewhere it delays
the read without holding the device (:class:`sim.devices.Device`).

Measured (``backupsim calibrate``, :func:`sim.calibrate.real.measure_faults`):
a 1 MiB copy into a fresh anonymous mapping against the same copy into a
buffer already faulted in.  On the 2-vCPU reference machine that is about
0.6-0.7 ms per MiB, about 2.5 µs per page, which QEMU's own figures confirm:
an unthrottled ``null-co`` backup that fills each buffer with zeroes costs
681 µs per 1 MiB task and 49 µs per MiB in 64 KiB tasks
(``docs/calibration.md``).  0 (the default) leaves faults out; a bare-metal
host is nearer 0.25 µs a page.

To model another allocator, change :func:`fresh_buffer_ns`.
"""

from __future__ import annotations

from pydantic import Field

from .params import Section, Size, Time

__all__ = ["HostConfig", "fresh_buffer_ns", "PAGE", "MMAP_THRESHOLD"]

#: The page the kernel faults in at a time (x86-64, without transparent huge pages).
PAGE = 4096
#: glibc's default ``M_MMAP_THRESHOLD``: allocations this large or larger are fresh pages.
MMAP_THRESHOLD = 128 << 10


class HostConfig(Section):
    """``[host]``: the host's memory costs (0: left out)."""

    page_fault_cost: Time = 0
    mmap_threshold: Size = Field(MMAP_THRESHOLD, ge=PAGE)


def fresh_buffer_ns(host: HostConfig, nbytes: int) -> int:
    """The page faults of filling a buffer of ``nbytes`` allocated for it (0 below the mmap threshold)."""
    if nbytes < host.mmap_threshold or not host.page_fault_cost:
        return 0
    return -(-nbytes // PAGE) * host.page_fault_cost
