"""Shared pieces of the block-copy, fleecing and Proxmox tests: exact device times and configurations.

Every device is ``conftest.fixed_device``: no jitter, one base cost per
operation and a transfer of ``bytes * 1e9 // bw`` ns on the device's shared
transfer path; loop costs are 0 (``free_loop``).  So a time is the sum of the
device times on its path, computed here as the device computes it.
"""

from conftest import fixed_device, free_loop

import sim

KIB, MIB = 1 << 10, 1 << 20
MS = 1_000_000
BASE = 100_000  # fixed_device's base cost per operation (100 us)
BW = 655_360_000  # fixed_device's bandwidth: 64 KiB in 100 us
START = 1 * MS  # backup.start
#: a bandwidth so high that no request of a few MiB has a transfer time (bytes * 1e9 // bw == 0)
NO_XFER = 2 * 10**18


def xfer(nbytes: int, bw: int = BW) -> int:
    """Transfer time of ``nbytes`` on a fixed_device, as the device computes it."""
    return nbytes * 1_000_000_000 // bw


def io(nbytes: int, base: int = BASE, bw: int = BW) -> int:
    """One request alone on a fixed_device: base cost plus transfer."""
    return base + xfer(nbytes, bw)


def job_cfg(mode: str, size: str, backup: dict | None = None, **over) -> dict:
    """A run of ``mode`` on fixed devices with no guest; ``over`` merges into (or replaces) sections."""
    cfg = {
        "backup": {"mode": mode, "disk_size": size, "start": "1ms", **(backup or {})},
        "disk": fixed_device(),
        "target": fixed_device(),
        "fleece": fixed_device(),
        "loop": free_loop(),
        "policy": {"name": "none"},
        "workload": {"kind": "none"},
        "run": {"baseline": False, "trace": True},
    }
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) and k not in ("policy", "workload") else v
    return cfg


def run(cfg: dict):
    """Run ``cfg`` keeping the model (its job record and trace)."""
    return sim.run_one(cfg, keep_model=True)


def duration(res) -> int:
    """The job's duration (ns)."""
    rec = res.model.job.record
    return rec.t_end - rec.t_start
