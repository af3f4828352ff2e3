"""The calibration cases: one small, repeatable stand-in for a VM whose disk is the bottleneck.

Every case runs the same setup, once for real (:mod:`sim.calibrate.real`) and
once in backupsim (:mod:`sim.calibrate.simulated`):

* a raw source image and a raw target image on a tmpfs (RAM), so the devices
  themselves cost next to nothing and the disk's rate is the throttle group's;
* a QEMU throttle group of ``bps_total`` on the source (the backup's
  ``device`` is the throttle node: guest reads, copy-before-write reads and
  the job's reads share its READ queue);
* the source exported over NBD to fio (``ioengine=nbd``), the guest: 4 KiB
  random I/O at ``rate_iops`` (Poisson), ``iodepth``;
* ``blockdev-backup sync=full`` of the throttle node to the target, with the
  case's ``speed`` and ``x-perf.max-workers``.

To add a case, append a :class:`Case` to :data:`CASES`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Case", "Setup", "CASES", "SETUP"]


@dataclass(frozen=True)
class Setup:
    """What every case shares."""

    disk_size: int = 256 << 20  # bytes of the source image
    bps_total: int = 64 << 20  # the throttle group's limit (bytes/s): the "measured disk"
    bs: int = 4096
    rate_iops: int = 200
    iodepth: int = 16
    warmup_s: float = 1.0  # guest alone before the backup starts
    tail_s: float = 0.5  # guest alone after it ends
    no_backup_s: float = 4.0  # the window of the case without a backup


@dataclass(frozen=True)
class Case:
    """One calibration case: the guest's direction and the backup's settings."""

    name: str
    rw: str = "randwrite"
    backup: bool = True
    max_workers: int = 64
    speed_share: float = 0.0  # speed as a share of the disk's rate (0 = unlimited)

    def speed(self, setup: Setup) -> int:
        """``speed`` in bytes/s (0 = unlimited)."""
        return int(self.speed_share * setup.bps_total)


SETUP = Setup()

CASES: tuple[Case, ...] = (
    Case("no-backup", backup=False),
    Case("workers-64", max_workers=64),
    Case("workers-8", max_workers=8),
    Case("workers-1", max_workers=1),
    Case("speed-50", speed_share=0.5),
    Case("speed-20", speed_share=0.2),
    Case("speed-10", speed_share=0.1),
    Case("read-no-backup", rw="randread", backup=False),
    Case("read-workers-64", rw="randread", max_workers=64),
)
