"""One I/O request as it travels through the block layer and a device.

A flat record in the spirit of Ciw's ``DataRecord``: every metric about a guest
request is derived from these fields after the run, never kept in side tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .coroutine import Coroutine

__all__ = ["Request", "READ", "WRITE", "DISCARD", "WRITE_ZEROES", "OP_NAMES", "GUEST", "BACKUP"]

# Final: compiled (docs/kernel.md), the constants are inlined instead of looked up in the module
READ: Final = 0
WRITE: Final = 1
#: A discard (NVMe Dataset Management / Deallocate, ATA TRIM, SCSI UNMAP): no data.
DISCARD: Final = 2
#: A write of zeroes (NVMe Write Zeroes, SCSI WRITE SAME with zeroes): no data.
WRITE_ZEROES: Final = 3
#: The name of each op in the guest's request table (``sim.metrics.guest_frame``).
OP_NAMES = ("read", "write", "discard", "write-zeroes")
GUEST: Final = 0
BACKUP: Final = 1


class Request:
    """A read, write, discard or write-zeroes of ``nbytes`` at ``offset``, from the guest or the backup job.

    Discards and write-zeroes change the disk's content like a write (QEMU's
    copy-before-write filter copies before all three: ``cbw_co_pwritev``,
    ``cbw_co_pwrite_zeroes`` and ``cbw_co_pdiscard`` in
    ``block/copy-before-write.c`` each call ``cbw_do_copy_before_write``) but
    carry no data to the device.
    """

    __slots__ = (
        "op",
        "offset",
        "nbytes",
        "origin",
        "index",
        "t_submit",
        "t_done",
        "c0",
        "c1",
        "cow_ns",
        "cow_clusters",
        "error",
        "waiters",
        "co",
        "on_done",
        "gen",
        "key",
        "cpu_ns",
    )

    def __init__(self, op: int, offset: int, nbytes: int, origin: int = GUEST, index: int = -1):
        self.op = op
        self.offset = offset
        self.nbytes = nbytes
        self.origin = origin
        self.index = index
        self.t_submit = -1
        self.t_done = -1
        self.c0 = 0  # first cluster touched (rounded out to the backup cluster size)
        self.c1 = 0  # one past the last cluster touched
        self.cow_ns = 0  # time this request spent in copy-before-write
        self.cow_clusters = 0  # clusters it copied before writing
        self.error = False
        self.waiters: list | None = None  # coroutines waiting for this request to end
        self.co: Coroutine | None = None  # the coroutine serving this request, if any
        self.on_done: Callable[[Request], None] | None = None  # callback for the issuer (the guest) when it completes
        self.gen = 0  # generation read (backup reads) for the content oracle
        self.key = -1  # the number keying its random draws on the device (sim.rng.RequestDraws)
        self.cpu_ns = 0  # the issuing thread's own work in the call: page faults of a fresh buffer (sim/host.py)

    def __repr__(self) -> str:
        op = "RWDZ"[self.op]
        who = "guest" if self.origin == GUEST else "backup"
        return f"<{who} {op} {self.offset}+{self.nbytes}>"
