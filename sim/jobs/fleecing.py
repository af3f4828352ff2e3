"""Fleecing: copy-before-write into a local image, the backup reading a snapshot (QEMU 7.0+).

``backup.fleecing = true`` on ``block-copy`` or ``proxmox`` models the graph
Proxmox VE 8.2 builds per disk (pve-qemu patch 0038; QEMU commits
1c14eaabdb ``snapshot-access`` and 0fd05c8d80 ``discard-source``):

* the copy-before-write filter's target is a **fleecing image** on a device
  of its own (section ``[fleece]``, e.g. a local NVMe), so a guest write's
  copy-before-write costs a source read and a fleecing write, not a target
  write;
* the backup job copies from a ``snapshot-access`` node: a cluster already in
  the fleecing image is read from there, any other from the source, and while
  such a source read is in flight a guest write to that cluster waits for it
  after its own copy-before-write (``cbw_snapshot_read_lock`` and the
  filter's ``frozen_read_reqs``);
* with ``discard_source`` each cluster the job has backed up is discarded on
  the snapshot (``cbw_co_pdiscard_snapshot``): its fleecing space is freed and
  the filter's bitmap is cleared there, so later guest writes to it skip
  copy-before-write.  Without it the filter keeps copying clusters the job
  already has, and the image keeps them until the end.

The record carries the fleecing image's size now and at its peak
(``fleece_bytes``, ``fleece_peak_bytes``).  Left out: the image's own
allocation cost and its cluster size beyond ``min_cluster_size``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..coroutine import PARK, Body, Coroutine

if TYPE_CHECKING:
    from ..devices import Device
    from .base import JobRecord
    from .block_copy import BlockCopyJob

__all__ = ["Fleecing"]


class Fleecing:
    """The fleecing image and the snapshot the job reads, for one block-copy job."""

    def __init__(self, n: int, cluster_size: int, device: Device, discard_source: bool, record: JobRecord):
        self.n = n
        self.cluster_size = cluster_size
        self.device = device
        self.discard_source = discard_source
        self.record = record
        self.fleeced: dict[int, int] = {}  # cluster -> generation the copy-before-write put in the image
        self.readers: dict[int, int] = {}  # cluster -> snapshot reads of the source in flight
        self.waiters: dict[int, list[Coroutine]] = {}  # cluster -> guest writes waiting for those reads

    def landed(self, c0: int, c1: int, gens: list[int]) -> None:
        """Copy-before-write put clusters ``c0 .. c1-1`` (as of ``gens``) into the fleecing image."""
        fleeced, rec = self.fleeced, self.record
        for i, c in enumerate(range(c0, c1)):
            if c not in fleeced:
                rec.fleece_bytes += self.cluster_size
            fleeced[c] = gens[i]
        if rec.fleece_bytes > rec.fleece_peak_bytes:
            rec.fleece_peak_bytes = rec.fleece_bytes

    def read_snapshot(self, job: BlockCopyJob, c0: int, c1: int, co: Coroutine, fault_ns: int = 0) -> Body[list[int]]:
        """Read clusters ``c0 .. c1-1`` of the snapshot, run by run, as ``cbw_co_preadv_snapshot`` does.

        The first read pays ``fault_ns``, the faults of the task's fresh buffer (:class:`sim.host.Allocator`).
        """
        fleeced = self.fleeced
        gens: list[int] = []
        c = c0
        while c < c1:
            in_image = c in fleeced
            e = c + 1
            while e < c1 and (e in fleeced) == in_image:
                e += 1
            if in_image:
                yield from job._read(c, e, co, self.device, fault_ns)
                gens.extend(fleeced[x] for x in range(c, e))
            else:
                readers = self.readers
                for x in range(c, e):
                    readers[x] = readers.get(x, 0) + 1
                got = yield from job._read(c, e, co, fault_ns=fault_ns)
                gens.extend(got)
                self._unlock(c, e, job.loop_cfg.wake_cost)
            c = e
            fault_ns = 0
        return gens

    def _unlock(self, c0: int, c1: int, wake_cost: int) -> None:
        readers, waiters = self.readers, self.waiters
        for x in range(c0, c1):
            k = readers[x] - 1
            if k:
                readers[x] = k
                continue
            del readers[x]
            for w in waiters.pop(x, ()):
                w.wake(None, wake_cost)

    def wait_readers(self, c0: int, c1: int, co: Coroutine) -> Body[None]:
        """A guest write waits for the snapshot's source reads of its clusters (``frozen_read_reqs``)."""
        readers = self.readers
        while True:
            busy = next((x for x in range(c0, c1) if x in readers), None)
            if busy is None:
                return
            self.waiters.setdefault(busy, []).append(co)
            yield PARK

    def backed_up(self, job: BlockCopyJob, c0: int, c1: int) -> None:
        """The job has clusters ``c0 .. c1-1`` on the target: with ``discard_source``, drop them from the snapshot."""
        if not self.discard_source:
            return
        fleeced, rec = self.fleeced, self.record
        bitmap = job.cbw_bcs.bitmap
        for c in range(c0, c1):
            if fleeced.pop(c, None) is not None:
                rec.fleece_bytes -= self.cluster_size
            bitmap.set(c)  # block_copy_reset: no copy-before-write here any more
