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
        "run": {"baseline": False, "trace": True, "keep_requests": True},
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


#: Every built-in pacing policy, with parameters that let it finish a small backup under a bursty guest.
ALL_POLICIES = [
    {"name": "none"},
    {"name": "fixed-sleep", "sleep": "1ms"},
    {"name": "rate-limit", "speed": "20%"},
    {"name": "idle-only"},
    {"name": "hybrid"},
    {"name": "idle-class", "grace": "20ms"},
    {"name": "latency-target"},
    {"name": "deadline", "deadline": "5s"},
]


def bursty_cfg(mode: str, policy: dict, seed: int = 0, **backup) -> dict:
    """A small disk, a real SSD and HDD, and an on/off guest that leaves idle gaps."""
    return {
        "backup": {"mode": mode, "disk_size": "8MiB", "start": "20ms", **backup},
        "disk": {"profile": "sata-ssd"},
        "target": {"profile": "hdd"},
        "policy": policy,
        "workload": {"kind": "bursty", "iops": 400, "on_mean": "30ms", "off_mean": "70ms", "rw": "randrw"},
        "run": {"seed": seed, "baseline": False, "keep_requests": False, "max_time": "60s"},
    }


def write_heavy_cfg(backup: dict, seed: int) -> dict:
    """Jittery devices with 8 slots (requests reorder) and a closed-loop random writer racing the copy."""
    return {
        "backup": {"start": "5ms", **backup},
        "disk": {"profile": "sata-ssd", "queue_depth": 8, "dist": "gamma", "cv": 1.0},
        "target": {"profile": "sata-ssd", "dist": "gamma", "cv": 1.0},
        "fleece": {"profile": "nvme", "dist": "gamma", "cv": 1.0},
        "policy": {"name": "none"},
        "workload": {"kind": "fio", "rw": "randwrite", "bs": "4KiB", "iodepth": 16},
        "run": {"seed": seed, "baseline": False, "keep_requests": False},
    }
