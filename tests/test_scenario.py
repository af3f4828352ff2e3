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
    assert res["base"]["loop"]["timer_min_rearm"] == 250_000
    assert res["base"]["disk"]["read_bw"] > 0
    assert res["sweep"]["workload.iodepth"] == [1, 8, 32]
    assert len(scn.hash()) == 12


def test_sweep_sub_table_spelling():
    scn = scenario_from_dict({"base": {"backup": {"disk_size": "8MiB"}},
                              "sweep": {"workload": {"iodepth": [1, 2]}}})
    assert [c.workload.iodepth for c in scn.configs()] == [1, 2]


def test_default_scenario_is_valid():
    from sim.cli import default_scenario
    scn = load_scenario(default_scenario())
    assert scn.name == "seed-review" and len(scn.runs()) >= 2


@pytest.mark.parametrize("path", sorted(__import__("pathlib").Path(__file__).parent.parent.glob("scenarios/*.toml")),
                         ids=lambda p: p.name)
def test_every_shipped_scenario_loads_and_runs_small(path):
    scn = load_scenario(path).with_overrides({"backup.disk_size": "8MiB", "backup.start": "100ms",
                                              "run.max_time": "20s"}, replications=1)
    runs = scn.runs()
    for spec in (runs[0], runs[-1]):
        res = sim.run_one(spec.config.replace(**{"run.keep_requests": False}))
        assert res.summary["status"] in ("completed", "timeout") and res.summary["consistent"]
