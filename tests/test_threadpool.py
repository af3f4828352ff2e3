"""QEMU's thread pool (sim/threadpool.py): the handoff, a sleeping worker's wake, one pool for every device."""

import pytest
from conftest import fixed_device, unit_loop

import sim
from sim.clock import Environment
from sim.devices import device_config, make_device
from sim.model import Model
from sim.request import BACKUP, GUEST, READ, WRITE, Request
from sim.threadpool import ThreadPool, ThreadPoolConfig

US = 1_000


def _devices(handoff="30us", wake="70us", halt_poll=200 * US):
    # every base cost 10 us, 64 KiB in 100 us; both devices reached through one pool
    env = Environment()
    pool = ThreadPool(env, ThreadPoolConfig(handoff=handoff, wake=wake), halt_poll)
    cfg = device_config({**fixed_device(base="10us", qd=4), "aio": "threads"})
    return env, pool, make_device(env, cfg, pool=pool), make_device(env, cfg, name="target", pool=pool)


def _submit(env, dev, at, req, done, name):
    env.call_in(at, lambda _a: dev.submit(req, lambda r: done.setdefault(name, env.now)))


def test_a_call_pays_the_handoff_and_a_sleeping_worker_its_wake():
    env, pool, disk, _ = _devices()
    done: dict[str, int] = {}
    # at 0 the pool has just gone idle (0 us ago < halt_poll): handoff 30, base 10, 4 KiB in 6.25 us
    _submit(env, disk, 0, Request(READ, 0, 4096, GUEST, 0), done, "first")
    # at 500 us it has been idle since 46.25 us, 453.75 us >= 200 us: the wake too, 70 + 30 + 10 + 6.25
    _submit(env, disk, 500 * US, Request(READ, 1 << 20, 4096, GUEST, 1), done, "asleep")
    # at 700 us idle since 616.25 us, 83.75 us: polling still, no wake
    _submit(env, disk, 700 * US, Request(READ, 2 << 20, 4096, GUEST, 2), done, "polling")
    env.run()
    assert done == {"first": 46_250, "asleep": 616_250, "polling": 746_250}
    assert pool.wakes == 1 and pool.busy == 0


def test_a_call_while_another_is_in_the_pool_finds_a_worker_awake():
    env, pool, disk, target = _devices(halt_poll=0)
    done: dict[str, int] = {}
    # halt_poll 0: a call into an idle pool always pays the wake: 70 + 30 + 10 + 100 (64 KiB)
    _submit(env, disk, 0, Request(READ, 0, 64 << 10, BACKUP), done, "read")
    # the target's write at 50 us: the disk's read is still in the pool (shared), so handoff only: 50+30+10+100
    _submit(env, target, 50 * US, Request(WRITE, 0, 64 << 10, BACKUP), done, "write")
    env.run()
    assert done == {"read": 210 * US, "write": 190 * US}
    assert pool.wakes == 1


def test_a_native_device_does_not_enter_the_pool():
    env = Environment()
    pool = ThreadPool(env, ThreadPoolConfig(handoff="30us", wake="70us"))
    dev = make_device(env, device_config(fixed_device(base="10us")), pool=pool)
    done: dict[str, int] = {}
    _submit(env, dev, 0, Request(READ, 0, 4096, GUEST, 0), done, "r")
    env.run()
    assert done == {"r": 16_250} and pool.wakes == 0


def _guest_latencies(aio: str, pool: dict) -> list[int]:
    # one 4 KiB write every 1 ms (fio-rate, linear), no backup: the loop costs 1 us a handler
    cfg = {
        "disk": {**fixed_device(base="10us", qd=4), "aio": aio},
        "loop": unit_loop(),
        "thread_pool": pool,
        "backup": {"mode": "none", "disk_size": "16MiB"},
        "workload": {"kind": "fio-rate", "rw": "randwrite", "rate_iops": 1000, "duration": "20ms"},
        "run": {"baseline": False, "keep_requests": True},
    }
    return sim.run_one(cfg).requests["latency_ns"].tolist()


def test_a_guest_request_pays_the_handoff_once():
    native = _guest_latencies("native", {"handoff": "30us"})
    threads = _guest_latencies("threads", {"handoff": "30us"})
    assert len(native) == len(threads) == 20
    assert [t - n for t, n in zip(threads, native)] == [30 * US] * 20
    # 1 ms apart, each finds the pool asleep (halt_poll 0: every idle pool's call pays the wake)
    woken = _guest_latencies("threads", {"handoff": "30us", "wake": "70us"})
    assert [t - n for t, n in zip(woken, native)] == [100 * US] * 20


def test_wake_draws_have_the_median_and_tail_asked_for():
    cfg = sim.build_config({"thread_pool": {"wake": "70us", "wake_p99": "300us"}, "disk": {"aio": "threads"}})
    sample = Model(cfg).pool.wake_sampler
    assert sample is not None
    draws = sorted(sample() for _ in range(20_000))
    assert draws[10_000] == pytest.approx(70 * US, rel=0.05)
    assert draws[19_800] == pytest.approx(300 * US, rel=0.1)


def test_the_thread_pool_section_is_validated():
    with pytest.raises(sim.ConfigError, match="thread_pool.handoff"):
        sim.build_config({"thread_pool": {"handoff": "soon"}})
    with pytest.raises(sim.ConfigError, match="thread_pool.wake_p99"):
        sim.build_config({"thread_pool": {"wake": "70us", "wake_p99": "10us"}})
    with pytest.raises(sim.ConfigError, match="disk.aio"):
        sim.build_config({"disk": {"aio": "io_uring"}})


def test_a_workers_wake_takes_the_quantile_of_the_loop_wake_before_it_once():
    # calibrate measures the pool's wake as a difference of quantiles, which add up only for draws that move
    # together: a pool wake sits at the quantile of the loop wake just before it; a second pool wake with no loop
    # wake between draws its own (stream thread_pool), as does one before any loop wake
    from sim.rng import Draws, Streams
    from sim.wakes import HostWakes, lognormal

    wakes = HostWakes(Streams(7))
    loop = lognormal(100_000, 300_000, wakes.loop)
    pool = lognormal(30_000, 130_000, wakes.pool)
    same_loop = lognormal(100_000, 300_000, HostWakes(Streams(7)).loop)  # the loop's draws, alone
    own = lognormal(30_000, 130_000, Draws(Streams(7).generator("thread_pool")).random)  # the pool's own stream
    assert loop is not None and pool is not None and same_loop is not None and own is not None
    first = pool()
    assert first == own()  # before any loop wake
    pairs = [(loop(), pool(), pool()) for _ in range(2_000)]
    assert [a for a, _, _ in pairs] == [same_loop() for _ in pairs]  # lending changes no loop draw
    assert [c for _, _, c in pairs] == [own() for _ in pairs]  # the second pool wake: the pool's own stream
    lent = [b for _, b, _ in pairs]
    by_loop = sorted(range(len(pairs)), key=lambda i: pairs[i][0])
    assert [lent[i] for i in by_loop] == sorted(lent)  # the first pool wake moves with the loop's: comonotone
