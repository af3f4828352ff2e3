"""Proxmox VE's backup: block-copy with Proxmox's defaults and its backup driver.

``backup.mode = "proxmox"`` models ``qmp_backup`` of pve-qemu (patches 0027
``backup-dump`` driver, 0028 sequential job transactions, 0029
``pve-backup.c``, 0038 fleecing; Proxmox VE 8.x on QEMU 8-9), on top of
:class:`sim.jobs.block_copy.BlockCopyJob`:

* **workers**: ``max_workers`` 16 (pve-qemu 8dca018, Stefan Reiter, 2021: "64
  put enough stress on QEMU that the guest became practically unusable";
  vzdump's ``performance: max-workers``, default 16);
* **cluster**: the ``backup-dump`` target reports 4 MiB for a Proxmox Backup
  Server target (``PROXMOX_BACKUP_DEFAULT_CHUNK_SIZE``) and 64 KiB for a VMA
  archive (``backup.format``), so on PBS the first guest write into any 4 MiB
  region waits for a 4 MiB read and upload (``cluster_size`` raises it further,
  as a larger target cluster would);
* **one upload at a time**: ``pvebackup_co_dump_pbs_cb`` holds the global
  ``dump_callback_mutex``, so every target write, background and
  copy-before-write alike, waits for the one before it (the model applies the
  same to a VMA archive, written by one writer; only the PBS callback's mutex
  is documented in the sources read); ``chunk_cpu`` is the
  time per cluster the PBS client spends hashing (SHA-256) and compressing
  (zstd) under that mutex (0 by default: give a measured figure);
* **fleecing** (PVE 8.2, ``fleecing = true``): ``min_cluster_size`` of 4 MiB,
  ``on_cbw_error = break-snapshot`` and ``cbw_timeout = 45 s`` unless set, so
  a slow target fails the backup rather than the guest;
* **several disks** (``disks = ["32GiB", "8GiB"]``, their sum the
  ``disk_size`` the guest sees, one after the other on it): every disk's
  filter is installed at the start (one consistent point in time), and the
  background copy runs disk by disk in a sequential transaction, so a disk
  waiting its turn pays copy-before-write the whole time.

Left out: incremental backups (``sync = bitmap``), the PBS server side
(deduplication, its own disks), VMA's out-of-order archive format beyond its
64 KiB clusters, and excluded EFI / TPM disks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..coroutine import Body, Coroutine, sleep
from ..params import MODES, Invalid, Size, Time, units
from ..request import Request
from ..rwlock import CoMutex
from .base import JobContext
from .block_copy import MIN_CLUSTER, BlockCopyConfig, BlockCopyJob

__all__ = ["ProxmoxConfig", "ProxmoxJob", "PBS_CHUNK", "VMA_CLUSTER", "FLEECE_TIMEOUT"]

#: ``PROXMOX_BACKUP_DEFAULT_CHUNK_SIZE``: the cluster a PBS target reports.
PBS_CHUNK = 4 << 20
#: A VMA archive's cluster (vma_spec.txt).
VMA_CLUSTER = 64 << 10
#: ``cbw-timeout`` Proxmox sets with fleecing (patch 0038), ns.
FLEECE_TIMEOUT = 45 * 10**9


class ProxmoxConfig(BlockCopyConfig):
    """``backup.*`` of a Proxmox VE backup (vzdump to PBS or VMA)."""

    format: Literal["pbs", "vma"] = "pbs"
    target_layout: Literal["stream", "image"] = "stream"
    max_workers: int = Field(16, ge=1, le=256)
    chunk_cpu: Time = 0
    on_cbw_error: Literal["break-guest-write", "break-snapshot"] | None = None  # type: ignore[assignment]
    cbw_timeout: Time | None = None  # type: ignore[assignment]
    disks: tuple[Size, ...] = ()

    @property
    def cluster(self) -> int:
        dump = PBS_CHUNK if self.format == "pbs" else VMA_CLUSTER
        floor = max(self.min_cluster_size, PBS_CHUNK if self.fleecing else 0)
        return max(MIN_CLUSTER, floor, dump, self.cluster_size)

    @property
    def cbw_error(self) -> str:
        if self.on_cbw_error is not None:
            return self.on_cbw_error
        return "break-snapshot" if self.fleecing else "break-guest-write"

    @property
    def cbw_timeout_ns(self) -> int:
        if self.cbw_timeout is not None:
            return self.cbw_timeout
        return FLEECE_TIMEOUT if self.fleecing else 0

    @model_validator(mode="after")
    def _check_disks(self) -> ProxmoxConfig:
        if not self.disks:
            return self
        total = sum(self.disks)
        if total != self.disk_size:
            raise Invalid(
                "disk_size",
                units.format_size(self.disk_size),
                f"the sum of backup.disks ({units.format_size(total)}): the guest sees the disks one after the other",
            )
        for i, size in enumerate(self.disks):
            if size <= 0 or size % self.cluster:
                raise Invalid(
                    f"disks.{i}",
                    size,
                    f"a size greater than zero and a multiple of the cluster size ({units.format_size(self.cluster)})",
                )
        return self


@MODES.register("proxmox")
class ProxmoxJob(BlockCopyJob):
    """Proxmox VE's ``qmp_backup``: block-copy, 16 workers, serialized uploads, disks in turn."""

    Config = ProxmoxConfig
    cfg: ProxmoxConfig

    def __init__(self, cfg: ProxmoxConfig, ctx: JobContext):
        super().__init__(cfg, ctx)
        self.dump_mutex = CoMutex(ctx.loop_cfg.wake_cost)

    def ranges(self) -> list[tuple[int, int]]:
        """One block-copy call per disk, in order (``job_txn_new_seq``)."""
        if not self.cfg.disks:
            return [(0, self.n)]
        out, lo = [], 0
        for size in self.cfg.disks:
            hi = lo + size // self.cluster_size
            out.append((lo, hi))
            lo = hi
        return out

    def _write(self, req: Request, co: Coroutine, device=None) -> Body[None]:
        """A target write goes through ``dump_callback_mutex`` (hashing and compressing under it)."""
        if device is not None:
            yield from super()._write(req, co, device)
            return
        yield from self.dump_mutex.lock(co)
        cpu = self.cfg.chunk_cpu
        if cpu and req.nbytes:
            yield sleep(cpu * -(-req.nbytes // self.cluster_size))
        yield from super()._write(req, co)
        self.dump_mutex.unlock()
