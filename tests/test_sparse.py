"""Sparse and zero data: sync=top skips holes; zero clusters go as write-zeroes."""

import pytest
from conftest import fixed_device, unit_loop

import sim

N = 1024  # clusters
CS = 64 * 1024


def _run(backup, workload=None, target_layout="stream"):
    cfg = {
        "backup": {"disk_size": N * CS, "start": "1ms", "target_layout": target_layout, **backup},
        "disk": fixed_device(qd=4),
        "target": fixed_device(qd=4),
        "loop": unit_loop(),
        "workload": workload or {"kind": "none"},
        "run": {"baseline": False, "seed": 5},
    }
    return sim.run_one(cfg, keep_model=True)


def test_sync_top_skips_unallocated_clusters():
    res = _run({"sync": "top", "allocated": 0.4})
    s, layout = res.summary, res.model.job.layout
    allocated = layout.allocated_count
    assert allocated == pytest.approx(0.4 * N, abs=4 * (N * 0.24) ** 0.5)
    assert s["skipped_clusters"] == N - allocated
    assert s["backup_bytes"] == allocated * CS == s["target_bytes"]
    assert s["consistent"] and s["status"] == "completed"
    oracle = res.model.oracle
    assert all(oracle.target_generation(c) is None for c in range(N) if not layout.is_allocated(c))


def test_sync_full_sends_holes_and_zero_clusters_without_data():
    full = _run({"sync": "full"}).summary
    res = _run({"sync": "full", "allocated": 0.5, "zero_fraction": 0.2})
    s, layout = res.summary, res.model.job.layout
    zeroes = sum(layout.is_zero(c) for c in range(N))
    assert s["zero_clusters"] == zeroes
    assert s["backup_bytes"] == N * CS  # every cluster is backed up...
    assert s["target_bytes"] == (N - zeroes) * CS  # ...but zeroes carry no data
    assert s["backup_duration_s"] < full["backup_duration_s"]
    assert s["consistent"]


def test_write_zeroes_reach_an_image_target_as_requests_without_data():
    res = _run({"sync": "full", "zero_fraction": 0.5}, target_layout="image")
    s = res.summary
    assert s["zero_clusters"] > 0
    assert res.model.target.completed == N  # one request per cluster, zero or not
    assert s["target_bytes"] == (N - s["zero_clusters"]) * CS


def test_guest_writes_into_holes_need_no_copy_under_sync_top():
    writes = [[f"{1000 + 5 * i}us", "w", i * CS, 4096] for i in range(N)]
    res = _run({"sync": "top", "allocated": 0.3}, {"kind": "script", "requests": writes})
    layout = res.model.job.layout
    assert res.summary["cow_clusters"] <= layout.allocated_count
    assert res.summary["consistent"]


def test_a_cluster_written_before_the_backup_is_no_longer_zero():
    res = _run({"sync": "full", "zero_fraction": 1.0}, {"kind": "script", "requests": [["100us", "w", 0, 4096]]})
    s = res.summary
    assert s["zero_clusters"] == N - 1 and s["target_bytes"] == CS
