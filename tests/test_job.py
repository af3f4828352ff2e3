"""The seed-2013 backup job: point in time, cancel, errors, progress."""

import pytest
from conftest import fixed_device, unit_loop

import sim


def _base(disk="1MiB", **over):
    cfg = {
        "backup": {"disk_size": disk, "cluster_size": "64KiB", "start": "1ms"},
        "disk": fixed_device(qd=4),
        "target": fixed_device(),
        "loop": unit_loop(),
        "policy": {"name": "none"},
        "workload": {"kind": "none"},
        "run": {"baseline": False},
    }
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


def test_backup_alone_copies_every_cluster_once():
    res = sim.run_one(_base(), keep_model=True)
    s = res.summary
    assert s["status"] == "completed" and s["consistent"]
    assert s["backup_bytes"] == 1 << 20 and s["cow_clusters"] == 0
    assert res.model.oracle.on_target.count() == 16 and s["clusters_copied_twice"] == 0


def test_point_in_time_under_overlapping_writes():
    """Like QEMU iotest 056 overlapping_writes: the target is the disk as it was at backup start."""
    # warm-up writes give clusters non-zero generations before the backup starts,
    # then overlapping unaligned writes hammer the disk during a slow backup
    warm = [[f"{10 * i}us", "w", f"{i * 48}KiB", "96KiB"] for i in range(20)]
    during = [[f"{1100 + 37 * i}us", "w", f"{(i * 29) % 900}KiB", "80KiB"] for i in range(120)]
    cfg = _base(
        policy={"name": "fixed-sleep", "sleep": "200us"},
        workload={"kind": "script", "requests": warm + during},
    )
    res = sim.run_one(cfg, keep_model=True)
    oracle = res.model.oracle
    assert res.summary["status"] == "completed"
    assert res.summary["cow_clusters"] > 0
    assert any(oracle.start_generation(c) > 0 for c in range(16))
    assert any(oracle.read(c) != oracle.start_generation(c) for c in range(16))
    for c in range(16):
        assert oracle.target_generation(c) == oracle.start_generation(c)
    assert oracle.copied == 16 and oracle.copied_twice == 0
    assert res.summary["consistent"]


def test_cancel_stops_the_job_early():
    cfg = _base(disk="16MiB", backup={"cancel_at": "3ms"}, policy={"name": "fixed-sleep", "sleep": "1ms"})
    res = sim.run_one(cfg, keep_model=True)
    s = res.summary
    assert s["status"] == "cancelled"
    assert 0 < s["backup_bytes"] < 16 << 20
    # a sleeping job wakes on cancel: it ends right after the cancel, not after its sleep
    assert s["backup_duration_s"] * 1e9 < 3_000_000 + 1_000_000


def test_source_read_error_fails_the_job():
    res = sim.run_one(_base(faults={"source_read_error_clusters": [5]}))
    s = res.summary
    assert s["status"] == "failed" and "source read error at cluster 5" in s["error"]
    assert s["backup_bytes"] == 5 * 65536


def test_target_write_error_fails_the_job():
    res = sim.run_one(_base(faults={"target_write_error_prob": 1.0}))
    assert res.summary["status"] == "failed" and "target write error" in res.summary["error"]
    assert res.summary["backup_bytes"] == 0


@pytest.mark.parametrize("mode,guest_errors", [("fail-guest-write", 1), ("break-snapshot", 0)])
def test_failed_copy_before_write(mode, guest_errors):
    # the guest writes cluster 9 before the background gets there; its COW read fails
    cfg = _base(
        backup={"on_cow_error": mode},
        faults={"source_read_error_clusters": [9]},
        policy={"name": "fixed-sleep", "sleep": "1ms"},
        workload={"kind": "script", "requests": [["1100us", "w", f"{9 * 64}KiB", "4KiB"]]},
    )
    res = sim.run_one(cfg)
    assert res.summary["status"] == "failed"
    assert res.summary["guest_errors"] == guest_errors
    assert res.summary["guest_write_ops"] == 1
    assert res.summary["snapshot_broken"] == (mode == "break-snapshot")
    assert not res.summary["good_backup"]


def test_progress_counts_copy_before_write_too():
    cfg = _base(
        policy={"name": "fixed-sleep", "sleep": "500us"},
        workload={"kind": "script", "requests": [["1100us", "w", "960KiB", "64KiB"]]},
    )
    res = sim.run_one(cfg, keep_model=True)
    assert res.summary["cow_clusters"] == 1
    assert res.summary["backup_bytes"] == 1 << 20
    tl = res.timeline
    assert tl["backup_bytes"].is_monotonic_increasing and tl["backup_bytes"].iloc[-1] == 1 << 20


def test_drain_before_start_holds_new_requests():
    # a write in flight at backup start completes before the job takes its snapshot
    cfg = _base(
        workload={"kind": "script", "requests": [["950us", "w", "0", "4KiB"], ["1000us", "w", "0", "4KiB"]]},
        run={"trace": True, "baseline": False},
    )
    res = sim.run_one(cfg, keep_model=True)
    starts = [t for t, who, what, _ in res.trace if who == "job" and what == "start"]
    first_done = min(t for t, who, what, _ in res.trace if who == "guest" and what == "complete")
    assert starts[0] >= first_done
    assert res.model.oracle.start_generation(0) == 1
    assert res.summary["consistent"]


def test_consistent_is_not_complete():
    # a run that failed after 5 of 16 clusters holds only start-of-backup data (consistent)
    # but is not a backup of the disk (not complete)
    s = sim.run_one(_base(faults={"source_read_error_clusters": [5]})).summary
    assert s["status"] == "failed" and s["consistent"]
    assert not s["complete"] and not s["good_backup"]
    ok = sim.run_one(_base()).summary
    assert ok["consistent"] and ok["complete"] and ok["good_backup"]


def test_the_patch_leaves_a_hole_after_a_failed_copy_before_write():
    # backup_do_cow sets the bit before reading; its failure fails the guest write,
    # the background loop then skips the cluster and the job "completes"
    cfg = _base(
        backup={"on_cow_error": "leave-hole"},
        faults={"source_read_error_clusters": [9]},
        policy={"name": "fixed-sleep", "sleep": "1ms"},
        workload={"kind": "script", "requests": [["1100us", "w", f"{9 * 64}KiB", "4KiB"]]},
    )
    res = sim.run_one(cfg, keep_model=True)
    s = res.summary
    assert s["status"] == "completed" and s["error"] == ""
    assert s["guest_errors"] == 1 and s["cow_errors"] == 1 and s["cow_clusters"] == 0
    assert s["consistent"] and not s["complete"] and not s["good_backup"]
    assert res.model.oracle.target_generation(9) is None
    assert res.model.oracle.on_target.count() == 15


@pytest.mark.parametrize("cancel_at", ["0ns", "1us", "10us", "50us", "100us"])
def test_a_cancel_during_the_drain_is_not_lost(cancel_at):
    # a 64 KiB guest write in flight at backup start (1 ms) keeps the drain going until
    # 950 us + 1 us submit + 200 us service + 1 us completion = 1152 us; a cancel
    # requested in that time ends the job as soon as it starts, copying nothing
    cfg = _base(
        backup={"cancel_at": cancel_at},
        workload={"kind": "script", "requests": [["950us", "w", "0", "64KiB"]]},
        run={"trace": True, "baseline": False},
    )
    res = sim.run_one(cfg)
    starts = [t for t, who, what, _ in res.trace if who == "job" and what == "start"]
    assert starts == [1_152_000]
    assert res.summary["status"] == "cancelled"
    assert res.summary["backup_bytes"] == 0


def test_the_drain_cap_leaves_the_guests_idle_event_alone():
    # an overloaded disk: requests still in flight when the run ends are given at most
    # run.max_time to drain; that cap must not fire the guest's idle event, which the
    # deadline policy's quiet detector may still be waiting on (found by tests/test_fuzz.py)
    cfg = {
        "backup": {"disk_size": "4MiB", "cluster_size": "64KiB", "start": "1ms"},
        "disk": {"profile": "hdd-seek"},
        "target": {"profile": "hdd"},
        "policy": {"name": "deadline"},
        "faults": {"source_read_error_prob": 0.05},
        "workload": {"kind": "poisson", "iops": 924, "rw": "randrw", "bs": "4KiB"},
        "run": {"max_time": "50ms"},
    }
    for seed in range(12):
        s = sim.run_one({**cfg, "run": {**cfg["run"], "seed": seed}}).summary
        assert s["status"] in ("completed", "failed", "timeout")
