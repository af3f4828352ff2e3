"""The fast-forward of a quiet loop changes no result (``sim/loop.py``, issue 13).

When only the backup is running, its coroutine's yields, sleeps and device
waits are skipped in one step (``EventLoop.skip_yield``, ``skip_timer``,
``skip_wait``): the loop's state at the re-entry is computed from its rules
instead of stepped through.  Each configuration below is run with and without
it and compared on everything a run records: every guest request's times,
every cluster's landing time, the summary row, the loop's and the devices'
state.  Between them the configurations take every branch of the three skips:
a yield in either phase of an iteration, a completion that finds the loop
busy or blocked, a timer due in the same iteration, one that waits for the
2013 alarm floor and one whose alarm is already due, fixed and drawn wake
times with and without halt polling, a seeking target, a target on the
source, a sparse disk, and a device with channels (no skipped completions).
"""

from __future__ import annotations

import math

import pytest
from jobkit import bursty_cfg, write_heavy_cfg

from sim.clock import Environment
from sim.config import build_config
from sim.coroutine import PARK, YIELD, Coroutine, sleep
from sim.loop import EventLoop
from sim.metrics import guest_frame, summarize
from sim.model import Model


@pytest.mark.parametrize("fast_forward", [True, False])
def test_a_lone_coroutine_runs_when_the_rules_say(fast_forward):
    """Each kind of wait, with the time the loop's rules give it, the same with and without skipping.

    The 2013 loop: a 250 us alarm floor, 2 us of CPU per iteration before its timer
    check; each re-entry costs 1 us, a completion 3 us.
    """
    env = Environment()
    loop = EventLoop(env, 250_000, iteration_cost=2_000)
    loop.fast_forward = fast_forward
    times: list[int] = []

    def wait(delay: int):
        # a completion `delay` ahead (a device's) that re-enters the coroutine
        if not loop.skip_wait(env.now + delay, 3_000):
            env.call_in(delay, lambda _: co.wake(None, 3_000))
            yield PARK

    def body():
        times.append(env.now)  # 1: the first entry's cost, held, then run from the loop's own entry
        yield sleep(1_000)  # armed at 1; the check at 1 + 2 finds it due: its cost, in the same iteration
        times.append(env.now)  # 4, in the timer phase
        yield sleep(10_000)  # armed in the timer phase: the next poll blocks until the alarm, 4 + 250
        times.append(env.now)  # 254 + 2 (the new iteration's CPU) + 1 = 257
        yield YIELD  # in the timer phase: the iteration ends at once, the next runs it
        times.append(env.now)  # 258
        yield YIELD  # before the timer check: 2 us more of this iteration first
        times.append(env.now)  # 261
        yield from wait(50_000)  # the iteration ends at 263, poll blocks; 311 + 3
        times.append(env.now)  # 314
        yield from wait(1_000)  # lands at 315, during the iteration's CPU (to 316): 316 + 3
        times.append(env.now)  # 319

    co = Coroutine(loop, body(), step_cost=1_000)
    co.start()
    env.run()
    assert times == [1_000, 4_000, 257_000, 258_000, 261_000, 314_000, 319_000]
    # iterations ending at 4, 257, 260, 263, 316 and 321 (the last after the body returns);
    # CPU: 1 + 2 + 1, 2 + 1, 1 + 2, 1 + 2, 3 + 2, 3 + 2
    assert loop.iterations == 6 and loop.busy_ns == 23_000
    assert loop.skipped == (6 if fast_forward else 0)


def _cfg(policy: dict, loop: dict | None = None, seed: int = 0, **over) -> dict:
    cfg = bursty_cfg("seed-2013", policy, seed=seed, disk_size="24MiB")
    cfg["run"] = {**cfg["run"], "keep_requests": True}
    cfg["workload"] = {**cfg["workload"], "iops": 4000}  # busy periods with requests in flight
    if loop:
        cfg["loop"] = loop
    for section, values in over.items():
        cfg[section] = {**cfg.get(section, {}), **values}
    return cfg


_WRITE_HEAVY = write_heavy_cfg({"mode": "seed-2013", "disk_size": "4MiB"}, 3)
_WRITE_HEAVY["policy"] = {"name": "fixed-sleep", "sleep": "0us"}
_WRITE_HEAVY["loop"] = {"era": "2013", "zero_sleep": "timer", "timer_min_rearm": "0us"}
_WRITE_HEAVY["workload"] = {**_WRITE_HEAVY["workload"], "kind": "bursty", "iops": 3000, "on_mean": "5ms"}
_WRITE_HEAVY["workload"].pop("iodepth")
_WRITE_HEAVY["run"] = {**_WRITE_HEAVY["run"], "keep_requests": True}

CONFIGS = {
    "none, modern loop": _cfg({"name": "none"}, {"era": "modern"}),
    "none, 2013 loop, no iteration cost": _cfg({"name": "none"}, {"era": "2013", "iteration_cost": "0ns"}, seed=1),
    "fixed-sleep, 2013 alarm floor": _cfg(
        {"name": "fixed-sleep", "sleep": "1us"}, {"era": "2013", "iteration_cost": "0ns"}, seed=2
    ),
    "fixed-sleep, due at the timer check": _cfg({"name": "fixed-sleep", "sleep": "1us"}, {"era": "2013"}, seed=3),
    "fixed-sleep 0 as a timer, alarm already due, copy-before-write": _WRITE_HEAVY,
    "rate-limit, modern loop": _cfg({"name": "rate-limit", "speed": "20%"}, {"era": "modern"}, seed=4),
    "idle-only": _cfg({"name": "idle-only"}, seed=5),
    "fixed wake, halt polling": _cfg(
        {"name": "fixed-sleep", "sleep": "250us"},
        {"era": "modern", "idle_wake": "30us", "halt_poll": "200us"},
        seed=6,
    ),
    "drawn wakes": _cfg({"name": "none"}, {"era": "modern", "idle_wake": "20us", "idle_wake_p99": "200us"}, seed=7),
    "drawn wakes, 2013 alarm floor": _cfg(
        {"name": "fixed-sleep", "sleep": "1us"},
        {"era": "2013", "iteration_cost": "0ns", "idle_wake": "20us", "idle_wake_p99": "200us"},
        seed=10,
    ),
    "target on the source, sparse": _cfg(
        {"name": "none"},
        {"era": "modern"},
        seed=8,
        backup={"target_on_source": True, "target_layout": "image", "allocated": 0.7, "zero_fraction": 0.2},
        disk={"profile": "hdd"},
    ),
    "channels": _cfg({"name": "none"}, seed=9, disk={"model": "channels", "channels": 4, "queue_depth": 4}),
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _run(cfg: dict, fast_forward: bool):
    m = Model(build_config(cfg), fast_forward=fast_forward).run()
    loop, job = m.loop, m.job
    assert job is not None
    frame = guest_frame(m.guest)
    state = {
        "loop": (
            loop.iterations,
            loop.busy_ns,
            loop._idle_since,
            loop._tseq,
            loop._alarm_at,
            loop._alarm_token,
        ),
        "devices": [(d.completed, d._area, d.in_system, d.free, d.last_end) for d in (m.disk, m.target)],
        "copies": (list(job.record.copy_t or []), list(job.record.copy_cow or []), job.record.status),
        "t_end": m.t_end,
    }
    return frame, summarize(m), state, loop.skipped


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_forward_changes_nothing(name):
    frame, row, state, skipped = _run(CONFIGS[name], True)
    frame_off, row_off, state_off, skipped_off = _run(CONFIGS[name], False)
    assert len(frame) > 10 and row["status"] == "completed"
    assert frame.equals(frame_off)
    assert row.keys() == row_off.keys()
    assert [k for k in row if not _same(row[k], row_off[k])] == []
    assert state == state_off
    # it was taken, and only when asked for
    assert skipped > 0 and skipped_off == 0
