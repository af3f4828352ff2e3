"""The performance benchmark behind ``backupsim bench`` (``docs/cli.md``).

It times, in one process, (1) a reference loop of raw SimPy resource
operations: ``iodepth`` processes each doing request, timeout, release on a
``simpy.Resource`` with as many slots, and (2) a full backupsim run: a backup
of a 16 GiB disk with 64 KiB clusters under a 4 KiB random iodepth-8 guest.
``sim_ops_per_s`` counts simulated guest I/Os plus cluster copies per wall
second; ``efficiency`` is its ratio to the reference's operations per second,
so the figure travels between machines.
"""

from __future__ import annotations

import resource
import time

import simpy

from .config import build_config
from .model import Model

__all__ = ["simpy_reference", "bench"]


def simpy_reference(ops: int = 300_000, slots: int = 8) -> float:
    """Resource request/timeout/release cycles per wall second in plain SimPy."""
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=slots)
    per_proc = ops // slots

    def user(env, res):
        for _ in range(per_proc):
            with res.request() as req:
                yield req
                yield env.timeout(1000)

    for _ in range(slots):
        env.process(user(env, res))
    t0 = time.perf_counter()
    env.run()
    return per_proc * slots / (time.perf_counter() - t0)


def bench(disk_size: str = "16GiB", sets: dict | None = None) -> dict:
    """Run the benchmark; returns the figures printed as JSON."""
    ref = simpy_reference()
    cfg = build_config(
        _merge(
            {
                "backup": {"disk_size": disk_size, "cluster_size": "64KiB", "start": "100ms"},
                "workload": {"kind": "fio", "rw": "randrw", "bs": "4KiB", "iodepth": 8},
                "run": {"seed": 1, "baseline": False, "keep_requests": False},
            },
            sets or {},
        )
    )
    t0 = time.perf_counter()
    model = Model(cfg).run()
    wall = time.perf_counter() - t0
    guest_ops = len(model.guest.t_done)
    copies = len(model.job.record.copy_t) if model.job else 0
    sim_ops = (guest_ops + copies) / wall
    return {
        "disk_size": disk_size,
        "status": model.job.status if model.job else "no-backup",
        "guest_ops": guest_ops,
        "cluster_copies": copies,
        "simulated_s": round(model.t_end / 1e9, 3),
        "wall_s": round(wall, 3),
        "sim_ops_per_s": round(sim_ops),
        "simpy_ops_per_s": round(ref),
        "efficiency": round(sim_ops / ref, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _merge(a: dict, b: dict) -> dict:
    from .config import merge

    return merge(a, b)
