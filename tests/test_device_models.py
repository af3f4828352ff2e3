"""The richer device models: HDD seeks, flash channels, network targets, GC stalls."""

import pytest

import sim
from sim.clock import Environment
from sim.devices import PROFILES, ChannelSSD, NetworkTarget, SeekingDisk, device_config, make_device
from sim.devices.hdd import seek_time
from sim.request import READ, WRITE, Request
from sim.rng import Draws, Streams


def _draws():
    s = Streams(1)
    return {0: Draws(s.generator("d", "g")), 1: Draws(s.generator("d", "b"))}


def _serve(dev, reqs):
    """Submit ``reqs`` at time 0, return {index: completion time}."""
    done = {}
    for r in reqs:
        dev.submit(r, lambda r: done.__setitem__(r.index, dev.env.now))
    dev.env.run()
    return done


def test_seek_curve_shape():
    track, full, span = 1_000_000, 17_000_000, 2 * 10**12
    assert seek_time(0, span, track, full) == 0
    assert track <= seek_time(1, span, track, full) <= track + (full - track) * 1e-6 + 1
    assert seek_time(span, span, track, full) == full
    assert seek_time(span // 4, span, track, full) == track + (full - track) // 2  # sqrt(1/4) = 1/2


def test_hdd_sequential_reads_pay_no_seek_and_random_ones_do():
    cfg = device_config({"profile": "hdd-seek"})
    env = Environment()
    disk = make_device(env, cfg, _draws())
    assert isinstance(disk, SeekingDisk)
    seq = [Request(READ, i * 65536, 65536, index=i) for i in range(10)]
    seq[0].offset = 0
    done = _serve(disk, seq)
    per = 65536 * 1e9 / cfg.read_bw + cfg.read_seq_base
    # the first read seeks from the head's rest position 0 (no move), the rest stream
    assert done[9] == pytest.approx(10 * per, rel=1e-3)


def test_hdd_random_reads_average_seek_plus_half_a_revolution():
    cfg = device_config({"profile": "hdd-seek"})
    span = cfg.span // (1 << 20) * (1 << 20)
    res = sim.run_one(
        {
            "backup": {"mode": "none", "disk_size": span, "cluster_size": "1MiB"},
            "disk": {"profile": "hdd-seek"},
            "loop": {"submit_cost": 0, "complete_cost": 0, "backup_step_cost": 0, "wake_cost": 0},
            "workload": {"kind": "fio", "rw": "randread", "iodepth": 1, "duration": "20s"},
            "run": {"baseline": False, "keep_requests": True},
        }
    )
    mean_ms = res.requests["latency_ns"].mean() / 1e6
    # uniform random seeks over the whole span: E[sqrt(|U1 - U2|)] = 8/15
    expected = (cfg.seek_track + 8 / 15 * (cfg.seek_full - cfg.seek_track)) / 1e6 + 60_000 / cfg.rpm / 2
    assert mean_ms == pytest.approx(expected, rel=0.05)


def test_channels_serialize_requests_on_one_channel_only():
    cfg = device_config(
        {
            "profile": "custom",
            "model": "channels",
            "queue_depth": 8,
            "channels": 4,
            "channel_stripe": "64KiB",
            "read_rand_base": "100us",
            "read_seq_base": "100us",
            "read_bw": "8TB/s",
        }
    )
    env = Environment()
    dev = make_device(env, cfg)
    assert isinstance(dev, ChannelSSD)
    # requests 0 and 1 share channel 0 (offsets 0 and 4 stripes); 2 and 3 are on channels 1, 2
    reqs = [Request(READ, o * 65536, 4096, index=i) for i, o in enumerate((0, 4, 1, 2))]
    done = _serve(dev, reqs)
    assert done == {0: 100_000, 2: 100_000, 3: 100_000, 1: 200_000}


def test_network_target_write_time_and_link_cap():
    cfg = device_config({"profile": "network-1g", "remote": "nvme", "queue_depth": 4})
    env = Environment()
    tgt = make_device(env, cfg, _draws(), "target")
    assert isinstance(tgt, NetworkTarget)
    done = _serve(tgt, [Request(WRITE, 0, 65536, index=0)])
    remote = PROFILES["nvme"]
    serve = remote["write_rand_base"] + 65536 * 10**9 // remote["write_bw"]
    assert done[0] == 65536 * 10**9 // cfg.link_bw + cfg.rtt + serve
    env = Environment()
    tgt = make_device(env, cfg, _draws(), "target")
    done = _serve(tgt, [Request(WRITE, i * 65536, 65536, index=i) for i in range(200)])
    rate = 200 * 65536 / (max(done.values()) / 1e9)
    assert rate == pytest.approx(cfg.link_bw, rel=0.05)


def test_gc_stalls_are_rare_and_long():
    res = sim.run_one(
        {
            "backup": {"mode": "none"},
            "disk": {"profile": "ssd-gc"},
            "loop": {"submit_cost": 0, "complete_cost": 0},
            "workload": {"kind": "poisson", "rw": "randwrite", "iops": 2000, "duration": "20s"},
            "run": {"baseline": False, "keep_requests": True},
        }
    )
    lat = res.requests["latency_ns"]
    share = (lat >= PROFILES["ssd-gc"]["stall_time"]).mean()
    assert share == pytest.approx(PROFILES["ssd-gc"]["stall_prob"], rel=0.35)


def test_backup_to_a_network_target_is_consistent_and_link_bound():
    res = sim.run_one(
        {
            "backup": {"disk_size": "128MiB", "start": "10ms"},
            "disk": {"profile": "nvme"},
            "target": {"profile": "network-1g", "remote": "nvme"},
            "workload": {"kind": "none"},
            "run": {"baseline": False},
        }
    )
    s = res.summary
    assert s["consistent"] and s["status"] == "completed"
    # one cluster at a time (the patch): each copy pays a round trip, so it stays under the link rate
    assert s["backup_throughput_mib_s"] * (1 << 20) < 125_000_000


def test_a_key_of_another_model_names_the_model_to_choose():
    import pytest as _pytest

    import sim

    with _pytest.raises(sim.ConfigError) as e:
        sim.build_config({"disk": {"profile": "sata-ssd", "rpm": 7200}})
    assert str(e.value) == (
        "key 'disk.rpm': got 7200, expected a key of device model 'linear' "
        "('rpm' belongs to model 'seek': set disk.model = 'seek')"
    )
    with _pytest.raises(sim.ConfigError) as e:
        sim.build_config({"target": {"model": "tape"}})
    assert e.value.key == "target.model" and "'linear', 'channels', 'seek', 'network'" in str(e.value)
    # a profile picks its model; an explicit model keeps only the shared keys of the profile
    assert sim.build_config({"disk": {"profile": "hdd-seek"}}).disk.model == "seek"
    cfg = sim.build_config({"disk": {"profile": "hdd-seek", "model": "linear"}}).disk
    assert cfg.model == "linear" and not hasattr(cfg, "rpm") and cfg.queue_depth == 1
