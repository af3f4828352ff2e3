"""Shared baselines: runs that differ only in their policy share one baseline run (sim/runner.py).

A baseline's guest goes on past the run's end until every request it submitted
before the end has completed (sim/model.py), so the statistics of a window do
not depend on how long the baseline runs after it, and a baseline shared by
several runs gives each the figures its own would.
"""

import dataclasses
import math

import numpy as np
import pytest
from conftest import fixed_device, unit_loop

import sim
from sim.batch import groups
from sim.metrics import add_baseline, backup_window
from sim.model import Model
from sim.recording import GuestStats, Window
from sim.runner import baseline_key, run_group
from sim.scenario import scenario_from_dict

MS = 1_000_000

POLICIES = [
    {"name": "none"},
    {"name": "rate-limit", "speed": "20%"},
    {"name": "idle-only"},
    {"name": "fixed-sleep", "sleep": "1us"},
]

GUESTS = {
    "bursty": {"kind": "bursty", "iops": 4000, "on_mean": "20ms", "off_mean": "30ms", "rw": "randrw", "bs": "4KiB"},
    "fio": {"kind": "fio", "rw": "randwrite", "bs": "4KiB", "iodepth": 4},
    "poisson": {"kind": "poisson", "iops": 3000, "rw": "randrw", "bs": "8KiB"},
    "multi": {
        "kind": "multi",
        "streams": [
            {"kind": "poisson", "iops": 1000, "rw": "randread", "bs": "4KiB"},
            {"kind": "fio", "rw": "write", "bs": "64KiB", "iodepth": 2},
        ],
    },
}


def _cfg(policy, guest="bursty", seed=3, **over):
    cfg = {
        "backup": {"disk_size": "8MiB", "cluster_size": "64KiB", "start": "20ms"},
        "disk": fixed_device(base="60us", qd=4),
        "target": fixed_device(base="150us", bw=200_000_000, qd=1),
        "loop": unit_loop(),
        "policy": policy,
        "workload": GUESTS[guest],
        "run": {"seed": seed, "max_time": "20s"},
    }
    cfg.update(over)
    return sim.build_config(cfg)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


@pytest.mark.parametrize("guest", sorted(GUESTS))
def test_a_shared_baseline_gives_each_run_what_its_own_gives(guest):
    configs = [_cfg(p, guest) for p in POLICIES]
    assert len({baseline_key(c) for c in configs}) == 1
    shared = run_group(configs)
    for cfg, res in zip(configs, shared):
        alone = sim.run_one(cfg)
        assert _same(res.summary, alone.summary), cfg.policy
        assert res.timeline.equals(alone.timeline) and res.histogram.equals(alone.histogram)
        assert res.summary["baseline_guest_p99_us"] > 0
    # the runs end at different times, so the shared baseline served different windows
    assert len({r.summary["backup_end_s"] for r in shared}) > 1


def test_a_windows_figures_do_not_depend_on_how_long_the_baseline_runs_after_it():
    cfg = _cfg({"name": "none"}, "fio")
    run = Model(cfg).run()
    window = backup_window(run)
    rows = []
    for extra in (0, 7 * MS, 40 * MS):
        base = Model(cfg, with_backup=False, window=[window], trace=False)
        base.run(until=run.t_end + extra)
        rows.append(add_baseline({"guest_p99_us": 1.0}, base, *window))
    assert rows[0] == rows[1] == rows[2]


def test_the_baseline_guest_runs_on_until_its_requests_are_counted():
    cfg = _cfg({"name": "none"}, "fio").replace(**{"run.keep_requests": True})
    until = 30 * MS
    base = Model(cfg, with_backup=False, window=(20 * MS, until), trace=False).run(until=until)
    log = base.guest.requests
    t_submit = np.asarray(log.t_submit)
    assert base.settles and base.t_end == until
    # a closed-loop guest has requests in flight at the end: it issued more after them, and they all completed
    assert (t_submit >= until).any()
    later = Model(cfg, with_backup=False, window=(20 * MS, until), trace=False).run(until=until + 5 * MS)
    t2 = np.asarray(later.guest.requests.t_submit)
    mine, theirs = np.sort(t_submit[t_submit < until]), np.sort(t2[t2 < until])
    assert mine.size == theirs.size and (mine == theirs).all()
    done = np.asarray(log.t_done)[t_submit < until]
    done2 = np.asarray(later.guest.requests.t_done)[t2 < until]
    assert sorted(done.tolist()) == sorted(done2.tolist())


def test_a_paced_guest_keeps_its_own_baseline():
    paced = {"kind": "fio-rate", "rw": "randwrite", "bs": "4KiB", "rate_iops": 500, "iodepth": 4}
    a = _cfg({"name": "none"}, workload=paced)
    b = _cfg({"name": "rate-limit", "speed": "20%"}, workload=paced)
    assert baseline_key(a) != baseline_key(b)
    assert not Model(a, with_backup=False, window=(0, 10 * MS)).settles
    with pytest.raises(ValueError, match="do not share a baseline"):
        run_group([a, b])


def test_baseline_keys():
    a, b = _cfg({"name": "none"}), _cfg({"name": "idle-only"})
    assert baseline_key(a) == baseline_key(b)
    assert baseline_key(a) != baseline_key(_cfg({"name": "none"}, seed=4))
    assert baseline_key(a) != baseline_key(a.replace(**{"loop.era": "2013"}))
    assert baseline_key(a.replace(**{"run.baseline": False})) is None
    assert baseline_key(a.replace(**{"backup.mode": "none", "workload.duration": "1s"})) is None


def _scenario(replications=3, policies=POLICIES):
    return scenario_from_dict(
        {
            "name": "t",
            "replications": replications,
            "base": {
                "backup": {"disk_size": "8MiB", "start": "20ms"},
                "disk": fixed_device(base="60us", qd=4),
                "target": fixed_device(base="150us", qd=1),
                "workload": GUESTS["bursty"],
            },
            "sweep": {"policy": policies, "loop.era": ["2013", "modern"]},
        }
    )


def test_a_batch_groups_runs_by_baseline_and_splits_groups_for_idle_workers():
    specs = _scenario().runs()  # 4 policies x 2 eras x 3 seeds
    tasks = groups(specs, 1)
    assert sorted(len(t) for t in tasks) == [4] * 6
    for t in tasks:
        assert len({baseline_key(s.config) for s in t}) == 1
        assert len({(s.replication, s.config.loop.era) for s in t}) == 1
    assert sorted(s.run_id for t in tasks for s in t) == sorted(s.run_id for s in specs)
    # a batch of one seed and one era on 2 workers: the group of 4 is split in two
    one = [s for s in specs if s.replication == 0 and s.config.loop.era == "2013"]
    assert sorted(len(t) for t in groups(one, 2)) == [2, 2]
    assert sorted(len(t) for t in groups(one, 3)) == [1, 1, 2]
    assert sorted(len(t) for t in groups(one, 16)) == [1, 1, 1, 1]  # never an empty task
    # runs without a baseline are tasks of their own
    alone = [dataclasses.replace(s, config=s.config.replace(**{"run.baseline": False})) for s in one[:2]]
    assert [len(t) for t in groups(alone, 1)] == [1, 1]


def test_a_batch_stores_what_each_run_alone_gives(tmp_path):
    scn = _scenario(replications=2, policies=POLICIES[:3])
    runs = sim.run_batch(scn, tmp_path / "r", jobs=2, progress=False)
    by_id = runs.set_index("run_id")
    for spec in scn.runs()[::5]:
        alone = sim.run_one(spec.config).summary
        row = by_id.loc[spec.run_id]
        for k in ("baseline_guest_p50_us", "baseline_guest_p99_us", "baseline_guest_iops", "slowdown_p99"):
            assert row[k] == alone[k], k


def test_guest_stats_with_more_windows_split_each_as_its_own_would():
    rng = np.random.default_rng(1)
    windows = [(5_000, 60_000), (0, 30_000), (20_000, 100_000)]
    one = [GuestStats(Window.fixed(*w), 10**6) for w in windows]
    many = GuestStats(Window.fixed(*windows[0]), 10**6, more=tuple(Window.fixed(*w) for w in windows[1:]))

    class R:
        op, nbytes, cow_ns, error = 1, 4096, 0, False

    t = np.sort(rng.integers(0, 100_000, 20_000))
    for i, t0 in enumerate(t.tolist()):
        r = R()
        r.t_submit, r.t_done = t0, t0 + int(rng.integers(1, 5_000))
        r.op = i % 2
        for g in (*one, many):
            g.record(r)
    for g, w in zip(one, windows):
        lat, _ = many.splits(*w)
        mine = g.close().lat.inside.all()
        assert (mine.n, mine.total, mine.max) == (lat.inside.all().n, lat.inside.all().total, lat.inside.all().max)
        assert mine.percentiles([50, 99]) == lat.inside.all().percentiles([50, 99])
    with pytest.raises(ValueError, match="not the backup's"):
        many.splits(1, 2)


@pytest.mark.parametrize("shortcuts", [True, False])
def test_call_first_comes_before_everything_else_at_its_time(shortcuts):
    from sim.clock import Environment

    env = Environment(shortcuts=shortcuts)
    seen = []
    env.call_in(10, seen.append, "made before")  # an ordinary entry made before it for the same time
    env.call_first(10, seen.append, "first")
    env.call_in(10, seen.append, "made after")
    env.timeout(10).callbacks.append(lambda _e: seen.append("timeout after"))
    env.call_in(4, lambda _a: env.call_in(6, seen.append, "made at 4"))
    assert not env.advance_to(10)  # the clock is never moved onto it
    env.run()
    assert seen == ["first", "made before", "made after", "timeout after", "made at 4"]
