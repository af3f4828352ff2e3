"""The disk model against queueing theory (``docs/model.md`` section 15).

An open Poisson guest of 4 KiB random reads on a one-slot disk whose service
time is exactly the base cost (transfer made negligible), with a free event
loop, so a request's latency is its sojourn in the device queue.  Each check
averages several seeds and states its tolerance.
"""

import numpy as np
import pytest
from conftest import fixed_device, free_loop

import sim

S_NS = 100_000  # mean service time
LAMBDA = 5_000.0  # arrivals per second: rho = 0.5
SEEDS = (1, 2, 3, 4)


def _run(dist: str, seed: int, duration: str = "20s"):
    cfg = {
        "backup": {"mode": "none"},
        "disk": fixed_device(base=f"{S_NS}ns", bw="8TB/s", dist=dist),
        "loop": free_loop(),
        "workload": {"kind": "poisson", "rw": "randread", "bs": "4KiB", "iops": LAMBDA, "duration": duration},
        "run": {"seed": seed, "baseline": False, "keep_requests": True},
    }
    res = sim.run_one(cfg, keep_model=True)
    return res, res.model


def test_mm1_mean_latency():
    # M/M/1: W = 1 / (mu - lambda)
    mu = 1e9 / S_NS
    expected_us = 1e6 / (mu - LAMBDA)
    means = [_run("exponential", s)[0].requests["latency_ns"].mean() / 1000 for s in SEEDS]
    assert np.mean(means) == pytest.approx(expected_us, rel=0.03)
    assert all(m == pytest.approx(expected_us, rel=0.08) for m in means)


def test_md1_mean_latency():
    # M/D/1 (Pollaczek-Khinchine): W = S + rho * S / (2 (1 - rho))
    rho = LAMBDA * S_NS / 1e9
    expected_us = (S_NS + rho * S_NS / (2 * (1 - rho))) / 1000
    means = [_run("fixed", s)[0].requests["latency_ns"].mean() / 1000 for s in SEEDS[:3]]
    assert np.mean(means) == pytest.approx(expected_us, rel=0.02)


@pytest.mark.parametrize("dist", ["fixed", "exponential"])
def test_littles_law(dist):
    # L = lambda * W, with L the device's own time-average occupancy
    for seed in SEEDS[:2]:
        res, model = _run(dist, seed, duration="10s")
        req = res.requests
        span_s = model.t_end / 1e9
        lam = len(req) / span_s
        w_s = req["latency_ns"].mean() / 1e9
        assert model.disk.mean_in_system == pytest.approx(lam * w_s, rel=0.02)
        assert lam == pytest.approx(LAMBDA, rel=0.03)
