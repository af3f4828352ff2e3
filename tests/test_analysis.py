"""sim.analysis: intervals, pooled percentiles, Pareto front, labels, loading a results folder.

Reference values are computed here independently: Student-t critical values
from printed tables, intervals by the textbook formula, percentiles with numpy
on the raw samples.
"""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_batch

import sim
from sim import analysis
from sim.metrics import HIST_EDGES_NS

# Two-sided 95% / 99% Student-t critical values (any statistics table).
T_TABLE = [
    (0.95, 1, 12.7062),
    (0.95, 2, 4.3027),
    (0.95, 3, 3.1824),
    (0.95, 4, 2.7764),
    (0.95, 9, 2.2622),
    (0.95, 29, 2.0452),
    (0.95, 100, 1.9840),
    (0.99, 10, 3.1693),
    (0.90, 5, 2.0150),
]

TINY = tiny_batch("tiny", 7)


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    f = d / "tiny.toml"
    f.write_text(TINY)
    out = d / "out"
    sim.run_batch(sim.load_scenario(f), out, jobs=1, progress=False)
    return out


# ---------------------------------------------------------------- intervals


@pytest.mark.parametrize("conf,df,expected", T_TABLE)
def test_t_critical_matches_tables(conf, df, expected):
    assert analysis.t_critical(conf, df) == pytest.approx(expected, abs=6e-4)


def test_mean_ci_textbook():
    x = [10.0, 12.0, 14.0]  # mean 12, s = 2
    m, lo, hi, n = analysis.mean_ci(x)
    half = 4.302653 * 2.0 / math.sqrt(3)
    assert (m, n) == (12.0, 3)
    assert lo == pytest.approx(12.0 - half, rel=1e-6)
    assert hi == pytest.approx(12.0 + half, rel=1e-6)


def test_mean_ci_ignores_nan_and_handles_one_value():
    m, lo, hi, n = analysis.mean_ci([5.0, float("nan")])
    assert (m, n) == (5.0, 1) and math.isnan(lo) and math.isnan(hi)
    m, lo, hi, n = analysis.mean_ci([])
    assert n == 0 and math.isnan(m)


def test_geomean_ci_on_logs():
    x = [2.0, 8.0]
    g, lo, hi, n = analysis.geomean_ci(x)
    logs = [math.log(2.0), math.log(8.0)]
    s = math.sqrt(sum((v - math.log(4.0)) ** 2 for v in logs) / 1)
    half = 12.7062 * s / math.sqrt(2)
    assert g == pytest.approx(4.0)
    assert lo == pytest.approx(math.exp(math.log(4.0) - half), rel=1e-4)
    assert hi == pytest.approx(math.exp(math.log(4.0) + half), rel=1e-4)
    assert lo < g < hi and lo > 0


def _runs_table():
    """Two sweep points, three replications each; point 1 timed out once."""
    return pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(6)],
            "point": [0, 0, 0, 1, 1, 1],
            "replication": [0, 1, 2, 0, 1, 2],
            "seed": [1, 2, 3, 1, 2, 3],
            "policy.name": ["none"] * 3 + ["fixed-sleep"] * 3,
            "policy.sleep": [None] * 3 + ["1us"] * 3,
            "status": ["completed"] * 5 + ["timeout"],
            "consistent": [True] * 6,
            "backup_duration_s": [10.0, 12.0, 14.0, 20.0, 20.0, 20.0],
            "slowdown_p99": [2.0, 8.0, 4.0, 1.0, 1.0, 1.0],
            "guest_p99_us": [100.0, 110.0, float("nan"), 50.0, 60.0, 70.0],
        }
    )


def test_aggregate_per_point():
    agg = analysis.aggregate(_runs_table(), ["backup_duration_s", "slowdown_p99", "guest_p99_us"])
    assert list(agg.index) == [0, 1]
    assert agg.loc[0, "label"] == "none" and agg.loc[1, "label"] == "fixed-sleep sleep=1us"
    assert agg.loc[0, "backup_duration_s"] == 12.0
    assert agg.loc[0, "backup_duration_s_hi"] == pytest.approx(12.0 + 4.302653 * 2 / math.sqrt(3), rel=1e-6)
    assert agg.loc[0, "slowdown_p99"] == pytest.approx(4.0)  # geometric mean of 2, 8, 4
    assert agg.loc[0, "guest_p99_us"] == 105.0 and agg.loc[0, "guest_p99_us_n"] == 2
    assert agg.loc[1, "backup_duration_s_lo"] == agg.loc[1, "backup_duration_s_hi"] == 20.0
    assert agg.loc[0, "status"] == "completed 3"
    assert agg.loc[1, "status"] == "completed 2, timeout 1"
    assert bool(agg.loc[1, "completed"]) is False
    # point 1 does not take part in the front (a run timed out), so point 0 is on it alone
    assert agg["pareto"].tolist() == [True, False]


def test_paired_difference_uses_replication_pairs():
    runs = _runs_table()
    d = analysis.paired_difference(runs, 1, 0, "backup_duration_s")
    diffs = [10.0, 8.0, 6.0]
    half = 4.302653 * 2.0 / math.sqrt(3)
    assert d["kind"] == "difference" and d["n"] == 3
    assert d["estimate"] == pytest.approx(np.mean(diffs))
    assert d["lo"] == pytest.approx(8.0 - half, rel=1e-6)
    r = analysis.paired_difference(runs, 1, 0, "slowdown_p99")
    assert r["kind"] == "ratio" and r["estimate"] == pytest.approx(0.25)  # geomean of 1/2, 1/8, 1/4
    g = analysis.paired_difference(runs, 1, 0, "guest_p99_us")
    assert g["n"] == 2  # the NaN replication is left out


# ---------------------------------------------------------------- Pareto


def test_pareto_front_hand_made():
    t = pd.DataFrame({"x": [1, 2, 3, 4, 2, np.nan, 2, 5], "y": [5, 3, 3, 1, 4, 0, 3, 1]}, index=list("ABCDEFGH"))
    front = analysis.pareto_front(t, "x", "y")
    # A (fastest), B and its twin G, D (best y); C, E, H dominated; F has no x
    assert front[front].index.tolist() == ["A", "B", "D", "G"]


# ---------------------------------------------------------------- pooled latency


def _hist(samples_ns, run_id, op="write"):
    counts, _ = np.histogram(np.clip(samples_ns, HIST_EDGES_NS[0], HIST_EDGES_NS[-1] - 1), bins=HIST_EDGES_NS)
    return pd.DataFrame(
        {"run_id": run_id, "op": op, "lo_ns": HIST_EDGES_NS[:-1], "hi_ns": HIST_EDGES_NS[1:], "count": counts}
    )


def test_pooled_percentiles_match_numpy_within_one_bin():
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(mean=np.log(200_000), sigma=1.2, size=n) for n in (5_000, 20_000, 9_000)]
    hist = pd.concat(
        [_hist(p, f"r{i}") for i, p in enumerate(parts)] + [_hist(parts[0], "r0", "read")], ignore_index=True
    )
    pooled = analysis.pooled_histogram(hist, ["r0", "r1", "r2"], "write")
    everything = np.concatenate(parts)
    direct = _hist(everything, "all")
    assert pooled["count"].tolist() == direct["count"].tolist()
    assert int(pooled["count"].sum()) == everything.size
    bin_ratio = 10 ** (1 / 20)
    qs = [1, 10, 50, 90, 99, 99.9]
    got = analysis.hist_percentile(pooled, qs)
    for q, g in zip(qs, got):
        ref = np.percentile(everything, q) / 1000.0
        assert ref / bin_ratio <= g <= ref * bin_ratio, (q, g, ref)


def test_hist_percentile_interpolates_in_log():
    h = pd.DataFrame({"lo_ns": [100, 1000], "hi_ns": [1000, 10_000], "count": [10, 0]})
    assert analysis.hist_percentile(h, 50) == pytest.approx(math.sqrt(100 * 1000) / 1000)
    assert analysis.hist_percentile(h, 0) == pytest.approx(0.1)
    assert analysis.hist_percentile(h, 100) == pytest.approx(1.0)
    empty = h.assign(count=0)
    assert math.isnan(analysis.hist_percentile(empty, 50))


def test_hist_cdf_runs_from_zero_to_one():
    rng = np.random.default_rng(5)
    h = _hist(rng.lognormal(np.log(1e5), 0.5, 2000), "r")
    x, f = analysis.hist_cdf(h)
    assert f[0] == 0.0 and f[-1] == pytest.approx(1.0)
    assert np.all(np.diff(f) >= 0) and np.all(np.diff(x) > 0)


# ---------------------------------------------------------------- labels and points


def test_point_labels():
    assert (
        analysis.point_label({"policy.name": "fixed-sleep", "policy.sleep": "1us", "loop.era": "2013"})
        == "fixed-sleep sleep=1us, era 2013"
    )
    assert (
        analysis.point_label({"policy.name": "none", "policy.sleep": float("nan"), "loop.era": "modern"})
        == "none, era modern"
    )
    assert (
        analysis.point_label({"disk.profile": "hdd", "target.profile": "nvme", "workload.iodepth": 8})
        == "disk.profile=hdd, target.profile=nvme, iodepth=8"
    )
    assert analysis.point_label({}) == "base configuration"


def test_find_points_same_setup():
    pts = pd.DataFrame(
        {
            "policy.name": ["none", "none", "fixed-sleep", "fixed-sleep"],
            "policy.sleep": [None, None, "1us", "1us"],
            "loop.era": ["2013", "modern", "2013", "modern"],
        }
    )
    pts["label"] = ""
    assert analysis.find_points(pts, {"policy.name": "none"}, like=3) == [1]
    assert analysis.find_points(pts, {"policy.name": "fixed-sleep", "loop.era": "modern"}) == [3]
    assert analysis.find_points(pts, {"policy.name": "hybrid"}) == []


# ---------------------------------------------------------------- a real results folder


def test_load_and_aggregate_real_batch(tiny_results):
    res = analysis.load(tiny_results)
    assert res.name == "tiny" and len(res.scenario_hash) == 12
    pts = res.points()
    assert pts["label"].tolist() == ["none", "fixed-sleep sleep=1us"]
    assert pts["runs"].tolist() == [2, 2]
    agg = analysis.aggregate(res.runs)
    runs0 = res.runs[res.runs["point"] == 0]
    assert agg.loc[0, "backup_duration_s"] == pytest.approx(runs0["backup_duration_s"].mean())
    pooled = analysis.pooled_percentiles(res)
    assert len(pooled) == 4 and (pooled["requests"] > 0).all()
    # every request of the backup window is in a histogram: pooled p99 within a bin of the runs' p99s
    w = pooled[(pooled["point"] == 0) & (pooled["op"] == "write")].iloc[0]
    lo, hi = runs0["guest_write_p99_us"].min(), runs0["guest_write_p99_us"].max()
    assert lo / 10 ** (1 / 20) <= w["p99_us"] <= hi * 10 ** (1 / 20)
    assert analysis.copied_share(res).tolist() == [1.0] * 4
    assert res.setting(res.runs["run_id"].iloc[0], "backup.cluster_size") == 65536


def test_collect_matches_batch(tiny_results):
    res = analysis.load(tiny_results)
    scn = sim.load_scenario(tiny_results.parent / "tiny.toml")
    spec = scn.runs()[0]
    one = sim.run_one(spec.config.replace(**{"run.keep_requests": False}))
    col = analysis.collect([({"policy": {"name": "none"}}, one)])
    assert col.points()["label"].tolist() == ["none"]
    stored = res.runs[res.runs["run_id"] == spec.run_id].iloc[0]
    assert col.runs["guest_p99_us"].iloc[0] == stored["guest_p99_us"]
    assert col.setting(col.runs["run_id"].iloc[0], "backup.cluster_size") == 65536


def test_backup_jobs_compete_within_a_setting_like_policies():
    # four points: two worker counts x two targets, one replication each.  The workers are a way of
    # running the backup (they compete); the target is the setting.  Per target, the faster point
    # with the lower slowdown dominates; disk_size would have been a setting too.
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "point": [0, 1, 2, 3],
            "replication": [0, 0, 0, 0],
            "seed": [1, 1, 1, 1],
            "backup.max_workers": [1, 64, 1, 64],
            "target.profile": ["nvme", "nvme", "hdd", "hdd"],
            "status": ["completed"] * 4,
            "consistent": [True] * 4,
            "backup_duration_s": [2.0, 1.0, 9.0, 8.0],
            "slowdown_p99": [1.5, 90.0, 3.0, 2.0],
        }
    )
    agg = analysis.aggregate(runs, ["backup_duration_s", "slowdown_p99"])
    assert list(agg["setting"]) == ["profile=nvme", "profile=nvme", "profile=hdd", "profile=hdd"]
    # nvme: neither dominates (faster but slower guest); hdd: 64 workers wins on both
    assert list(agg["pareto"]) == [True, True, False, True]
