"""Backup jobs, one module per mode (``backup.mode``), registered in :data:`sim.params.MODES`.

* ``seed-2013`` (:mod:`.seed_2013`): the job of the 2013 patch under review;
* ``block-copy`` (:mod:`.block_copy`): QEMU 6.0 to 10.x, an asynchronous
  block-copy call under a copy-before-write filter, with fleecing;
* ``proxmox`` (:mod:`.proxmox`): block-copy with Proxmox VE's backup driver;
* ``none``: no job.

:mod:`.base` holds the contract every mode keeps; :mod:`.pool` the parallel
background copies every mode shares.  ``docs/model.md`` describes each mode and
``docs/extending.md`` how to add one.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..params import MODES
from .base import BackupConfig, BackupJob, JobContext, JobProgress, JobRecord, backup_config

for _module in ("seed_2013", "block_copy", "proxmox"):  # registered in this order, as `backupsim list` shows them
    importlib.import_module(f".{_module}", __name__)

__all__ = ["MODES", "BackupConfig", "BackupJob", "JobContext", "JobProgress", "JobRecord", "backup_config", "make_job"]


def make_job(cfg: BackupConfig, ctx: JobContext) -> Any:
    """The job object for a validated ``backup`` section (None for mode ``none``)."""
    if cfg.mode == "none":
        return None
    return MODES.get(cfg.mode)(cfg, ctx)
