"""Streaming statistics (sim/recording.py): exact window split, summaries against the kept requests, bounded memory.

A run counts each completion as it comes; with ``run.keep_requests`` it also
keeps the table of every request, from which the figures can be computed
exactly.  Counts, means and maxima of the window agree exactly, percentiles
within 1 % (in fact 1/256), and the summary is the same with and without the
table.
"""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import free_loop
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.histogram import Histogram
from sim.metrics import backup_window, latency_summary, schedule_summary
from sim.recording import Split, Window

REL = 0.01  # the tolerance; the bins give 1/256


def _cfg(seed: int, keep: bool = True, **over) -> dict:
    cfg = {
        "backup": {"disk_size": "32MiB", "start": "50ms"},
        "disk": {"profile": "sata-ssd", "dist": "gamma", "cv": 0.3},
        "target": {"profile": "hdd"},
        "policy": {"name": "fixed-sleep", "sleep": "1us"},
        "workload": {"kind": "fio", "rw": "randrw", "rwmixread": 70, "bs": "4KiB", "iodepth": 8},
        "run": {"seed": seed, "keep_requests": keep},
    }
    cfg.update(over)
    return cfg


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _check_against_table(res) -> None:
    s, frame = res.summary, res.requests
    start, end = backup_window(res.model)
    for key, want in latency_summary(frame, start, end).items():
        got = s[key]
        if key.endswith(("_max_us", "_mean_us", "_iops")) or math.isnan(want):
            assert _same(got, want), (key, got, want)
        else:
            assert abs(got - want) <= REL * want, (key, got, want)
    ops = frame["op"].value_counts()
    assert s["guest_ops"] == len(frame) and s["guest_read_ops"] == ops.get("read", 0)
    assert s["guest_bytes"] == frame["bytes"].sum() and s["guest_errors"] == frame["error"].sum()


@pytest.mark.parametrize("seed", range(4))
def test_summary_percentiles_are_within_1_percent_of_the_exact_ones(seed):
    res = sim.run_one(_cfg(seed), keep_model=True)
    assert len(res.requests) > 2_000
    _check_against_table(res)
    s, frame = res.summary, res.requests
    start, end = backup_window(res.model)
    exact = latency_summary(frame, start, end)
    for tag in ("p50", "p99", "p999"):
        assert s[f"guest_{tag}_us"] == pytest.approx(exact[f"guest_{tag}_us"], rel=REL)
    # the baseline (its own requests are not kept: recomputed here with the backup's window)
    base = sim.model.Model(res.config, with_backup=False, trace=False, window=(start, end))
    bframe = sim.metrics.guest_frame(base.run(until=res.model.t_end).guest)
    bexact = latency_summary(bframe, start, end)
    for tag in ("p50", "p99", "p999"):
        assert s[f"baseline_guest_{tag}_us"] == pytest.approx(bexact[f"guest_{tag}_us"], rel=REL)
    assert s["baseline_guest_iops"] == bexact["guest_iops"]


def test_keep_requests_changes_nothing_but_the_table():
    on = sim.run_one(_cfg(5, keep=True))
    off = sim.run_one(_cfg(5, keep=False))
    assert len(on.requests) > 0 and off.requests.empty
    assert on.summary.keys() == off.summary.keys()
    assert all(_same(on.summary[k], off.summary[k]) for k in on.summary), on.summary
    pd.testing.assert_frame_equal(on.timeline, off.timeline)
    pd.testing.assert_frame_equal(on.histogram, off.histogram)


def test_timeline_and_histogram_against_the_table():
    res = sim.run_one(_cfg(2, run={"seed": 2, "keep_requests": True, "timeline_window": "20ms"}), keep_model=True)
    frame, tl, w = res.requests, res.timeline, 20_000_000
    nwin = len(tl)
    b = frame["t_done_ns"].to_numpy() // w
    counts = np.bincount(b, minlength=nwin)[:nwin]
    assert np.array_equal(tl["guest_iops"].to_numpy(), counts * (1e9 / w))
    g = pd.Series(frame["latency_ns"].to_numpy() / 1000.0).groupby(b)
    for q, col in ((0.5, "guest_p50_us"), (0.99, "guest_p99_us")):
        want = g.quantile(q).reindex(range(nwin)).to_numpy()
        got = tl[col].to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.all(np.abs(got[ok] - want[ok]) <= want[ok] / 256 + 1e-9)
    rec = res.model.job.record
    ct, cow = np.asarray(rec.copy_t), np.asarray(rec.copy_cow, dtype=bool)
    ends = np.arange(1, nwin + 1) * w
    assert np.array_equal(tl["backup_bytes"].to_numpy(), np.searchsorted(ct, ends) * rec.cluster_size)
    assert np.array_equal(tl["cow_copies"].to_numpy(), np.bincount(ct[cow] // w, minlength=nwin)[:nwin])
    # latency_hist.parquet: exact counts of the window's reads and writes
    start, end = backup_window(res.model)
    m = (frame["t_submit_ns"] >= start) & (frame["t_submit_ns"] < end)
    edges = sim.metrics.HIST_EDGES_NS
    for op in ("read", "write"):
        lat = frame["latency_ns"][m & (frame["op"] == op)].to_numpy()
        want, _ = np.histogram(np.clip(lat, edges[0], edges[-1] - 1), bins=edges)
        assert np.array_equal(res.histogram[res.histogram["op"] == op]["count"].to_numpy(), want)


def test_paced_guest_schedule_latency_against_the_table():
    cfg = _cfg(
        1,
        workload={"kind": "fio-rate", "rate_iops": 3000, "numjobs": 2, "iodepth": 4, "rw": "randrw"},
    )
    res = sim.run_one(cfg, keep_model=True)
    s, frame = res.summary, res.requests
    start, end = backup_window(res.model)
    for key, want in schedule_summary(frame, start, end).items():
        if key.endswith(("_max_us", "_mean_us")) or math.isnan(want):
            assert _same(s[key], want), key
        else:
            assert abs(s[key] - want) <= REL * want, (key, s[key], want)
    _check_against_table(res)


@pytest.mark.parametrize(
    "backup",
    [
        {"cancel_at": "0ns"},  # cancelled before it starts: it ends as it starts
        {"cancel_at": "30ms"},
        {},
    ],
)
@pytest.mark.parametrize("max_time", ["60ms", "250ms", "10s"])
def test_window_edges_with_instant_requests(backup, max_time):
    """Zero-latency requests every 1 ms, on the window's edges too: the split is still exact."""
    if "cancel_at" in backup and max_time == "60ms" and backup["cancel_at"] != "0ns":
        pytest.skip("cancel_at after max_time is refused")
    instant = {"profile": "custom", "queue_depth": 4096, "read_bw": 10**18, "write_bw": 10**18}
    script = [[f"{t}ms", "rw"[t % 2], f"{(t * 64) % 4096}KiB", "4KiB"] for t in range(0, 300)]
    cfg = {
        "backup": {"disk_size": "4MiB", "start": "50ms", **backup},
        "disk": instant,
        "target": {**instant, "write_rand_base": "1ms", "write_seq_base": "1ms"},
        "loop": free_loop(),
        "policy": {"name": "none"},
        "workload": {"kind": "script", "requests": script},
        "run": {"baseline": True, "keep_requests": True, "max_time": max_time},
    }
    res = sim.run_one(cfg, keep_model=True)
    assert (res.requests["latency_ns"] == 0).any()
    _check_against_table(res)


def test_memory_does_not_grow_with_the_run():
    """A 4x longer run records 4x the requests in the same histograms; only the timeline grows, by windows."""

    def run(duration: str):
        cfg = {
            "backup": {"mode": "none", "disk_size": "1GiB", "start": "100ms"},
            "disk": {"profile": "nvme"},
            "workload": {"kind": "poisson", "rw": "randrw", "iops": 20_000, "duration": duration},
            "run": {"baseline": False, "timeline_window": "100ms"},
        }
        return sim.run_one(cfg, keep_model=True).model

    short, long = run("1s"), run("4s")
    assert long.guest.completed > 3.5 * short.guest.completed
    for m in (short, long):
        assert m.guest.requests is None  # no per-request arrays at all
    bins = [m.guest.stats.lat.storage() + m.loop.waits.storage() for m in (short, long)]
    assert bins[1] <= 1.2 * bins[0] + 2_000  # bounded by bins: at most a few more in the tail
    rows = [len(m.guest.stats.timeline.counts) for m in (short, long)]
    assert long.guest.stats.timeline.storage() <= 3 * rows[1] + 10_000  # three numbers per window
    assert rows[1] <= 4 * rows[0] + 1


def test_a_job_keeps_per_cluster_records_only_when_asked():
    for keep in (False, True):
        res = sim.run_one(_cfg(0, keep=keep), keep_model=True)
        rec = res.model.job.record
        assert rec.copies == rec.progress // rec.cluster_size == sum(rec.copies_per_window)
        assert (rec.copy_t is not None) == keep and (rec.copy_cow is not None) == keep
        if keep:
            assert len(rec.copy_t) == rec.copies


# -- the window split on its own, against the final window ---------------------------


class _Rec:
    def __init__(self):
        self.t_start = -1
        self.t_end = -1


class _Job:
    def __init__(self):
        self.record = _Rec()


class _Backup:
    def __init__(self, start):
        self.start = start


class _Cfg:
    def __init__(self, start):
        self.backup = _Backup(start)


class _Model:
    def __init__(self, cfg_start, with_job):
        self.cfg = _Cfg(cfg_start)
        self.job = _Job() if with_job else None
        self.t_end = 0


class _List:
    def __init__(self):
        self.items = []

    def add_batch(self, v):
        self.items.extend(v.tolist())

    def merge(self, other):
        self.items.extend(other.items)
        return self

    def storage(self):
        return len(self.items)


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    with_job=st.booleans(),
    cfg_start=st.integers(0, 20),
)
def test_split_matches_the_final_window(data, with_job, cfg_start):
    """Random runs: a job that starts (or not), ends (or not, or while draining), records keyed by earlier times."""
    m = _Model(cfg_start, with_job)
    horizon = 60
    stop = data.draw(st.integers(1, horizon))
    events = [(stop, "stop")]
    if with_job:
        t_start = data.draw(st.one_of(st.none(), st.integers(cfg_start, horizon)))
        if t_start is not None:
            events.append((t_start, "start"))
            t_end = data.draw(st.one_of(st.none(), st.integers(t_start, horizon)))
            if t_end is not None:
                events.append((t_end, "end"))
    records = []
    for i in range(data.draw(st.integers(0, 60))):
        now = data.draw(st.integers(0, horizon))
        t = data.draw(st.integers(max(0, now - 15), now))
        records.append((now, "rec", t, i))
    # same-time events in any order (a job's start before or after a completion at that instant),
    # but the job starts before it ends and nothing stops before its time
    items = events + records
    order = list(data.draw(st.permutations(range(len(items)))))
    kinds = [e[1] for e in items]
    if "end" in kinds:  # the job's start comes before its end
        i, j = kinds.index("start"), kinds.index("end")
        order[i], order[j] = min(order[i], order[j]), max(order[i], order[j])
    seq = [items[k] for k in sorted(range(len(items)), key=lambda k: (items[k][0], order[k]))]
    split = Split(Window.of_run(m), _List)
    buf_t, buf_i = [], []  # filed at random moments, as the buffers of GuestStats / WaitStats do
    for ev in seq:
        if ev[1] == "start":
            m.job.record.t_start = ev[0]
        elif ev[1] == "end":
            m.job.record.t_end = ev[0]
        elif ev[1] == "stop":
            m.t_end = ev[0]
        else:
            now, _, t, i = ev
            buf_t.append(t)
            buf_i.append(i)
            if data.draw(st.booleans()):
                split.add(np.array(buf_t), now, (np.array(buf_i),))
                buf_t, buf_i = [], []
    if buf_t:  # what close() flushes: after the run
        split.add(np.array(buf_t), max(now for now, *_ in records), (np.array(buf_i),))
    rec = m.job.record if m.job is not None else None
    start = rec.t_start if rec is not None and rec.t_start >= 0 else cfg_start
    end = rec.t_end if rec is not None and rec.t_end >= 0 else m.t_end
    split.close()
    want_in = sorted(i for now, _, t, i in records if start <= t < end)
    want_pre = sorted(i for now, _, t, i in records if t < start)
    assert sorted(split.inside.items) == want_in
    assert sorted(split.pre.items) == want_pre
    assert len(split.pre.items) + len(split.inside.items) + len(split.post.items) == len(records)


def test_wait_stats_of_a_loop_on_its_own_keep_every_wait():
    from sim.recording import WaitStats

    w = WaitStats()
    for t, d in ((0, 0), (5, 3), (10, 0), (10, 7)):
        w.add(t, d)
    h = w.total()
    assert isinstance(h, Histogram) and h.n == 4 and h.max == 7 and h.total == 10
