"""Same configuration and seed, identical results; the baseline sees the same guest."""

import pandas as pd

import sim

CFG = {
    "backup": {"disk_size": "32MiB", "start": "20ms"},
    "disk": {"profile": "sata-ssd", "dist": "gamma", "cv": 0.5, "stall_prob": 0.001, "stall_time": "5ms"},
    "policy": {"name": "fixed-sleep"},
    "workload": {"kind": "fio", "rw": "randrw", "iodepth": 8},
    "run": {"seed": 11, "keep_requests": True},
}


def test_same_seed_same_results():
    a, b = sim.run_one(CFG), sim.run_one(CFG)
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.timeline, b.timeline)
    pd.testing.assert_frame_equal(a.histogram, b.histogram)


def test_other_seed_other_results():
    a = sim.run_one(CFG)
    b = sim.run_one({**CFG, "run": {"seed": 12}})
    assert a.summary["guest_p99_us"] != b.summary["guest_p99_us"]


def test_baseline_sees_the_same_guest_requests():
    from sim.model import Model

    cfg = sim.build_config(CFG)
    with_backup = Model(cfg).run()
    baseline = Model(cfg, with_backup=False).run(until=with_backup.t_end)

    def issued(model):
        log = model.guest.requests  # run.keep_requests
        return sorted(zip(log.index, log.op, log.offset))

    a, b = issued(with_backup), issued(baseline)
    n = min(len(a), len(b))
    assert n > 1000
    assert a[:n] == b[:n]


def test_policy_change_does_not_change_the_guest_stream():
    from sim.model import Model

    seqs = []
    for pol in ({"name": "none"}, {"name": "fixed-sleep", "sleep": "1ms"}):
        m = Model(sim.build_config({**CFG, "policy": pol})).run()
        log = m.guest.requests
        seqs.append(sorted(zip(log.index, log.op, log.offset)))
    n = min(map(len, seqs))
    assert seqs[0][:n] == seqs[1][:n]
