"""The richer synthetic guests: bursty on/off, diurnal, zipf hot spots, regions, several streams."""

import math

import numpy as np
import pytest
from conftest import fixed_device, free_loop

import sim
import sim.cli
from sim.config import ConfigError, build_config
from sim.rng import Draws
from sim.workloads.base import ZipfRegions
from sim.workloads.bursty import draw_period

MiB = 1 << 20


def _guest(workload, duration="1s", disk=None, disk_size="1GiB", seed=0):
    cfg = {
        "backup": {"mode": "none", "disk_size": disk_size},
        "disk": disk or fixed_device(base="50us", qd=4, bw="10GiB/s"),
        "loop": free_loop(),
        "workload": {**workload, "duration": duration},
        "run": {"baseline": False, "seed": seed, "keep_requests": True},
    }
    return sim.run_one(cfg, keep_model=True)


def _draws(seed=1):
    return Draws(np.random.Generator(np.random.PCG64(seed)))


# -- bursty -----------------------------------------------------------------------


def test_period_draws_have_the_asked_means():
    d = _draws()
    exp = np.array([draw_period(d, 10_000_000, "exponential") for _ in range(20_000)])
    par = np.array([draw_period(d, 10_000_000, "pareto", 3.0) for _ in range(20_000)])
    assert exp.mean() == pytest.approx(10e6, rel=0.03)
    assert par.mean() == pytest.approx(10e6, rel=0.03)
    assert par.min() >= 10e6 * 2 / 3 - 1  # Pareto scale x_m = mean (a-1)/a


def test_pareto_periods_are_heavy_tailed():
    d = _draws(2)
    mean = 1_000_000
    exp = np.array([draw_period(d, mean, "exponential") for _ in range(20_000)])
    par = np.array([draw_period(d, mean, "pareto", 1.5) for _ in range(20_000)])
    # P(X > 10 mean): exponential e^-10 ~ 4.5e-5; Pareto(1.5) (x_m / 10 mean)^1.5 = 30^-1.5 ~ 6.1e-3
    assert (exp > 10 * mean).mean() < 5e-4
    assert (par > 10 * mean).mean() == pytest.approx(30**-1.5, rel=0.3)


def test_bursty_on_off_rate_and_burstiness():
    wl = {"kind": "bursty", "rw": "randread", "iops": 20_000, "on_mean": "5ms", "off_mean": "20ms"}
    res = _guest(wl, duration="8s")
    g = res.model.guest
    n = len(res.requests)
    # given the drawn ON time, arrivals are Poisson at iops within it
    on_s = g.on_ns / 1e9
    assert n == pytest.approx(20_000 * min(on_s, 8.0), rel=0.03)
    assert g.on_ns / g.on_count == pytest.approx(5e6, rel=0.15)
    assert g.off_ns / g.off_count == pytest.approx(20e6, rel=0.15)
    assert n / 8 == pytest.approx(20_000 * 5 / 25, rel=0.15)  # long-run rate
    # counts in 10 ms windows are far more variable than Poisson's (variance = mean)
    counts = np.bincount((res.requests["t_submit_ns"] // 10_000_000).to_numpy(), minlength=800)
    assert counts.var() / counts.mean() > 10


def test_bursty_pareto_runs_and_is_deterministic():
    wl = {
        "kind": "bursty",
        "rw": "randwrite",
        "iops": 5000,
        "on_mean": "2ms",
        "off_mean": "8ms",
        "period_dist": "pareto",
        "pareto_shape": 1.5,
    }
    a = _guest(wl, duration="2s").requests
    b = _guest(wl, duration="2s").requests
    assert len(a) > 100 and a.equals(b)


# -- diurnal ------------------------------------------------------------------------


def test_diurnal_rate_follows_the_sine_curve():
    iops, amp, period_s, periods = 10_000, 0.8, 1.0, 4
    res = _guest(
        {"kind": "diurnal", "rw": "randread", "iops": iops, "amplitude": amp, "period": "1s"}, duration=f"{periods}s"
    )
    t = res.requests["t_submit_ns"].to_numpy() / 1e9
    quarter = np.bincount(((t % period_s) // (period_s / 4)).astype(int), minlength=4)
    # integral of iops (1 + a sin(2 pi t / T)) over each quarter of a period, times the periods
    edges = [k * period_s / 4 for k in range(5)]
    expect = [
        periods
        * iops
        * (
            (b - a)
            + amp
            * period_s
            / (2 * math.pi)
            * (math.cos(2 * math.pi * a / period_s) - math.cos(2 * math.pi * b / period_s))
        )
        for a, b in zip(edges, edges[1:])
    ]
    for got, want in zip(quarter, expect):
        assert got == pytest.approx(want, rel=0.05)
    assert len(t) / periods == pytest.approx(iops, rel=0.02)  # mean rate


def test_diurnal_without_amplitude_is_poisson_at_iops():
    res = _guest({"kind": "diurnal", "rw": "randread", "iops": 20_000, "amplitude": 0, "period": "1s"}, duration="1s")
    gaps = np.diff(np.sort(res.requests["t_submit_ns"].to_numpy()))
    assert len(res.requests) == pytest.approx(20_000, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # exponential gaps


# -- zipf hot spots -------------------------------------------------------------------


def test_zipf_offsets_follow_the_region_weights():
    regions, theta = 10, 1.2
    res = _guest(
        {
            "kind": "fio",
            "rw": "randread",
            "iodepth": 4,
            "offset_dist": "zipf",
            "zipf_theta": theta,
            "zipf_regions": regions,
        },
        duration="300ms",
    )
    off = res.requests["offset"].to_numpy()
    share = np.bincount(off // ((1 << 30) // regions), minlength=regions) / len(off)
    weights = np.array([1 / (k + 1) ** theta for k in range(regions)])
    np.testing.assert_allclose(share, weights / weights.sum(), atol=0.01)
    assert share[0] > 3 / regions  # the hot region
    assert (off % 4096 == 0).all()


def test_zipf_regions_cover_the_disk():
    z = ZipfRegions(nblocks=1000, regions=7, theta=0.99)
    assert z.bounds[0] == 0 and z.bounds[-1] == 1000
    assert sum(z.probability(k) for k in range(7)) == pytest.approx(1.0)
    d = _draws(3)
    blocks = [z.block(d) for _ in range(5000)]
    assert min(blocks) >= 0 and max(blocks) < 1000


def test_uniform_keys_spelled_out_change_nothing():
    base = {"kind": "fio", "rw": "randrw", "iodepth": 4}
    a = _guest(base, duration="50ms").requests
    b = _guest({**base, "offset_dist": "uniform", "offset": 0, "zipf_theta": 2.0}, duration="50ms").requests
    assert a.equals(b)


def test_zipf_writes_need_fewer_copy_before_writes():
    def cow_share(dist):
        cfg = {
            "backup": {"disk_size": "64MiB", "cluster_size": "64KiB", "start": "1ms"},
            "disk": fixed_device(base="50us", qd=4),
            "target": fixed_device(base="50us", qd=4),
            "loop": free_loop(),
            "policy": {"name": "none"},
            "workload": {
                "kind": "poisson",
                "rw": "randwrite",
                "iops": 5000,
                "offset_dist": dist,
                "zipf_theta": 1.2,
                "zipf_regions": 16,
            },
            "run": {"baseline": False, "seed": 3},
        }
        s = sim.run_one(cfg).summary
        return s["cow_clusters"] / s["guest_write_ops"]

    assert cow_share("zipf") < 0.6 * cow_share("uniform")


# -- regions and sequential offsets ------------------------------------------------------


def test_sequential_stream_starts_at_offset_and_wraps_to_it():
    res = _guest(
        {"kind": "fio", "rw": "write", "bs": "256KiB", "iodepth": 1, "offset": "100MiB", "size": "1MiB"},
        duration="10ms",
    )
    offs = res.requests.sort_values("index")["offset"].tolist()
    base = 100 * MiB
    assert offs[:6] == [base, base + 256 * 1024, base + 512 * 1024, base + 768 * 1024, base, base + 256 * 1024]


def test_random_stream_stays_in_its_region():
    res = _guest({"kind": "fio", "rw": "randread", "bs": "8KiB", "offset": "64MiB", "size": "32MiB"}, duration="50ms")
    off = res.requests["offset"]
    assert off.min() >= 64 * MiB and (off + res.requests["bytes"]).max() <= 96 * MiB


def test_region_outside_the_disk_is_an_error():
    with pytest.raises(ConfigError) as info:
        _guest({"kind": "fio", "rw": "write", "offset": "2GiB"}, duration="1ms")
    assert info.value.key == "workload.offset"


# -- multi ----------------------------------------------------------------------------

DB_AND_LOG = {
    "kind": "multi",
    "streams": [
        {"kind": "fio", "rw": "randread", "bs": "8KiB", "iodepth": 4, "size": "512MiB"},
        {"kind": "fio", "rw": "write", "bs": "64KiB", "iodepth": 1, "offset": "768MiB"},
    ],
}


def test_multi_mixes_a_database_and_its_log():
    res = _guest(DB_AND_LOG, duration="100ms")
    req = res.requests
    ids = np.asarray(res.model.guest.stream_id)
    assert len(ids) == len(req)
    reads, writes = req[req["op"] == "read"], req[req["op"] == "write"]
    assert (ids == (req["op"] == "write").to_numpy()).all()  # stream 0 reads, stream 1 writes
    assert len(reads) > 4 * len(writes) > 0
    assert (reads["bytes"] == 8192).all() and reads["offset"].max() < 512 * MiB
    log = writes.sort_values("index")["offset"].tolist()
    assert log == [768 * MiB + i * 65536 for i in range(len(log))]  # sequential from its offset
    assert req["index"].is_unique


def test_multi_streams_have_their_own_seeds_and_are_deterministic():
    twin = {"kind": "multi", "streams": [{"kind": "poisson", "rw": "randread", "iops": 2000}] * 2}
    a = _guest(twin, duration="200ms")
    b = _guest(twin, duration="200ms")
    assert a.requests.equals(b.requests)
    ids = np.asarray(a.model.guest.stream_id)
    off0 = set(a.requests["offset"][ids == 0])
    off1 = set(a.requests["offset"][ids == 1])
    assert len(off0) > 300 and len(off1) > 300 and len(off0 & off1) < 5
    assert len(a.requests) == pytest.approx(4000 * 0.2, rel=0.1)


def test_multi_stream_with_its_own_duration_stops_alone():
    wl = {
        "kind": "multi",
        "streams": [
            {"kind": "poisson", "rw": "randread", "iops": 5000},
            {"kind": "poisson", "rw": "randwrite", "iops": 5000, "duration": "50ms"},
        ],
    }
    req = _guest(wl, duration="200ms").requests
    assert req[req["op"] == "write"]["t_submit_ns"].max() < 50_000_000
    assert req[req["op"] == "read"]["t_submit_ns"].max() > 150_000_000


@pytest.mark.parametrize(
    "workload, key",
    [
        ({"kind": "multi", "streams": []}, "workload.streams"),
        ({"kind": "multi", "streams": [{"kind": "multi"}]}, "workload.streams.0.kind"),
        ({"kind": "multi", "streams": [{"kind": "fio"}, {"kind": "fio", "iodepth": 0}]}, "workload.streams.1.iodepth"),
        ({"kind": "multi", "rw": "read", "streams": [{"kind": "fio"}]}, "workload.rw"),
        ({"kind": "fio", "rw": "write", "offset_dist": "zipf"}, "workload.offset_dist"),
        ({"kind": "bursty", "period_dist": "lognormal"}, "workload.period_dist"),
        ({"kind": "bursty", "pareto_shape": 1.0}, "workload.pareto_shape"),
        ({"kind": "diurnal", "amplitude": 1.5}, "workload.amplitude"),
    ],
)
def test_guest_config_errors_name_the_key(workload, key):
    with pytest.raises(ConfigError) as info:
        build_config({"workload": workload})
    assert info.value.key == key


def test_new_configs_round_trip_through_to_dict():
    for wl in (
        DB_AND_LOG,
        {"kind": "bursty", "period_dist": "pareto"},
        {"kind": "diurnal", "period": "1s"},
        {"kind": "fio", "offset_dist": "zipf", "size": "1GiB"},
    ):
        cfg = build_config({"workload": wl})
        assert build_config(cfg.to_dict()) == cfg


def test_list_shows_the_new_workloads(capsys):
    assert sim.cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("bursty", "diurnal", "trace", "multi", "fio-iolog", "blkparse"):
        assert name in out


def test_check_disk_names_the_stream_and_key():
    fio = build_config({"workload": {"kind": "fio", "offset": "2GiB"}}).workload
    with pytest.raises(ConfigError) as info:
        fio.check_disk(1 << 30)
    assert info.value.key == "offset"
    fio.check_disk(4 << 30)
    multi = build_config(
        {
            "workload": {
                "kind": "multi",
                "streams": [{"kind": "fio"}, {"kind": "fio", "rw": "write", "offset": "900MiB", "size": "200MiB"}],
            }
        }
    ).workload
    with pytest.raises(ConfigError) as info:
        multi.check_disk(1 << 30)
    assert info.value.key == "streams.1.offset"
