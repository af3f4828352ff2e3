"""Scenario files: sweeps, seeds, overrides, the resolved scenario."""

import textwrap

import pytest

import sim
from sim.scenario import load_scenario, run_seed, scenario_from_dict

TEXT = textwrap.dedent("""
    name = "t"
    root_seed = 5
    replications = 2
    [base.backup]
    disk_size = "8MiB"
    start = "10ms"
    [base.policy]
    name = "fixed-sleep"
    sleep = "1us"
    [base.workload]
    kind = "fio"
    iodepth = 4
    [sweep]
    policy = [{ name = "none" }, { name = "fixed-sleep", sleep = "2us" }]
    "workload.iodepth" = [1, 8, 32]
""")


@pytest.fixture
def scn(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text(TEXT)
    return load_scenario(f)


def test_sweep_is_a_cartesian_product_of_keys_and_whole_tables(scn):
    runs = scn.runs()
    assert len(runs) == 2 * 3 * 2
    combos = {(r.config.policy.name, r.config.workload.iodepth) for r in runs}
    assert combos == {(p, d) for p in ("none", "fixed-sleep") for d in (1, 8, 32)}
    sleeps = {r.config.policy.sleep for r in runs if r.config.policy.name == "fixed-sleep"}
    assert sleeps == {2000}
    assert runs[0].swept == {"policy.name": "none", "workload.iodepth": 1}


def test_units_are_parsed(scn):
    cfg = scn.configs()[0]
    assert cfg.backup.disk_size == 8 << 20 and cfg.backup.start == 10_000_000


def test_replication_seeds_come_from_the_root_seed_sequence(scn):
    runs = scn.runs()
    for r in runs:
        assert r.config.run.seed == run_seed(5, r.replication)
        assert r.config.run.replication == r.replication
    assert run_seed(5, 0) != run_seed(5, 1)


def test_adding_a_sweep_value_changes_no_other_run(scn, tmp_path):
    f = tmp_path / "t2.toml"
    f.write_text(TEXT.replace("[1, 8, 32]", "[1, 8, 16, 32]"))
    bigger = load_scenario(f)
    before = {r.run_id: r.config for r in scn.runs()}
    after = {r.run_id: r.config for r in bigger.runs()}
    assert set(before) <= set(after)
    assert len(after) == len(before) + 4
    rid = next(iter(before))
    assert sim.run_one(before[rid]).summary == sim.run_one(after[rid]).summary


def test_set_overrides_base_and_collapses_a_swept_key(scn):
    one = scn.with_overrides({"workload.iodepth": 2, "policy.name": "none"}, replications=1)
    runs = one.runs()
    assert len(runs) == 1
    assert runs[0].config.workload.iodepth == 2 and runs[0].config.policy.name == "none"


def test_resolved_scenario_fills_every_default(scn):
    res = scn.resolved()
    assert res["base"]["loop"]["timer_min_rearm"] is None  # derived from the era when used
    assert sim.build_config(res["base"]).loop.rearm_ns == 250_000
    assert res["base"]["disk"]["read_bw"] > 0
    assert res["sweep"]["workload.iodepth"] == [1, 8, 32]
    assert len(scn.hash()) == 12


def test_sweep_sub_table_spelling():
    scn = scenario_from_dict({"base": {"backup": {"disk_size": "8MiB"}}, "sweep": {"workload": {"iodepth": [1, 2]}}})
    assert [c.workload.iodepth for c in scn.configs()] == [1, 2]


def test_default_scenario_is_valid():
    from sim.cli import default_scenario

    scn = load_scenario(default_scenario())
    assert scn.name == "seed-review" and len(scn.runs()) >= 2


@pytest.mark.parametrize(
    "path", sorted(__import__("pathlib").Path(__file__).parent.parent.glob("scenarios/*.toml")), ids=lambda p: p.name
)
def test_every_shipped_scenario_loads_and_runs_small(path):
    scn = load_scenario(path).with_overrides(
        {"backup.disk_size": "8MiB", "backup.start": "100ms", "run.max_time": "20s"}, replications=1
    )
    runs = scn.runs()
    for spec in (runs[0], runs[-1]):
        res = sim.run_one(spec.config.replace(**{"run.keep_requests": False}))
        assert res.summary["status"] in ("completed", "timeout", "no-backup") and res.summary["consistent"]


def _spawned_seed(root_seed: int, r: int) -> int:
    """The original derivation: child r of SeedSequence(root_seed).spawn(r + 1)."""
    import numpy as np

    child = np.random.SeedSequence(root_seed).spawn(r + 1)[r]
    hi, lo = child.generate_state(2, np.uint32)
    return (int(hi) << 32) | int(lo)


@pytest.mark.parametrize("root_seed", [0, 5, 2013, 2**40 + 7])
def test_run_seed_is_the_spawned_child(root_seed):
    for r in (0, 1, 2, 3, 10, 99, 1000):
        assert run_seed(root_seed, r) == _spawned_seed(root_seed, r)


def test_run_seed_is_constant_time():
    import time

    t0 = time.perf_counter()
    seeds = [run_seed(2013, r) for r in range(4000)]
    assert time.perf_counter() - t0 < 5  # was ~51 s (quadratic spawn)
    assert len(set(seeds)) == 4000
    assert run_seed(2013, 3999) == _spawned_seed(2013, 3999)


def test_seed_review_seeds_are_unchanged():
    # replication seeds of the shipped scenario, as the quadratic derivation gave them
    assert [run_seed(2013, r) for r in range(5)] == [_spawned_seed(2013, r) for r in range(5)]


def test_set_run_seed_is_refused(scn):
    from sim.config import ConfigError

    for sets in ({"run.seed": 3}, {"run.replication": 1}, {"run": {"seed": 3}}):
        with pytest.raises(ConfigError, match="root_seed"):
            scn.with_overrides(sets)


def test_memory_estimate_counts():
    from sim.scenario import (
        CLUSTER_BYTES,
        KEEP_CLUSTER_BYTES,
        PROCESS_BYTES,
        REQUEST_BYTES,
        RUN_BYTES,
        TIMELINE_ROW_BYTES,
        memory_estimate,
    )

    cfg = sim.build_config(
        {
            "backup": {"disk_size": "1GiB", "cluster_size": "64KiB", "start": "1s"},
            "disk": {"profile": "custom", "read_bw": "100MB/s", "write_bw": "100MB/s"},
            "target": {"profile": "custom", "read_bw": "100MB/s", "write_bw": "100MB/s"},
            "workload": {"kind": "poisson", "iops": 1000},
            "run": {"baseline": False, "timeline_window": "100ms"},
        }
    )
    est = memory_estimate(cfg)
    # the backup takes at least 1 GiB / 100 MB/s = 10.737 s after its start at 1 s
    assert est.duration == 1_000_000_000 + (1 << 30) * 10**9 // 10**8
    assert est.clusters == 16384
    assert est.requests == int(1000 * est.duration / 1e9)
    assert est.timeline_rows == -(-est.duration // 100_000_000)
    # requests cost nothing unless kept (run.keep_requests): the run counts them into histograms
    assert est.total == PROCESS_BYTES + RUN_BYTES + 16384 * CLUSTER_BYTES + est.timeline_rows * TIMELINE_ROW_BYTES
    kept = memory_estimate(cfg.replace(**{"run.keep_requests": True}))
    assert kept.requests == est.requests
    assert kept.total == (
        PROCESS_BYTES
        + RUN_BYTES
        + 16384 * (CLUSTER_BYTES + KEEP_CLUSTER_BYTES)
        + est.requests * REQUEST_BYTES
        + est.timeline_rows * TIMELINE_ROW_BYTES
    )
    capped = memory_estimate(cfg.replace(**{"run.max_time": "5s"}))
    assert capped.duration == 5 * 10**9  # never beyond run.max_time
    fixed = memory_estimate(cfg.replace(**{"workload.duration": "2s", "backup.mode": "none"}))
    assert fixed.requests == 2000 and fixed.key == "backup.disk_size"


@pytest.mark.parametrize("keep", [False, True])
def test_memory_estimate_is_not_below_what_a_run_uses(keep):
    """The per-item costs are not optimistic: a small run's traced peak stays below the estimate."""
    import tracemalloc

    from sim.scenario import PROCESS_BYTES, memory_estimate

    cfg = sim.build_config(
        {
            "backup": {"disk_size": "16MiB", "cluster_size": "4KiB", "start": "0"},
            "disk": {"profile": "nvme"},
            "target": {"profile": "nvme"},
            "workload": {"kind": "poisson", "iops": 20000, "duration": "300ms"},
            "run": {"baseline": True, "max_time": "300ms", "timeline_window": "1ms", "keep_requests": keep},
        }
    )
    est = memory_estimate(cfg)
    tracemalloc.start()
    try:
        sim.run_one(cfg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= est.total - PROCESS_BYTES


def test_a_scenario_too_large_is_refused_before_any_run(tmp_path, monkeypatch):
    import sim.scenario
    from sim.config import ConfigError

    monkeypatch.setattr(sim.scenario, "available_memory", lambda: 1 << 30)
    f = tmp_path / "big.toml"
    f.write_text(TEXT.replace('disk_size = "8MiB"', 'disk_size = "1TiB"\ncluster_size = "4KiB"'))
    with pytest.raises(ConfigError, match="268435456 clusters"):
        load_scenario(f)
    f.write_text(TEXT + '"run.timeline_window" = ["100ms", "1ns"]\n')  # 57 ms of run in 1 ns rows
    with pytest.raises(ConfigError) as e:
        load_scenario(f)
    assert e.value.key == "sweep.run.timeline_window" and "timeline rows" in e.value.expected
