"""The parameters of the backup modes compiled into the kernel: the keys every mode shares, and ``seed-2013``'s.

:class:`BackupConfig` holds the ``backup`` keys every mode shares, and
:func:`backup_config` validates a ``backup`` table against the ``Config`` of
the mode it names.  A mode's own keys are a subclass of it, set as the mode
class's ``Config``.

Why these classes are here and not beside their models: a regular install
(``pip install .``) compiles :mod:`sim.jobs.base` and :mod:`sim.jobs.seed_2013`
with mypyc (``docs/kernel.md``), and pydantic cannot build a model whose
validators are compiled functions (it reads each validator's signature, and a
compiled function has none).  So the configuration of a compiled module lives
in a module that stays interpreted, as the devices' does
(:mod:`sim.devices.config`).  A mode that is not compiled (``block-copy``,
``proxmox``, a plug-in) keeps its ``Config`` in its own module.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..params import MODES, Invalid, Section, Size, Time, units

__all__ = ["BackupConfig", "SeedConfig", "backup_config"]


class BackupConfig(Section):
    """The keys every backup mode shares (``docs/model.md``, "Backup jobs").

    ``start`` is when the job starts (the guest warms up before), ``cancel_at``
    when the user cancels it (relative to ``start``).  ``cluster_size`` is the
    copy bitmap's granularity (a mode may raise it: :attr:`cluster`).
    ``target_layout`` is where copies land on the target: ``stream`` appends
    them in the order they are made (an archive: VMA, a PBS upload), ``image``
    writes each cluster at its own offset (a raw or qcow2 target image).
    ``allocated`` and ``zero_fraction`` describe a sparse source
    (:mod:`sim.layout`); ``sync = "top"`` skips unallocated clusters,
    ``"full"`` copies them as zeroes.  ``target_on_source`` puts the target on
    the source disk itself, in a region after the disk's own bytes (a local
    backup to the same disk or array), so the backup's reads and writes and the
    guest's I/O share one device queue and, on a disk with seeks, one head.
    """

    mode: str = ""
    disk_size: Size = 16 << 30
    cluster_size: Size = 64 << 10
    start: Time = 2 * 10**9
    cancel_at: Time | None = None
    target_layout: Literal["stream", "image"] = "stream"
    target_on_source: bool = Field(False, strict=True)
    sync: Literal["full", "top"] = "full"
    allocated: float = Field(1.0, gt=0.0, le=1.0)
    zero_fraction: float = Field(0.0, ge=0.0, le=1.0)

    @property
    def cluster(self) -> int:
        """The copy bitmap's granularity in force (block-copy raises ``cluster_size``)."""
        return self.cluster_size

    @property
    def clusters(self) -> int:
        """How many clusters the disk has."""
        return self.disk_size // self.cluster

    @model_validator(mode="after")
    def _check_sizes(self) -> BackupConfig:
        c = self.cluster_size
        if c < 512 or c & (c - 1):
            raise Invalid("cluster_size", c, "a power of two of at least 512 bytes")
        if self.disk_size <= 0:
            raise Invalid("disk_size", self.disk_size, "a size greater than zero")
        c = self.cluster
        if c > self.disk_size:
            raise Invalid("cluster_size", c, f"at most disk_size ({units.format_size(self.disk_size)})")
        if self.disk_size % c:
            raise Invalid("disk_size", self.disk_size, f"a multiple of the cluster size ({units.format_size(c)})")
        return self


def backup_config(data: Any) -> BackupConfig:
    """Validate a ``backup`` table against the ``Config`` of the mode it names (default ``seed-2013``).

    A key that only another mode has gets an error naming that mode.
    """
    if isinstance(data, dict):
        name = data.get("mode", "seed-2013")
        if isinstance(name, str) and name:
            MODES.refuse_foreign_keys(data, name, "backup", "backup mode")
    return MODES.section(data, "seed-2013", BackupConfig)


class SeedConfig(BackupConfig):
    """``backup.*`` of the 2013 job.

    ``on_cow_error`` is what a guest write whose copy-before-write failed gets:
    ``fail-guest-write`` (the write and the job fail), ``break-snapshot``
    (QEMU 7.1+: the write proceeds and the backup is abandoned) or
    ``leave-hole`` (what the 2013 patch really did: the write fails, the
    cluster stays marked copied, and the job completes without it).
    ``cow_on_read`` also copies before guest reads of uncopied clusters, as the
    reviewed patch's ``before_read`` hook did.
    """

    on_cow_error: Literal["fail-guest-write", "break-snapshot", "leave-hole"] = "fail-guest-write"
    cow_on_read: bool = Field(False, strict=True)
