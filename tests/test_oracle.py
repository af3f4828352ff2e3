"""The content oracle finds the races that request serialization prevents."""

import sim

SEEDS = range(6)


def _racy(serialize: bool, seed: int) -> dict:
    cfg = {
        "backup": {"disk_size": "64MiB", "cluster_size": "64KiB", "start": "5ms"},
        "disk": {"profile": "sata-ssd", "queue_depth": 8, "dist": "gamma", "cv": 1.0},
        "target": {"profile": "nvme"},
        "block": {"serialize_overlaps": serialize},
        "policy": {"name": "none"},
        "workload": {"kind": "fio", "rw": "randwrite", "bs": "4KiB", "iodepth": 32},
        "run": {"seed": seed, "baseline": False, "keep_requests": False},
    }
    return sim.run_one(cfg).summary


def test_without_serialization_some_runs_are_inconsistent():
    rows = [_racy(False, s) for s in SEEDS]
    assert any(not r["consistent"] for r in rows)
    assert sum(r["inconsistent_clusters"] for r in rows) > 0


def test_with_serialization_every_run_is_consistent():
    rows = [_racy(True, s) for s in SEEDS]
    assert all(r["consistent"] and r["status"] == "completed" for r in rows)
    assert all(r["clusters_copied_twice"] == 0 for r in rows)
