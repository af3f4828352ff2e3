"""The ``fio-rate`` guest: fio's rate pacing (``io_u.c: rate_ddir``, ``backend.c: usec_for_io``), hand-computed.

Fixed-latency devices (``fixed_device`` with no transfer time) and a free loop
(every handler costs 0), so a request completes exactly one base cost after
the guest issues it and every time below is exact.
"""

import math

import numpy as np
import pytest
from conftest import fixed_device, free_loop

import sim
from sim.config import ConfigError
from sim.rng import Draws, Streams
from sim.workloads.fio_rate import linear_due_us

NO_XFER = 2 * 10**18  # bytes/s: a 4 KiB transfer takes 0 ns
MS = 1_000_000


def _run(workload, service="30ms", duration="200ms", qd=64, seed=1, start="0ns", baseline=False):
    cfg = {
        "backup": {"mode": "none", "disk_size": "1GiB", "start": start},
        "disk": fixed_device(base=service, qd=qd, bw=NO_XFER),
        "loop": free_loop(),
        "workload": {"kind": "fio-rate", "rw": "randread", "duration": duration, **workload},
        "run": {"baseline": baseline, "seed": seed, "keep_requests": True},
    }
    return sim.run_one(cfg, keep_model=True)


def _by_index(res):
    return res.requests.sort_values("index").reset_index(drop=True)


def _max_in_flight(req) -> int:
    """The most requests between issue and completion at once (a completion at t frees its slot first)."""
    ev = sorted([(t, 1) for t in req["t_submit_ns"]] + [(t, -1) for t in req["t_done_ns"]])
    depth = peak = 0
    for _, d in ev:
        depth += d
        peak = max(peak, depth)
    return peak


def test_the_notes_example_drains_then_sleeps_the_full_gap():
    # rate_iops=100 (due every 10 ms), iodepth=16, 30 ms service: I/O 1 is due at 10 ms, but
    # the gate (at 0, right after I/O 0) computes usec = 10 ms, drains I/O 0 (to 30 ms), then
    # sleeps the full 10 ms: issued at 40 ms, with 2-4 (due 20, 30, 40 <= 40) behind it;
    # I/O 5 (due 50) again drains (to 70) and sleeps 10 ms: 80 ms.  Bursts of 4, never 16.
    res = _run({"rate_iops": 100, "iodepth": 16})
    req = _by_index(res)
    assert req["t_submit_ns"].tolist()[:13] == [t * MS for t in [0, 40, 40, 40, 40, 80, 80, 80, 80, 120, 120, 120, 120]]
    assert req["t_due_ns"].tolist()[:13] == [10 * n * MS for n in range(13)]
    assert (req["latency_ns"] == 30 * MS).all()  # lat: issue to completion
    assert res.model.guest.jobs[0].peak == 4 == _max_in_flight(req)
    # the guest stops at 200 ms: I/Os 0-16 went out (16 at 160 ms); 17-20 were due by then
    assert len(req) == 17 and res.model.guest.unissued == 4
    assert res.summary["guest_sched_unissued"] == 4


def test_linear_schedule_is_fios_integer_microseconds():
    # usec_for_io: bytes / bps in whole us, bps = rate_iops * bs: n * 10**6 // iops
    assert [linear_due_us(n, 3) for n in range(5)] == [0, 333_333, 666_666, 1_000_000, 1_333_333]
    assert linear_due_us(7, 100) == 70_000


def test_linear_long_run_rate_is_rate_iops_and_ahead_issues_land_a_drain_late():
    # 1000 IOPS, 100 us service.  iodepth 1: the gate is reached only once the I/O completed,
    # nothing to drain, so every I/O goes out exactly when due.  iodepth 4: the gate is
    # reached right after each issue; it computes usec = due - now, drains the I/O just
    # issued (100 us), then sleeps usec: every I/O after the first is issued 100 us late,
    # at the same rate.
    for depth, late in ((1, 0), (4, 100_000)):
        res = _run({"rate_iops": 1000, "iodepth": depth}, service="100us", duration="2s")
        req = _by_index(res)
        n = np.arange(len(req))
        assert (req["t_due_ns"].to_numpy() == n * MS).all()
        assert (req["t_submit_ns"].to_numpy()[1:] == n[1:] * MS + late).all()
        assert len(req) == 2000  # due at 0 .. 1999 ms; the one due at 2 s meets the stop
        assert res.model.guest.jobs[0].peak == 1


def test_poisson_gaps_are_fios_formula_in_whole_microseconds():
    # usec_for_io (poisson): last_usec += (10**6 / iops) * -ln(U), truncated, U in (0, 1],
    # from the job's own schedule stream: child 0 of the workload generator (job 0's gaps)
    seed = 11
    res = _run({"rate_iops": 1000, "rate_process": "poisson"}, service="10us", duration="1s", seed=seed)
    due = _by_index(res)["t_due_ns"].to_numpy()
    assert (due % 1000 == 0).all() and due[0] == 0  # whole microseconds; the first I/O at the epoch
    gaps = np.diff(due) // 1000
    sched = Draws(Streams(seed).generator("workload").spawn(2)[0])
    expect = [int(1000 * -math.log(1.0 - sched.random())) for _ in range(len(gaps))]
    assert gaps.tolist() == expect


def test_poisson_mean_gap_over_seeds():
    # mean gap floor(1000 us * Exp(1)): 1000 us less about half a microsecond of truncation.
    # Five seeds of ~2000 gaps: the standard error of the mean is 1000 / sqrt(10000) = 10 us;
    # the tolerance is 4 standard errors (40 us, 4 %).
    gaps = []
    for seed in range(5):
        res = _run({"rate_iops": 1000, "rate_process": "poisson"}, service="10us", duration="2s", seed=seed)
        due = _by_index(res)["t_due_ns"].to_numpy()
        gaps.append(np.diff(due))
    allg = np.concatenate(gaps)
    assert allg.size > 9000
    assert (allg % 1000 == 0).all()
    assert allg.mean() / 1000 == pytest.approx(999.5, abs=40)
    assert np.median(allg) / 1000 == pytest.approx(1000 * math.log(2), rel=0.06)  # exponential, not fixed


def test_poisson_gaps_do_not_shift_the_requests():
    lin = _by_index(_run({"rate_iops": 1000}, service="10us", duration="300ms", seed=3))
    poi = _by_index(_run({"rate_iops": 1000, "rate_process": "poisson"}, service="10us", duration="300ms", seed=3))
    n = min(len(lin), len(poi))
    cols = ["index", "op", "offset"]
    assert lin[cols].iloc[:n].equals(poi[cols].iloc[:n])


def test_behind_schedule_overdue_ios_go_out_back_to_back_up_to_iodepth():
    # 1000 IOPS due, a 10 ms device, iodepth 4.  I/O 1 (due 1 ms) is ahead at the gate at 0:
    # drain I/O 0 (to 10 ms), sleep 1 ms: 11 ms.  From then on every I/O is overdue:
    # 1-4 at 11 ms (the queue fills), then each completion batch at 21, 31, ... ms frees 4
    # slots that the next 4 overdue I/Os take at once.  Nothing is skipped.
    res = _run({"rate_iops": 1000, "iodepth": 4}, service="10ms", duration="100ms")
    req = _by_index(res)
    n = np.arange(len(req))
    assert req["t_submit_ns"].iloc[0] == 0
    assert (req["t_submit_ns"].to_numpy()[1:] == (11 + 10 * ((n[1:] - 1) // 4)) * MS).all()
    assert (req["t_due_ns"].to_numpy() == n * MS).all()  # every I/O in order, none skipped
    assert _max_in_flight(req) == 4 == res.model.guest.jobs[0].peak
    assert len(req) == 37  # 0, then 1-36 at 11 .. 91 ms


def test_lat_stays_bounded_while_the_schedule_latency_grows():
    # The device (4 / 10 ms = 400 IOPS at iodepth 4) cannot keep 1000 IOPS: fio's lat stays
    # at the service time (at most iodepth * service), while completion minus due time, the
    # latency the application feels, grows with the run; the lag is never counted in lat.
    short = _run({"rate_iops": 1000, "iodepth": 4}, service="10ms", duration="200ms")
    long = _run({"rate_iops": 1000, "iodepth": 4}, service="10ms", duration="800ms")
    for res in (short, long):
        s = res.summary
        assert s["guest_p99_us"] == s["guest_max_us"] == 10_000 <= 4 * 10_000
        assert s["guest_sched_p50_us"] > s["guest_p50_us"]
    # the last batch of the short run, I/Os 73-76, issued at 11 + 10 * 18 = 191 ms, done at
    # 201 ms: the largest lag is I/O 73's (due at 73 ms)
    assert short.summary["guest_sched_max_us"] == (201 - 73) * 1000
    assert long.summary["guest_sched_p99_us"] > 3 * short.summary["guest_sched_p99_us"]
    # at the stop (200 ms) 201 I/Os were due (0 .. 200 ms), 77 issued
    assert short.summary["guest_sched_unissued"] == 201 - 77


def test_numjobs_doubles_the_rate_and_jobs_are_independent():
    one = _by_index(_run({"rate_iops": 500, "iodepth": 2}, service="100us", duration="1s", seed=5))
    two_res = _run({"rate_iops": 500, "iodepth": 2, "numjobs": 2}, service="100us", duration="1s", seed=5)
    two = _by_index(two_res)
    assert len(two) == 2 * len(one) == 1000  # each job at 500 IOPS: twice the rate
    job = two["index"].to_numpy() % 2  # job k's n-th request has index 2n + k
    j0, j1 = two[job == 0].reset_index(drop=True), two[job == 1].reset_index(drop=True)
    # job 0 is the one-job guest, request for request and to the nanosecond
    cols = ["t_submit_ns", "t_done_ns", "op", "offset", "t_due_ns"]
    assert j0[cols].equals(one[cols])
    # job 1 runs its own schedule (the same times: both start at the epoch) on its own stream
    assert (j1["t_due_ns"].to_numpy() == j0["t_due_ns"].to_numpy()).all()
    assert not (j1["offset"].to_numpy() == j0["offset"].to_numpy()).all()
    assert [j.peak for j in two_res.model.guest.jobs] == [1, 1]


def test_each_job_has_its_own_depth():
    # two jobs far behind schedule: each keeps its own iodepth (3) in flight, 6 in all
    res = _run({"rate_iops": 100_000, "iodepth": 3, "numjobs": 2}, service="1ms", duration="20ms")
    req = _by_index(res)
    job = req["index"].to_numpy() % 2
    assert _max_in_flight(req[job == 0]) == _max_in_flight(req[job == 1]) == 3
    assert _max_in_flight(req) == 6
    assert [j.peak for j in res.model.guest.jobs] == [3, 3]


def test_unpaced_is_the_fio_closed_loop_and_schedule_latency_equals_lat():
    # rate_iops = 0: no gate, a closed loop of iodepth, as the fio workload (think_time 0):
    # the same requests at the same times under a real backup; each is due when issued
    base = {
        "backup": {"disk_size": "8MiB", "start": "5ms"},
        "disk": {"profile": "sata-ssd", "dist": "gamma", "cv": 0.3},
        "target": {"profile": "hdd"},
        "policy": {"name": "fixed-sleep", "sleep": "1us"},
        "run": {"seed": 4, "keep_requests": True},
    }
    wl = {"rw": "randrw", "rwmixread": 70, "bs": "4KiB", "iodepth": 8}
    fio = sim.run_one({**base, "workload": {"kind": "fio", **wl}})
    paced = sim.run_one({**base, "workload": {"kind": "fio-rate", **wl}})
    assert paced.requests.drop(columns="t_due_ns").equals(fio.requests)
    assert (paced.requests["t_due_ns"] == paced.requests["t_submit_ns"]).all()
    s, f = paced.summary, fio.summary
    for key, want in f.items():
        got = s[key]
        assert got == want or (isinstance(want, float) and math.isnan(want) and math.isnan(got)), key
    for tag in ("p50", "p90", "p99", "p999", "max", "mean"):
        assert s[f"guest_sched_{tag}_us"] == s[f"guest_{tag}_us"]
    for tag in ("p50", "p99", "p999"):
        assert s[f"baseline_guest_sched_{tag}_us"] == s[f"baseline_guest_{tag}_us"]
    assert s["guest_sched_unissued"] == 0
    # other guests keep their columns and nothing else
    assert "t_due_ns" not in fio.requests.columns
    assert not [k for k in f if "sched" in k]


def test_paced_guest_under_a_backup_is_deterministic():
    cfg = {
        "backup": {"disk_size": "8MiB", "start": "5ms"},
        "disk": {"profile": "hdd"},
        "target": {"profile": "hdd"},
        "workload": {"kind": "fio-rate", "rw": "randwrite", "rate_iops": 200, "iodepth": 4, "numjobs": 2},
        "run": {"seed": 2, "keep_requests": True},
    }
    a, b = sim.run_one(cfg), sim.run_one(cfg)
    assert a.requests.equals(b.requests)
    assert _nan_equal(a.summary, b.summary)
    s = a.summary
    assert s["guest_sched_p99_us"] >= s["guest_p99_us"]  # due <= issue, always
    assert not math.isnan(s["baseline_guest_sched_p99_us"])
    assert (a.requests["t_due_ns"] <= a.requests["t_submit_ns"]).all()


def _nan_equal(x: dict, y: dict) -> bool:
    return x.keys() == y.keys() and all(
        x[k] == y[k] or (isinstance(x[k], float) and math.isnan(x[k]) and math.isnan(y[k])) for k in x
    )


def test_a_paced_stream_inside_multi():
    cfg = {
        "backup": {"mode": "none", "disk_size": "1GiB"},
        "disk": fixed_device(base="100us", qd=8, bw=NO_XFER),
        "loop": free_loop(),
        "workload": {
            "kind": "multi",
            "duration": "1s",
            "streams": [
                {"kind": "fio-rate", "rw": "randread", "rate_iops": 300, "numjobs": 2},
                {"kind": "fio", "rw": "write", "iodepth": 1},
            ],
        },
        "run": {"baseline": False, "keep_requests": True},
    }
    res = sim.run_one(cfg, keep_model=True)
    ids = np.asarray(res.model.guest.stream_id)
    assert (ids == 0).sum() == 600  # two jobs at 300 IOPS for 1 s
    assert "t_due_ns" not in res.requests.columns  # the multi guest records no schedule


def test_poisson_above_a_million_iops_is_unpaced_as_in_fio():
    # 1000000 / iops is 0 in integer arithmetic: every gap is 0, every I/O due at the epoch
    res = _run({"rate_iops": 2_000_000, "rate_process": "poisson", "iodepth": 2}, service="10us", duration="1ms")
    req = res.requests
    assert (req["t_due_ns"] == 0).all() and len(req) == 200  # a closed loop of 2 on a 10 us device
    assert res.summary["guest_sched_unissued"] == 0


def test_config_checks():
    with pytest.raises(ConfigError) as e:
        sim.build_config({"workload": {"kind": "fio-rate", "rw": "randread", "norandommap": False}})
    assert e.value.key == "workload.norandommap"
    sim.build_config({"workload": {"kind": "fio-rate", "rw": "read", "norandommap": False}})  # sequential: no map
    for bad in ({"rate_iops": -1}, {"rate_process": "uniform"}, {"iodepth": 0}, {"numjobs": 0}, {"think_time": "1ms"}):
        with pytest.raises(ConfigError):
            sim.build_config({"workload": {"kind": "fio-rate", **bad}})
    w = sim.build_config({"workload": {"kind": "fio-rate"}}).workload
    assert (w.iodepth, w.numjobs, w.rate_iops, w.rate_process) == (1, 1, 0, "linear")  # fio's defaults


def test_the_memory_estimate_counts_a_paced_guests_requests():
    from sim.scenario import memory_estimate

    # paced: rate_iops x numjobs x the time the guest runs (10 s, no backup)
    cfg = sim.build_config(
        {
            "workload": {"kind": "fio-rate", "rate_iops": 200, "numjobs": 2, "duration": "10s"},
            "backup": {"mode": "none"},
        }
    )
    assert memory_estimate(cfg).requests == 200 * 2 * 10
