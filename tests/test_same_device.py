"""A local backup: the target on the source disk itself (``backup.target_on_source``).

The job's target writes go to a region after the disk's own bytes (from offset
``disk_size`` on) of the same device, so the backup's reads and writes and the guest's
I/O share one queue and, on a disk with a seek curve (``sim.devices.hdd``), one head:
with an image target each read is followed by a seek of about ``disk_size`` to its
write and another back to the next read.
"""

import pytest
from conftest import free_loop

import sim
from sim.devices import PROFILES
from sim.devices.hdd import seek_time
from sim.request import BACKUP, GUEST
from sim.rng import RequestDraws, Streams

D = 4 << 20  # disk size
CS = 64 << 10  # cluster size
SPAN = 2 * D  # the platter holds the source and the target region
HDD = PROFILES["hdd-seek"]  # a 7200 rpm disk with a seek curve
SEED = 3


def _cfg(on_source: bool, **over) -> dict:
    cfg = {
        "backup": {
            "disk_size": "4MiB",
            "cluster_size": "64KiB",
            "start": "1ms",
            "target_on_source": on_source,
            "target_layout": "image",
        },
        # fixed base costs (no jitter: dist "fixed", cv 0); the rotational latency is
        # the only random part, keyed to the request's number on the device
        "disk": {"profile": "hdd-seek", "span": "8MiB", "dist": "fixed", "cv": 0},
        "target": {"profile": "hdd-seek", "span": "8MiB", "dist": "fixed", "cv": 0},
        "loop": free_loop(),  # no CPU costs: the backup's duration is the device's time
        "policy": {"name": "none"},
        "workload": {"kind": "none"},
        "run": {"baseline": False, "trace": True, "seed": SEED, "keep_requests": True},
    }
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    return cfg


def _xfer(bw: int) -> int:
    return CS * 1_000_000_000 // bw


def _device_events(res, origin=None):
    return [e for e in res.trace if e[1] in ("disk", "target") and (origin is None or e[3].origin == origin)]


def test_every_backup_request_goes_to_the_one_device():
    res = sim.run_one(_cfg(True), keep_model=True)
    assert res.summary["status"] == "completed" and res.summary["good_backup"]
    model = res.model
    assert model.target is model.disk
    events = _device_events(res, BACKUP)
    assert {e[1] for e in events} == {"disk"}
    starts = [e[3] for e in events if e[2] == "start"]
    n = D // CS
    # read cluster c at c * CS, then write it at disk_size + c * CS, in cluster order
    assert [(r.op, r.offset) for r in starts] == [
        (op, off) for c in range(n) for op, off in ((0, c * CS), (1, D + c * CS))
    ]
    assert model.disk.completed == 2 * n


def _hand_duration_on_source() -> int:
    """Device time of the whole backup on one seeking disk, from the device parameters."""
    revolution = 60_000_000_000 // HDD["rpm"]
    rotation = RequestDraws(Streams(SEED), "disk", "backup")  # the device's backup draws
    head, key, total = 0, 0, 0
    for c in range(D // CS):
        for offset, base, bw in (
            (c * CS, HDD["read_rand_base"], HDD["read_bw"]),
            (D + c * CS, HDD["write_rand_base"], HDD["write_bw"]),
        ):
            distance = abs(offset - head)
            head = offset + CS
            total += base + _xfer(bw)
            if distance:  # every request but the first: a seek and a rotational latency
                # a read to its write: disk_size - CS; a write back to the next read: disk_size
                assert distance in (D - CS, D)
                total += seek_time(distance, SPAN, HDD["seek_track"], HDD["seek_full"])
                total += int(rotation.uniform("rotation", key) * revolution)
                key += 1
    return total


def test_each_read_write_pair_seeks_across_the_disk():
    res = sim.run_one(_cfg(True), keep_model=True)
    rec = res.model.job.record
    assert rec.t_end - rec.t_start == _hand_duration_on_source()
    assert res.model.disk.head == 2 * D  # the head ended after the last target write
    assert res.summary["backup_duration_s"] * 1e9 == pytest.approx(_hand_duration_on_source(), abs=1)
    # the seeks dominate: a seek over half the span is 1 + 16 * sqrt(1/2) ~ 12.3 ms, against
    # 0.4 ms of base cost and transfer per request
    half = seek_time(D, SPAN, HDD["seek_track"], HDD["seek_full"])
    assert 12_000_000 < half < 12_400_000
    assert rec.t_end - rec.t_start > (2 * D // CS - 1) * half


def test_a_separate_target_streams_without_seeks():
    res = sim.run_one(_cfg(False), keep_model=True)
    rec = res.model.job.record
    # reads continue on the source, writes on the target: no seek, no rotation anywhere
    per_cluster = HDD["read_rand_base"] + _xfer(HDD["read_bw"]) + HDD["write_rand_base"] + _xfer(HDD["write_bw"])
    assert rec.t_end - rec.t_start == (D // CS) * per_cluster
    assert {e[1] for e in _device_events(res, BACKUP)} == {"disk", "target"}
    local = sim.run_one(_cfg(True)).summary["backup_duration_s"]
    assert local > 40 * res.summary["backup_duration_s"]


def _in_service_max(events) -> int:
    n = best = 0
    for e in events:
        n += 1 if e[2] == "start" else -1
        best = max(best, n)
    return best


@pytest.mark.parametrize("qd", [1, 2])
def test_guest_and_backup_share_the_queue(qd):
    # the guest reads 4 KiB every 20 ms from the source region (about 13 ms each alone:
    # a seek and a rotation), during the local backup (about 2.1 s)
    reads = [[f"{2 + 20 * i}ms", "r", f"{(i * 67) % 4000}KiB", "4KiB"] for i in range(60)]
    res = sim.run_one(
        _cfg(True, disk={"queue_depth": qd}, workload={"kind": "script", "requests": reads}), keep_model=True
    )
    assert res.summary["status"] == "completed" and res.summary["good_backup"]
    events = _device_events(res)
    assert {e[1] for e in events} == {"disk"}
    # guest and backup requests together never hold more than queue_depth slots, and fill them
    assert _in_service_max(events) == qd
    # some guest reads waited in the queue behind the backup's target writes: they started
    # service exactly when a write to the target region completed (queue_depth 1)
    write_done = {e[0] for e in events if e[2] == "done" and e[3].origin == BACKUP and e[3].offset >= D}
    guest_starts = [e for e in events if e[2] == "start" and e[3].origin == GUEST]
    waited = [e for e in guest_starts if e[0] in write_done and e[3].t_submit < e[0]]
    if qd == 1:
        assert waited
    assert res.model.disk.completed == 2 * (D // CS) + len(reads)
    # the same guest on a separate target never waits for a target write on its disk
    sep = sim.run_one(_cfg(False, disk={"queue_depth": qd}, workload={"kind": "script", "requests": reads}))
    assert not any(e[3].offset >= D for e in _device_events(sep) if e[1] == "disk")
    # ... so its reads wait less (mean latency over the whole run)
    assert res.requests["latency_ns"].mean() > 1.2 * sep.requests["latency_ns"].mean()
