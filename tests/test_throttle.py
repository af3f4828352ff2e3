"""QEMU's throttle groups (``sim/devices/throttle.py``) against figures computed by hand.

Every expected time is written from the limits.  With ``bps_total = R`` and no
burst rate the bucket holds ``S = R / 10`` bytes; a request passes while the
level is at most ``S``, whatever its size, and is charged afterwards; a waiting
request's timer fires when the level has leaked back to ``S``, so the k-th
request of a stream arriving at 0 passes at ``max(t_{k-1}, (B_{k-1} - S) / R)``
with ``B_{k-1}`` the bytes admitted before it (notes section 1.4).

QEMU converts a wait to whole ns by truncation (``throttle_do_compute_wait``
returns the double ``extra * 1e9 / limit`` as ``int64_t``), so a time can be up
to 1 ns before the exact figure: :func:`near` allows that and nothing more.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from conftest import free_loop

import sim
from sim.clock import Environment
from sim.devices import device_config, make_device
from sim.devices.throttle import (
    BPS_TOTAL,
    BPS_WRITE,
    OPS_TOTAL,
    THROTTLE_READ,
    THROTTLE_WRITE,
    ThrottleConfig,
    ThrottledDevice,
    ThrottleGroup,
    ThrottleGroupMember,
    ThrottleState,
)
from sim.params import ConfigError
from sim.request import DISCARD, READ, WRITE, WRITE_ZEROES, Request

MiB = 1 << 20
KiB = 1 << 10
SECOND = 10**9
R = 64 * MiB  # the worked example's bps_total, bytes/s
S = Fraction(R, 10)  # its bucket: 0.1 s at R


def near(t: int, exact_s: Fraction | int | float) -> bool:
    """``t`` (ns) is the exact time ``exact_s`` (s), or up to 1 ns before it (QEMU truncates waits)."""
    exact = Fraction(exact_s) * SECOND
    return exact - 1 <= t <= exact


def all_near(times: list[int], exact: list) -> bool:
    return len(times) == len(exact) and all(near(t, e) for t, e in zip(times, exact, strict=True))


def instant(**extra) -> dict:
    """A device that completes every request the instant it gets it (no base cost, no transfer time)."""
    return {"profile": "custom", "queue_depth": 4096, "read_bw": 10**18, "write_bw": 10**18, **extra}


def one_group(n_members: int = 1, **limits):
    env = Environment()
    group = ThrottleGroup(env, "g", ThrottleConfig(**limits))
    members = [ThrottleGroupMember(f"m{i}") for i in range(n_members)]
    for m in members:
        group.register(m)
    return env, group, members


def arrive(env, group, member, direction, nbytes, log, tag=None, at: int = 0) -> None:
    """A request of ``nbytes`` reaches ``member`` at ``at`` ns; ``log`` gets (tag, admission time)."""

    def go() -> None:
        group.intercept(member, direction, nbytes, lambda: log.append((tag, env.now)))

    if at == 0 and env.now == 0:
        go()
    else:
        env.timeout(at - env.now).callbacks.append(lambda _e: go())


# -- util/throttle.c: the bucket arithmetic, without a clock -------------------------


def test_bucket_passes_at_or_below_S_and_waits_for_the_excess():
    ts = ThrottleState(ThrottleConfig(bps_total="64MiB/s"))
    for _ in range(7):  # levels 0, 1, ..., 6 MiB are all <= S = 6.4 MiB
        assert ts.compute_timer(THROTTLE_READ, 0) == (False, 0)
        ts.account(THROTTLE_READ, MiB)
    must_wait, when = ts.compute_timer(THROTTLE_READ, 0)  # level 7 MiB > S
    assert must_wait and near(when, (7 * MiB - S) / R)  # 9.375 ms
    assert near(when, Fraction(9375, 10**6))
    # 1 ns after the exact time the level has leaked below S: a request passes
    later = int((7 * MiB - S) * SECOND / R) + 1
    assert ts.compute_timer(THROTTLE_READ, later) == (False, later)


def test_one_big_request_passes_and_the_next_in_either_direction_waits():
    ts = ThrottleState(ThrottleConfig(bps_total="64MiB/s"))
    assert not ts.compute_timer(THROTTLE_READ, 0)[0]
    ts.account(THROTTLE_READ, 32 * MiB)  # charged after passing
    for direction in (THROTTLE_READ, THROTTLE_WRITE):  # the TOTAL bucket is shared
        must_wait, when = ts.compute_timer(direction, 0)
        assert must_wait and near(when, (32 * MiB - S) / R) and near(when, Fraction(4, 10))  # 400 ms


def test_iops_size_counts_a_large_request_as_several_operations():
    ts = ThrottleState(ThrottleConfig(iops_total=100, iops_size="4KiB"))
    ts.account(THROTTLE_READ, 64 * KiB)
    assert ts.buckets[OPS_TOTAL].level == 64 * KiB / (4 * KiB)  # 16 operations
    ts.account(THROTTLE_READ, 2 * KiB)  # not larger than iops_size: one operation
    assert ts.buckets[OPS_TOTAL].level == 16 + 1
    ts.account(THROTTLE_WRITE, 6 * KiB)  # a fraction of operations, as QEMU's double
    assert ts.buckets[OPS_TOTAL].level == 16 + 1 + 6 / 4
    assert ts.buckets[BPS_TOTAL].level == 64 * KiB + 2 * KiB + 6 * KiB


# -- block/throttle-groups.c: admission, timers, queues ---------------------------


def test_worked_example_32_requests_of_1MiB():
    env, g, (m,) = one_group(bps_total="64MiB/s")
    log: list = []
    for i in range(32):
        arrive(env, g, m, THROTTLE_READ, MiB, log, i)
    env.run()
    assert [tag for tag, _ in log] == list(range(32))  # FIFO
    times = [t for _, t in log]
    step = Fraction(MiB, R)  # 15.625 ms: one more MiB leaks out
    exact = [0] * 7 + [(7 * MiB - S) / R + (n - 8) * step for n in range(8, 33)]
    assert all_near(times, exact)
    assert near(times[7], Fraction(9375, 10**6)) and near(times[31], Fraction(384375, 10**6))


def test_worked_example_8_requests_of_4MiB():
    env, g, (m,) = one_group(bps_total="64MiB/s")
    log: list = []
    for i in range(8):
        arrive(env, g, m, THROTTLE_READ, 4 * MiB, log, i)
    env.run()
    exact = [0, 0] + [(4 * MiB * (k - 1) - S) / R for k in range(3, 9)]  # (B_{k-1} - S) / R
    ms = [Fraction(x) / 1000 for x in ("0", "0", "25", "87.5", "150", "212.5", "275", "337.5")]
    assert exact == ms
    assert all_near([t for _, t in log], exact)


def test_an_iops_burst_passes_up_to_the_bucket():
    # iops_total N = 25: S = N/10 = 2.5 operations, so levels 0, 1, 2 pass: floor(N/10) + 1 = 3 at once
    n = 25
    env, g, (m,) = one_group(iops_total=n)
    log: list = []
    for i in range(5):
        arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, i)
    env.run()
    first = n // 10 + 1
    exact = [0] * first + [Fraction(k - Fraction(n, 10), n) for k in range(first, 5)]  # (level - S) / N
    assert all_near([t for _, t in log], exact)  # 0, 0, 0, 20 ms, 60 ms


def test_a_burst_rate_with_a_burst_length_uses_the_burst_bucket():
    # iops_total 100, iops_total_max 200 for 5 s: the main bucket holds max * 5 = 1000 operations,
    # the burst bucket max / 10 = 20 leaking at max: 21 pass at once, then one every 1/max = 5 ms
    avg, mx = 100, 200
    env, g, (m,) = one_group(iops_total=avg, iops_total_max=mx, iops_total_max_length=5)
    log: list = []
    for i in range(25):
        arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, i)
    env.run()
    first = mx // 10 + 1
    exact = [0] * first + [Fraction(k - first + 1, mx) for k in range(first, 25)]
    assert all_near([t for _, t in log], exact)


def test_a_burst_rate_alone_makes_the_bucket_max_units():
    # iops_total_max 200 with the default length 1: the bucket holds max = 200 operations, no burst bucket
    avg, mx = 100, 200
    env, g, (m,) = one_group(iops_total=avg, iops_total_max=mx)
    log: list = []
    for i in range(mx + 3):
        arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, i)
    env.run()
    times = [t for _, t in log]
    assert times[: mx + 1] == [0] * (mx + 1)
    assert all_near(times[mx + 1 :], [Fraction(1, avg), Fraction(2, avg)])  # then at avg: (level - max) / avg


def test_an_armed_timer_queues_every_new_request_of_its_direction_even_if_the_bucket_drained():
    # iops_total 10: S = 1 operation, one operation leaks in 1/10 s (exact in floating point)
    n = 10
    env, g, (m,) = one_group(iops_total=n)
    log: list = []
    period = SECOND // n  # 100 ms
    # R4 arrives exactly when R3's timer is due, and its arrival is processed first: at that
    # instant the level has leaked to 2 - 1 = S, which the bucket would let through
    arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, "R4", at=period)
    for tag in ("R1", "R2", "R3"):  # levels 0 and 1 pass; R3 (level 2) arms the timer for 100 ms
        arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, tag)
    arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, "R5", at=period + period // 2)  # behind R4 (FIFO)
    arrive(env, g, m, THROTTLE_WRITE, 4 * KiB, log, "W1", at=period)  # the other direction has no timer
    assert m.timers[THROTTLE_READ].deadline == period and g.any_timer_armed[THROTTLE_READ]
    env.run()
    # W1 is checked against OPS_TOTAL only: at 100 ms the level is 3 - 1 = 2 > S, so it waits (2 - 1) / 10
    # on its own WRITE timer
    assert dict(log) == {"R1": 0, "R2": 0, "R3": period, "R4": 2 * period, "R5": 3 * period, "W1": 2 * period}
    assert [tag for tag, _ in log if tag.startswith("R")] == ["R1", "R2", "R3", "R4", "R5"]


def test_two_members_alternate_one_request_per_turn():
    env, g, (a, b) = one_group(2, bps_total="64MiB/s")
    log: list = []
    for i in range(10):
        arrive(env, g, a, THROTTLE_READ, MiB, log, f"A{i + 1}")
    for i in range(4):
        arrive(env, g, b, THROTTLE_READ, MiB, log, f"B{i + 1}")
    env.run()
    order = [tag for tag, _ in log]
    # A1..A7 pass at 0, A8 waits on A's timer; B's requests queue (a timer is armed); then
    # the token goes round: B, A, B, A, B, and B alone when A has none left
    assert order == [f"A{i}" for i in range(1, 9)] + ["B1", "A9", "B2", "A10", "B3", "B4"]
    step = Fraction(MiB, R)
    assert all_near([t for _, t in log], [0] * 7 + [(7 * MiB - S) / R + k * step for k in range(7)])


def test_reads_and_writes_have_separate_queues():
    # only bps_read: queued reads do not hold a write back
    env, g, (m,) = one_group(bps_read="64MiB/s")
    log: list = []
    for i in range(8):
        arrive(env, g, m, THROTTLE_READ, MiB, log, f"R{i + 1}")
    arrive(env, g, m, THROTTLE_WRITE, MiB, log, "W1")
    arrive(env, g, m, THROTTLE_WRITE, MiB, log, "W2", at=1000)
    env.run()
    times = dict(log)
    assert times["W1"] == 0 and times["W2"] == 1000
    assert near(times["R8"], (7 * MiB - S) / R)


def test_iops_size_delays_the_next_request_by_the_units_charged():
    # a 64 KiB read is 64 KiB / 4 KiB = 16 operations: the next waits (16 - 10) / 100 s
    env, g, (m,) = one_group(iops_total=100, iops_size="4KiB")
    log: list = []
    arrive(env, g, m, THROTTLE_READ, 64 * KiB, log, "big")
    arrive(env, g, m, THROTTLE_READ, 4 * KiB, log, "next")
    env.run()
    assert log[0] == ("big", 0)
    assert near(log[1][1], Fraction(64 * KiB // (4 * KiB) - Fraction(100, 10), 100))  # 60 ms


# -- the device layer -------------------------------------------------------------


def _device(env, limits: dict, groups=None, name="disk", **extra):
    return make_device(env, device_config(instant(throttle=limits, **extra), name), name=name, groups=groups)


def _submit(env, dev, op, nbytes, log, tag, at=0):
    req = Request(op, 0, nbytes)

    def go() -> None:
        dev.submit(req, lambda r: log.append((tag, env.now)))

    if at == 0:
        go()
    else:
        env.timeout(at).callbacks.append(lambda _e: go())


def test_a_discard_and_a_write_zeroes_are_charged_as_writes_of_their_length():
    env = Environment()
    dev = _device(env, {"bps_write": "64MiB/s"})
    assert isinstance(dev, ThrottledDevice)
    log: list = []
    _submit(env, dev, DISCARD, 32 * MiB, log, "discard")  # passes: the bucket was empty
    assert dev.group.ts.buckets[BPS_WRITE].level == 32 * MiB  # charged at its full length
    _submit(env, dev, WRITE_ZEROES, 4 * KiB, log, "zeroes")  # waits for the discard's 32 MiB
    _submit(env, dev, WRITE, 4 * KiB, log, "write")  # behind it (FIFO), then for the zeroes' 4 KiB
    _submit(env, dev, READ, 4 * KiB, log, "read")  # no read limit
    env.run()
    times = dict(log)
    assert times["discard"] == 0 and times["read"] == 0
    assert near(times["zeroes"], (32 * MiB - S) / R)  # 400 ms
    assert near(times["write"], (32 * MiB + 4 * KiB - S) / R)
    assert dev.completed == 4  # the device's own counters show through


def test_drain_releases_the_queued_requests_at_once_and_lets_new_ones_through():
    env = Environment()
    dev = _device(env, {"bps_total": "64MiB/s"})
    log: list = []
    for i in range(32):
        _submit(env, dev, READ, MiB, log, i)
    t_drain, t_new, t_end = 50_000_000, 60_000_000, 70_000_000
    env.timeout(t_drain).callbacks.append(lambda _e: dev.drain_begin())
    _submit(env, dev, READ, MiB, log, "during", at=t_new)
    env.timeout(t_end).callbacks.append(lambda _e: dev.drain_end())
    _submit(env, dev, READ, MiB, log, "after", at=t_end)
    env.run()
    times = dict(log)
    # before the drain: admissions at 0 (x7) and (7 MiB - S)/R + k MiB/R, k = 0, 1, 2 (all before 50 ms)
    before = [i for i in range(32) if times[i] < t_drain]
    assert before == list(range(10))
    assert all(times[i] == t_drain for i in range(10, 32))  # released at once, in order
    assert [tag for tag, _ in log if isinstance(tag, int)] == list(range(32))
    assert times["during"] == t_new  # unthrottled until drain_end
    # all 33 MiB were charged: the next request waits until the level leaks back to S
    assert near(times["after"], (33 * MiB - S) / R)  # 415.625 ms
    assert not dev.group.any_timer_armed[THROTTLE_READ]


def test_devices_with_one_group_name_share_one_group():
    env = Environment()
    groups: dict = {}
    disk = _device(env, {"bps_total": "64MiB/s", "group": "g"}, groups, "disk")
    target = _device(env, {"bps_total": "64MiB/s", "group": "g"}, groups, "target")
    own = _device(env, {"bps_total": "64MiB/s"}, groups, "fleece")
    assert disk.group is target.group and own.group is not disk.group
    assert list(groups) == ["g", "fleece"]
    with pytest.raises(ConfigError) as e:
        _device(env, {"bps_total": "32MiB/s", "group": "g"}, groups, "other")
    assert e.value.key == "other.throttle"


# -- end to end: a run's guest through a throttled disk -------------------------------


def _script_run(backup: dict, n: int = 32, **disk) -> list[int]:
    cfg = {
        "backup": backup,
        "disk": instant(throttle={"bps_total": "64MiB/s"}, **disk),
        "target": instant(),
        "loop": free_loop(),
        "workload": {"kind": "script", "requests": [[0, "r", f"{i}MiB", "1MiB"] for i in range(n)]},
        "run": {"baseline": False, "keep_requests": True},
    }
    res = sim.run_one(cfg)
    return res.requests.sort_values("index")["t_done_ns"].tolist()


def test_end_to_end_the_guest_sees_the_worked_example():
    done = _script_run({"mode": "none", "disk_size": "32MiB"})
    step = Fraction(MiB, R)
    assert all_near(done, [0] * 7 + [(7 * MiB - S) / R + (n - 8) * step for n in range(8, 33)])


def test_end_to_end_the_backup_start_drains_the_throttle_queue():
    # the backup starts at 50 ms: the block layer's drain releases the 22 reads still queued
    done = _script_run({"mode": "seed-2013", "disk_size": "32MiB", "start": "50ms"})
    assert all_near(done[:10], [0] * 7 + [(7 * MiB - S) / R + k * Fraction(MiB, R) for k in range(3)])
    assert done[10:] == [50_000_000] * 22


def test_a_long_sequential_stream_runs_at_the_limit():
    limit = 64 * MiB
    cfg = {
        "backup": {"mode": "none", "disk_size": "1GiB"},
        "disk": instant(throttle={"bps_read": limit}),
        "loop": free_loop(),
        "workload": {"kind": "fio", "rw": "read", "bs": "256KiB", "iodepth": 8, "duration": "3s"},
        "run": {"baseline": False, "keep_requests": True},
    }
    res = sim.run_one(cfg)
    t = res.requests["t_done_ns"]
    window = (t > SECOND) & (t <= 3 * SECOND)
    rate = res.requests["bytes"][window].sum() / 2
    assert rate == pytest.approx(limit, rel=0.01)


# -- validation: throttle_is_valid, with the key named -----------------------------


@pytest.mark.parametrize(
    "limits,key",
    [
        ({"bps_total": "64MiB/s", "bps_read": "1MiB/s"}, "bps_read"),
        ({"iops_total": 100, "iops_write": 10}, "iops_write"),
        ({"bps_total_max": "1MiB/s", "bps_write_max": "1MiB/s", "bps_total": 1, "bps_write": 0}, "bps_write_max"),
        ({"iops_total_max": 10}, "iops_total_max"),
        ({"bps_write": 100, "bps_write_max": 50}, "bps_write_max"),
        ({"iops_read": 10, "iops_read_max_length": 2}, "iops_read_max_length"),
        ({"iops_read": 10, "iops_read_max": 20, "iops_read_max_length": 0}, "iops_read_max_length"),
        ({"iops_size": "4KiB"}, "iops_size"),
        ({"bps_total": "10%"}, "bps_total"),
        ({"bps_total": -1}, "bps_total"),
        ({"iops_total": "many"}, "iops_total"),
        ({"bps_totl": 1}, "bps_totl"),
    ],
)
def test_invalid_limits_name_their_key(limits, key):
    for section in ("disk", "target"):
        with pytest.raises(ConfigError) as e:
            sim.build_config({section: {"throttle": limits}})
        assert e.value.key == f"{section}.throttle.{key}"


def test_limits_parse_units():
    cfg = sim.build_config({"disk": {"throttle": {"bps_total": "64MiB/s", "iops_read": 2.5}}}).disk.throttle
    assert cfg is not None and cfg.bps_total == 64 * MiB and cfg.iops_read == 2.5
    assert sim.build_config({}).disk.throttle is None
