"""Guest workloads: the fio-like mix and depth, think time, Poisson rate, durations."""

import pytest
from conftest import fixed_device, free_loop

import sim


def _guest(workload, duration="1s", disk=None):
    cfg = {
        "backup": {"mode": "none", "disk_size": "1GiB"},
        "disk": disk or fixed_device(base="50us", qd=4),
        "loop": free_loop(),
        "workload": {**workload, "duration": duration},
        "run": {"baseline": False, "keep_requests": True},
    }
    return sim.run_one(cfg, keep_model=True)


def test_randrw_mix_and_block_size():
    res = _guest({"kind": "fio", "rw": "randrw", "rwmixread": 70, "bs": "8KiB", "iodepth": 4})
    req = res.requests
    assert (req["op"] == "read").mean() == pytest.approx(0.70, abs=0.01)
    assert (req["bytes"] == 8192).all() and (req["offset"] % 8192 == 0).all()


def test_closed_loop_keeps_iodepth_in_flight():
    # with a free loop and 4 slots, depth 4 keeps every slot busy: throughput = 4 / service
    res = _guest({"kind": "fio", "rw": "randread", "bs": "4KiB", "iodepth": 4})
    service_s = 50e-6 + 4096 / 655_360_000
    assert len(res.requests) == pytest.approx(4 / service_s, rel=0.01)


def test_think_time_spaces_requests():
    res = _guest({"kind": "fio", "rw": "randread", "iodepth": 1, "think_time": "950us"})
    req = res.requests.sort_values("t_submit_ns")
    gaps = req["t_submit_ns"].diff().dropna()
    lat = req["latency_ns"].iloc[:-1].to_numpy()
    assert (gaps.to_numpy() == lat + 950_000).all()


def test_sequential_stream_continues_and_wraps():
    res = _guest(
        {"kind": "fio", "rw": "write", "bs": "256MiB", "iodepth": 1},
        duration="3s",
        disk=fixed_device(base="1ms", bw="100GiB/s"),
    )
    offs = res.requests.sort_values("index")["offset"].tolist()
    assert offs[:6] == [0, 256 << 20, 512 << 20, 768 << 20, 0, 256 << 20]
    assert (res.requests["op"] == "write").all()


def test_poisson_rate():
    res = _guest({"kind": "poisson", "rw": "randread", "iops": 20_000}, duration="2s")
    assert len(res.requests) / 2 == pytest.approx(20_000, rel=0.02)


def test_fixed_duration_outlasts_a_short_backup():
    cfg = {
        "backup": {"disk_size": "4MiB", "start": "10ms"},
        "workload": {"kind": "fio", "duration": "300ms"},
        "run": {"baseline": False},
    }
    res = sim.run_one(cfg, keep_model=True)
    assert res.summary["status"] == "completed"
    assert res.summary["backup_end_s"] < 0.3 <= res.model.t_end / 1e9
