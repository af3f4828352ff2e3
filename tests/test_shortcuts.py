"""The kernel's shortcuts change no result (``sim/clock.py``, ``sim/loop.py``, ``sim/block.py``).

The register of the newest agenda entry, loop holds that move the clock at once
when nothing else is queued (the exact fast-forward of a loop that runs alone),
and the guest requests' fast path must give the same run, to the nanosecond, as
every entry through the heap, every hold an entry and every guest request a
coroutine.  Each configuration is run both ways and compared on every guest
request's times and on the job's and the loop's records.
"""

from __future__ import annotations

import pytest
from jobkit import bursty_cfg, write_heavy_cfg

from sim.block import BlockLayer
from sim.config import build_config
from sim.model import Model

CONFIGS = {
    "seed-2013 bursty, 2013 loop": bursty_cfg("seed-2013", {"name": "none"}, disk_size="48MiB"),
    "seed-2013 bursty, fixed-sleep, modern loop": {
        **bursty_cfg("seed-2013", {"name": "fixed-sleep", "sleep": "1us"}, seed=1, disk_size="48MiB"),
        "loop": {"era": "modern"},
    },
    "seed-2013 bursty, rate-limit, serialization off": {
        **bursty_cfg("seed-2013", {"name": "rate-limit", "speed": "20%"}, seed=2, disk_size="48MiB"),
        "block": {"serialize_overlaps": False},
    },
    "seed-2013 bursty, idle-only": bursty_cfg("seed-2013", {"name": "idle-only"}, seed=3, disk_size="48MiB"),
    "seed-2013 write-heavy": write_heavy_cfg({"mode": "seed-2013", "disk_size": "4MiB"}, 1),
    "block-copy write-heavy, fleecing": write_heavy_cfg(
        {"mode": "block-copy", "disk_size": "4MiB", "fleecing": True}, 2
    ),
    "proxmox bursty, loop wake times": {
        **bursty_cfg("proxmox", {"name": "none"}, seed=4, disk_size="48MiB"),
        "loop": {"idle_wake": "20us", "idle_wake_p99": "200us"},
    },
    "block-copy, throttle, nbd, fio-rate": {
        "backup": {"mode": "block-copy", "disk_size": "64MiB", "start": "20ms"},
        "disk": {"throttle": {"bps_total": "64MiB/s"}},
        "nbd": {"enabled": True},
        "workload": {"kind": "fio-rate", "rw": "randwrite", "rate_iops": 2000, "iodepth": 16},
        "run": {"seed": 5, "baseline": False, "keep_requests": False},
    },
}

for _cfg in CONFIGS.values():
    if _cfg["workload"]["kind"] == "bursty":
        _cfg["workload"] = {**_cfg["workload"], "iops": 4000}  # busy periods with requests in flight


def _fingerprint(cfg: dict, shortcuts: bool) -> tuple:
    done: list = []
    orig = BlockLayer.submit_guest

    def submit_guest(self, req, on_done, *a, **k):
        def wrapped(r, _f=on_done):
            done.append((r.index, r.t_submit, r.t_done, r.op, r.offset, r.cow_ns, r.error))
            _f(r)

        return orig(self, req, wrapped, *a, **k)

    BlockLayer.submit_guest = submit_guest  # type: ignore[method-assign]
    try:
        m = Model(build_config(cfg), shortcuts=shortcuts).run()
    finally:
        BlockLayer.submit_guest = orig  # type: ignore[method-assign]
    job = m.job.record if m.job else None
    rec = None
    if job is not None:
        rec = (job.status, job.t_start, job.t_end, job.progress, job.cow_count, job.tasks, job.retries)
    return done, rec, (m.t_end, m.loop.iterations, m.loop.busy_ns, m.disk.completed, m.disk._area), m.env


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shortcuts_change_nothing(name):
    fast_done, fast_rec, fast_state, fast_env = _fingerprint(CONFIGS[name], True)
    slow_done, slow_rec, slow_state, slow_env = _fingerprint(CONFIGS[name], False)
    assert len(fast_done) > 30
    assert fast_done == slow_done
    assert fast_rec == slow_rec
    assert fast_state == slow_state
    # the shortcuts were taken, and only with them
    assert fast_env.advanced > 0 and fast_env.direct > 0
    assert slow_env.advanced == 0 and slow_env.direct == 0
    assert fast_env.scheduled < slow_env.scheduled
