"""The content oracle finds the races that request serialization prevents."""

from conftest import fixed_device, unit_loop

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


def test_a_read_overlapping_a_write_is_torn_in_either_order():
    from sim.oracle import TORN, ContentOracle

    # a write submitted while the backup read of its cluster is in flight
    o = ContentOracle(4)
    o.snapshot()
    o.read_started(2, 3)
    o.write_started(2, 3)
    o.write_landed(2, 3)
    assert o.read_ended(2) == TORN
    # a backup read submitted while a write of its cluster is in flight, even if the
    # read completes before the write lands
    o.read_started(1, 2)
    o.write_started(0, 2)
    assert o.read_ended(1) == TORN
    o.write_landed(0, 2)
    # neighbours and later reads are not affected
    o.read_started(1, 2)
    assert o.read_ended(1) == 1
    o.read_started(3, 4)
    assert o.read_ended(3) == 0
    assert o.torn_reads == 2
    o.copy_landed(2, TORN)
    assert not o.consistent


def _torn(serialize: bool) -> dict:
    # the background read of cluster 0 runs 1002..1202 us; a 64 KiB guest write into
    # the already-claimed cluster 0 is submitted at 1051 us and, queued behind the
    # read on the transfer path, lands at 1302 us: the read saw the old generation,
    # but on a real device it overlapped the write
    cfg = {
        "backup": {"disk_size": "128KiB", "cluster_size": "64KiB", "start": "1ms"},
        "disk": fixed_device(qd=4),
        "target": fixed_device(),
        "loop": unit_loop(),
        "block": {"serialize_overlaps": serialize},
        "policy": {"name": "none"},
        "workload": {"kind": "script", "requests": [["1050us", "w", "0", "64KiB"]]},
        "run": {"baseline": False},
    }
    return sim.run_one(cfg).summary


def test_a_torn_background_read_makes_the_backup_inconsistent():
    s = _torn(False)
    assert s["torn_reads"] == 1 and s["inconsistent_clusters"] == 1
    assert not s["consistent"] and s["complete"] and not s["good_backup"]
    s = _torn(True)
    assert s["torn_reads"] == 0 and s["consistent"] and s["good_backup"]


def test_a_run_without_backup_keeps_no_generations():
    # a baseline (and backup.mode = "none") never compares contents: no per-cluster array at all,
    # however large the disk and however many writes the guest makes
    from sim.config import build_config
    from sim.model import Model
    from sim.oracle import ContentOracle, NoOracle

    cfg = build_config(
        {
            "backup": {"disk_size": "1TiB", "cluster_size": "64KiB", "start": "1ms"},
            "workload": {"kind": "fio", "rw": "randwrite", "bs": "4KiB", "iodepth": 4, "duration": "5ms"},
            "run": {"baseline": False},
        }
    )
    baseline = Model(cfg, with_backup=False, window=(0, 5_000_000)).run(until=5_000_000)
    assert isinstance(baseline.oracle, NoOracle) and len(baseline.oracle.gen) == 0
    assert baseline.guest.completed > 0
    with_backup = Model(build_config({**cfg.to_dict(), "backup": {**cfg.to_dict()["backup"], "disk_size": "64MiB"}}))
    assert type(with_backup.oracle) is ContentOracle and len(with_backup.oracle.gen) == 1024
