"""The block-copy backup (QEMU 6.0-10.x): exact times computed by hand from the device parameters.

Every device here is ``conftest.fixed_device``: no jitter, one base cost per
operation and a transfer of ``bytes * 1e9 // bw`` ns on the device's shared
transfer path.  Loop costs are 0 (``free_loop``) unless a test says otherwise,
so a time is the sum of the device times on its path.
"""

import pytest
from conftest import fixed_device, unit_loop
from jobkit import (
    ALL_POLICIES,
    BASE,
    KIB,
    MIB,
    MS,
    NO_XFER,
    START,
    bursty_cfg,
    duration,
    io,
    job_cfg,
    run,
    write_heavy_cfg,
    xfer,
)

import sim
from sim.model import Model
from sim.request import BACKUP


def _cfg(size="2MiB", backup=None, **over) -> dict:
    return job_cfg("block-copy", size, backup, **over)


_run, _duration = run, duration


def _events(res, who, what):
    return [(t, d) for t, w, x, d in res.trace if w == who and x == what]


def _guest(res, i: int = 0):
    """The guest request with script index ``i``: (t_submit, t_done, cow_ns, error)."""
    row = res.requests[res.requests["index"] == i].iloc[0]
    return int(row["t_submit_ns"]), int(row["t_done_ns"]), int(row["cow_ns"]), bool(row["error"])


# -- 1. durations -------------------------------------------------------------


@pytest.mark.parametrize("max_chunk,chunk", [(0, 1 * MIB), ("64KiB", 64 * KIB)])
def test_one_worker_copies_chunk_after_chunk(max_chunk, chunk):
    # 4 MiB disk; a chunk is max(cluster, 1 MiB) = 1 MiB for 64 KiB clusters, or max_chunk;
    # one worker: each chunk is read (base + chunk/bw) and then written (same), one after the other
    disk = 4 * MIB
    n = disk // chunk
    res = _run(_cfg("4MiB", {"max_workers": 1, "max_chunk": max_chunk}))
    s = res.summary
    assert s["status"] == "completed" and s["good_backup"]
    assert s["copy_tasks"] == n
    assert _duration(res) == n * (io(chunk) + io(chunk))
    # chunk k lands at start + (k + 1) * (read + write)
    assert sorted(set(res.model.job.record.copy_t)) == [START + (k + 1) * 2 * io(chunk) for k in range(n)]
    # the next task is created (bits cleared, buffer taken) before it waits for the one worker,
    # as block_copy_dirty_clusters does co_get_from_shres before aio_task_pool_wait_slot
    assert s["peak_in_flight_bytes"] == 2 * chunk


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_parallel_workers_on_slot_bound_devices(workers):
    # devices with no transfer time: a request costs its base (1 ms) in one of 4 parallel slots,
    # so up to 4 tasks read together and write together: ceil(N / workers) rounds of read + write
    base = 1 * MS
    dev = fixed_device(base="1ms", bw=NO_XFER, qd=4)
    n = 8  # 8 MiB / 1 MiB chunks
    res = _run(_cfg("8MiB", {"max_workers": workers}, disk=dev, target=dev))
    assert res.summary["status"] == "completed"
    assert _duration(res) == -(-n // workers) * (base + base)


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_parallel_workers_on_the_shared_transfer_path(workers):
    # fixed_device(qd=4): base costs in parallel slots, but the transfers (X = 1.6 ms per MiB)
    # one after the other on each device's path.  N = 4 chunks of 1 MiB, b = 100 us.
    b, x, n = BASE, xfer(MIB), 4
    one_worker = n * 2 * (b + x)
    dev = fixed_device(qd=4)
    res = _run(_cfg("4MiB", {"max_workers": workers}, disk=dev, target=dev))
    if workers == 2:
        # tasks A, B read together: A's transfer [b, b+X], B's [b+X, b+2X]; A writes [b+X+b .. 2b+2X];
        # B's write ends at 2b+3X.  A's slot frees at 2b+2X for C, B's at 2b+3X for D: every pair of
        # chunks takes 2b+2X and the last chunk's write ends X after its pair mate:
        expected = n // 2 * (2 * b + 2 * x) + x
    else:
        # three or four workers: the source's transfer path is the bottleneck, reads back to back
        # from b (D, created when A ends at 2b+2X, is ready at 2b+2X+b, before the path frees at
        # b+3X); the last read ends at b+N*X, its write takes b+X after it
        expected = b + n * x + b + x
    assert _duration(res) == expected
    assert _duration(res) < one_worker


# -- 2. a guest write waits for the whole in-flight task -------------------------


@pytest.mark.parametrize("cbw_timeout", [0, "1s"])
def test_guest_write_into_last_cluster_of_in_flight_task_waits_for_its_write(cbw_timeout):
    # one worker; task 0 = clusters 0-15 (1 MiB) reads [1 ms, 1 ms + R], writes [.. , 1 ms + R + W].
    # A 4 KiB guest write at 1.5 ms into cluster 15 (the task's last) finds its cluster claimed by the
    # task and waits for the whole task, then writes to the disk (base + 4 KiB / bw).  A cbw_timeout
    # it does not reach changes nothing (the copy's end wakes the guest at once)
    t_guest = 1_500_000
    cfg = _cfg(
        backup={"max_workers": 1, "cbw_timeout": cbw_timeout},
        workload={"kind": "script", "requests": [[f"{t_guest}ns", "w", f"{15 * 64}KiB", "4KiB"]]},
    )
    res = _run(cfg)
    task0_written = START + io(MIB) + io(MIB)
    t_submit, t_done, cow_ns, error = _guest(res)
    assert not error and t_submit == t_guest
    assert t_done == task0_written + io(4 * KIB)
    assert cow_ns == task0_written - t_guest
    # the trace: the task's target write done, then the guest's own write starts on the disk
    w_done = [t for t, r in _events(res, "target", "done") if r.offset == 0 and r.nbytes == MIB]
    g_start = [t for t, r in _events(res, "disk", "start") if r.origin != BACKUP]
    assert w_done == [task0_written] and g_start == [task0_written] and t_done > w_done[0]
    assert res.summary["cow_clusters"] == 0  # it copied nothing itself
    assert res.summary["good_backup"]


# -- 3. errors: bits set again after a failure --------------------------------------


def test_target_write_error_ignored_recopies_the_task():
    # one worker, 2 chunks; the first write of cluster 5 fails: task 0 (clusters 0-15) ends with its
    # bits dirty again, task 1 runs, then a new pass copies clusters 0-15 again: 3 read+write rounds
    res = _run(
        _cfg(backup={"max_workers": 1, "on_target_error": "ignore"}, faults={"target_write_error_clusters": [5]})
    )
    s = res.summary
    assert s["status"] == "completed" and s["error"] == ""
    assert s["copy_retries"] == 1 and s["copy_tasks"] == 3
    assert s["complete"] and s["good_backup"] and s["clusters_copied_twice"] == 0
    assert res.model.oracle.target_generation(5) == 0
    assert _duration(res) == 3 * (io(MIB) + io(MIB))
    assert s["target_bytes"] == 2 * MIB  # the failed write does not count
    assert [d for _, d in _events(res, "job", "task")] == [(0, 16), (16, 32), (0, 16)]


def test_target_write_error_reported_fails_the_job():
    res = _run(_cfg(backup={"max_workers": 1}, faults={"target_write_error_clusters": [5]}))
    s = res.summary
    assert s["status"] == "failed" and "target write error at cluster 5" in s["error"]
    # task 1 waited for the worker and is dropped: nothing reached the target
    assert s["backup_bytes"] == 0 and not s["complete"] and not s["good_backup"]


def test_source_read_error_ignored_recopies_the_task():
    res = _run(
        _cfg(backup={"max_workers": 1, "on_source_error": "ignore"}, faults={"source_read_error_clusters": [20]})
    )
    s = res.summary
    assert s["status"] == "completed" and s["copy_retries"] == 1 and s["good_backup"]
    # task 1 (16-31) fails after its read (no write): R + W, R, R + W
    assert _duration(res) == 3 * io(MIB) + 2 * io(MIB)


def test_failed_copy_before_write_breaks_the_guest_write_not_the_backup():
    # 64 KiB chunks, one worker: at 1.1 ms the background holds clusters 0 (running) and 1 (waiting
    # for the worker).  A guest write to cluster 9 copies it first; that read fails (once):
    # break-guest-write fails the guest request, the cluster is dirty again and the background
    # copies it later.  The disk (queue depth 1) is busy with cluster 0's read until 1.2 ms, the
    # copy-before-write read takes [1.2 ms, 1.4 ms]; the guest gets its error then.
    c = 64 * KIB
    t_guest = 1_100_000
    cfg = _cfg(
        backup={"max_workers": 1, "max_chunk": "64KiB"},
        faults={"source_read_error_clusters": [9]},
        workload={"kind": "script", "requests": [[f"{t_guest}ns", "w", f"{9 * 64}KiB", "4KiB"]]},
    )
    res = _run(cfg)
    s = res.summary
    _, t_done, cow_ns, error = _guest(res)
    assert error and s["guest_errors"] == 1 and s["cow_errors"] == 1
    assert t_done == START + io(c) + io(c) and cow_ns == t_done - t_guest
    assert s["status"] == "completed" and not s["snapshot_broken"]
    assert s["cow_clusters"] == 0 and s["copy_retries"] == 1
    assert s["consistent"] and s["complete"] and s["good_backup"]
    # the background copy took cluster 9 after the failed copy-before-write
    assert (9, 10) in [d for t, d in _events(res, "job", "copied") if t > t_done]


def test_failed_copy_before_write_with_break_snapshot_lets_the_write_through():
    t_guest = 1_100_000
    cfg = _cfg(
        backup={"max_workers": 1, "max_chunk": "64KiB", "on_cbw_error": "break-snapshot"},
        faults={"source_read_error_clusters": [9]},
        workload={"kind": "script", "requests": [[f"{t_guest}ns", "w", f"{9 * 64}KiB", "4KiB"]]},
    )
    res = _run(cfg)
    s = res.summary
    _, t_done, _, error = _guest(res)
    assert not error and s["guest_errors"] == 0 and s["cow_errors"] == 1
    # the write goes on after the failed copy-before-write read (1.4 ms) with its own disk write
    assert t_done == START + 2 * io(64 * KIB) + io(4 * KIB)
    assert s["status"] == "failed" and s["snapshot_broken"] and not s["complete"]


# -- 4. the buffer cap ------------------------------------------------------------


@pytest.mark.parametrize("max_mem", [128 * MIB, 4 * MIB])
def test_in_flight_bytes_stay_under_max_mem(max_mem):
    # a fast source (10 us per 1 MiB read, 256 slots) and a slow target (1 ms base, one slot):
    # with 256 workers the job keeps creating 1 MiB tasks until their buffers reach max_mem
    disk = 160 * MIB
    n = disk // MIB
    fast = fixed_device(base="10us", qd=256, bw=NO_XFER)
    slow = fixed_device(base="1ms")
    cfg = _cfg(
        "160MiB",
        {"max_workers": 256, "max_mem": max_mem},
        disk=fast,
        target=slow,
        run={"baseline": False, "trace": False, "keep_requests": False},
    )
    res = _run(cfg)
    s = res.summary
    assert s["status"] == "completed" and s["good_backup"]
    assert s["peak_in_flight_bytes"] <= max_mem
    assert s["peak_in_flight_bytes"] == max_mem  # saturated: the target is the bottleneck
    # the cap does not slow a target-bound copy: first read, then the target writes back to back
    assert _duration(res) == 10_000 + n * io(MIB, base=1 * MS)


# -- 5. QEMU iotests 185 and 219 on block-copy ------------------------------------------

SLICE = 100_000_000  # the limiter's slice, 100 ms


def _limited(size: str, speed: int, **backup) -> dict:
    return _cfg(size, {"max_chunk": "64KiB", **backup}, policy={"name": "rate-limit", "speed": speed})


def test_iotest_185_one_chunk_then_a_second_of_sleep():
    # 64 MiB disk at 64 KiB/s with 64 KiB chunks: quota = int(65536 * 0.1) = 6553 B per slice;
    # the first task is charged 65536 B when it is created, so the next waits 65536 / 6553 slices
    # (about 1.0 s).  Cancelled 500 ms after the start (the iotest's quit), the job reports 64 KiB
    # of 64 MiB and ends at once (the sleep is woken)
    res = _run(_limited("64MiB", 64 * KIB, cancel_at="500ms"))
    s = res.summary
    assert s["status"] == "cancelled"
    assert s["backup_bytes"] == 65536 and s["backup_clusters"] * 65536 == 64 * MIB
    assert res.model.job.record.t_end == START + 500 * MS


@pytest.mark.parametrize("speed,per_second", [(64 * KIB, 1), (256 * KIB, 4)])
def test_iotests_185_219_chunk_rhythm(speed, per_second):
    # task k is created when the limiter's stretched slice ends: slice_start + (k * 65536 / quota)
    # slices, quota = int(speed * 0.1 s); each lands read + write (2 x 200 us) later
    quota = int(speed * SLICE / 1e9)
    chunk = 64 * KIB
    res = _run(_limited("1MiB", speed))
    copy_t = list(res.model.job.record.copy_t)
    assert len(copy_t) == 16
    for k, t in enumerate(copy_t):
        expected = START + int(k * chunk / quota * SLICE) + 2 * io(chunk)
        assert abs(t - expected) <= 1, k
    gap = copy_t[1] - copy_t[0]
    assert gap == pytest.approx(1e9 / per_second, rel=1e-3)  # ~1.0 s at 64 KiB/s, 250 ms at 256 KiB/s
    in_first_second = sum(1 for t in copy_t if t < START + 1_000_000_000)
    assert in_first_second == per_second


# -- 6. copy-before-write is charged but never delayed; a speed change wakes the copy -----


def test_copy_before_write_is_charged_but_not_delayed():
    # 64 KiB/s, 64 KiB chunks: the background sleeps ~1 s after its first chunk.  A guest write at
    # 300 ms to uncopied cluster 10 copies it at once (read + write of 64 KiB) and writes (4 KiB)
    c = 64 * KIB
    t_guest = START + 300 * MS
    cfg = _limited("1MiB", 64 * KIB)
    cfg["workload"] = {"kind": "script", "requests": [[f"{t_guest}ns", "w", f"{10 * 64}KiB", "4KiB"]]}
    res = _run(cfg)
    t_submit, t_done, cow_ns, error = _guest(res)
    assert not error
    assert t_done - t_submit == io(c) + io(c) + io(4 * KIB)
    assert cow_ns == io(c) + io(c)
    assert res.summary["cow_clusters"] == 1 and res.summary["good_backup"]
    # its 64 KiB were charged: the second background task waits for 2 x 65536 B of quota, not 1
    quota = int(64 * KIB * SLICE / 1e9)
    tasks = [t for t, _ in _events(res, "job", "task")]
    assert tasks[0] == START
    assert tasks[1] == START + int(2 * c / quota * SLICE)


def test_a_speed_change_wakes_the_sleeping_copy():
    # at 64 KiB/s the second task would start ~1.0 s after the first; a speed change to 1 MiB/s at
    # 300 ms wakes the sleep (block_copy_kick): 65536 B dispatched < the new quota (104857 B), so the
    # next task starts right then
    cfg = _limited("1MiB", 64 * KIB)
    cfg["policy"]["schedule"] = [["300ms", "1MiB/s"]]
    res = _run(cfg)
    tasks = [t for t, _ in _events(res, "job", "task")]
    assert tasks[0] == START and tasks[1] == START + 300 * MS
    assert res.summary["status"] == "completed" and res.summary["good_backup"]


def test_a_speed_change_that_leaves_the_budget_spent_sleeps_on():
    # the kick wakes the sleep but the same speed still says wait: the task starts when the old slice ends
    cfg = _limited("1MiB", 64 * KIB)
    cfg["policy"]["schedule"] = [["300ms", "64KiB/s"]]
    res = _run(cfg)
    quota = int(64 * KIB * SLICE / 1e9)
    tasks = [t for t, _ in _events(res, "job", "task")]
    assert tasks[1] == START + int(64 * KIB / quota * SLICE)


# -- 7. cbw_timeout -----------------------------------------------------------------


@pytest.mark.parametrize("on_error", ["break-snapshot", "break-guest-write"])
def test_cbw_timeout_on_a_stalled_target(on_error):
    # a target whose every write takes 10 s; 2 chunks, both tasks created at the start.  A guest
    # write at 10 ms into cluster 3 waits for task 0 (its write runs until ~10 s): after
    # cbw_timeout = 100 ms the copy-before-write gives up.  A second write at 300 ms into cluster 20
    # (task 1, whose write queues behind task 0's)
    t_guest, t_second, timeout = 10 * MS, 300 * MS, 100 * MS
    stalled = fixed_device(write_seq_base="10s", write_rand_base="10s")
    cfg = _cfg(
        backup={"cbw_timeout": "100ms", "on_cbw_error": on_error},
        target=stalled,
        workload={
            "kind": "script",
            "requests": [
                [f"{t_guest}ns", "w", f"{3 * 64}KiB", "4KiB"],
                [f"{t_second}ns", "w", f"{20 * 64}KiB", "4KiB"],
            ],
        },
    )
    res = _run(cfg)
    s = res.summary
    _, t_done, cow_ns, error = _guest(res, 0)
    _, t2_done, cow2_ns, error2 = _guest(res, 1)
    assert cow_ns == timeout
    if on_error == "break-snapshot":
        # the write goes through right after the timeout: its own disk write (the disk is idle)
        assert not error and t_done == t_guest + timeout + io(4 * KIB)
        assert s["status"] == "failed" and s["snapshot_broken"]
        assert "snapshot broken" in s["error"] and s["guest_errors"] == 0
        # copy-before-write is off from then on: the second write goes straight to the disk
        assert not error2 and cow2_ns == 0 and t2_done == t_second + io(4 * KIB)
        assert s["cow_errors"] == 1
    else:
        # the guest gets the error; the snapshot stays valid and the job goes on
        assert error and t_done == t_guest + timeout
        assert error2 and cow2_ns == timeout and t2_done == t_second + timeout
        assert s["guest_errors"] == 2 and s["cow_errors"] == 2
        assert s["status"] == "completed" and not s["snapshot_broken"] and s["good_backup"]


# -- a double wake-up of a coroutine waiting for buffer space ------------------------------


def test_a_copy_before_write_waiting_for_buffer_space_is_woken_once():
    # max_mem = two 512 KiB tasks; the limiter (7.5 MiB/s: quota 786432 B = 1.5 tasks) lets exactly
    # two tasks start, then sleeps.  Both tasks read and write in parallel slots and end at the same
    # time.  A guest write at 1.5 ms to uncopied cluster 32 needs 64 KiB of buffer and waits for it.
    # With 1 us loop costs the two task ends are separate handlers, each freeing buffer space.
    dev = fixed_device(base="1ms", bw=NO_XFER, qd=4)
    cfg = _cfg(
        "4MiB",
        {"max_chunk": "512KiB", "max_mem": "1MiB"},
        disk=dev,
        target=dev,
        loop=unit_loop(),
        policy={"name": "rate-limit", "speed": "7680KiB/s"},
        workload={"kind": "script", "requests": [["1500us", "w", "2MiB", "4KiB"]]},
    )
    res = _run(cfg)
    dev_events = [(t, w, x, r) for t, w, x, r in res.trace if w in ("disk", "target")]
    # the copy-before-write's target write starts only after its source read is done
    cbw_read_done = [t for t, w, x, r in dev_events if w == "disk" and x == "done" and r.offset == 2 * MIB]
    cbw_write_start = [t for t, w, x, r in dev_events if w == "target" and x == "start" and r.offset == 2 * MIB]
    assert cbw_read_done and cbw_write_start
    assert cbw_write_start[0] >= cbw_read_done[0]
    # and the guest's write completes only after the disk has done it
    g_disk_done = [t for t, w, x, r in dev_events if w == "disk" and x == "done" and r.origin != BACKUP]
    g_complete = [t for t, w, x, _ in res.trace if w == "guest" and x == "complete"]
    assert g_complete[0] >= g_disk_done[0]


def test_a_failed_job_is_not_a_good_backup():
    # the break-snapshot run above: the job fails at 110 ms, but both tasks in flight finish later
    stalled = fixed_device(write_seq_base="10s", write_rand_base="10s")
    cfg = _cfg(
        backup={"cbw_timeout": "100ms", "on_cbw_error": "break-snapshot"},
        target=stalled,
        workload={"kind": "script", "requests": [["10ms", "w", f"{3 * 64}KiB", "4KiB"]]},
    )
    s = _run(cfg).summary
    assert s["status"] == "failed" and s["snapshot_broken"]
    assert not s["good_backup"]


# -- 9. the content oracle ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("max_chunk", [0, "64KiB"])
def test_consistent_under_a_write_heavy_guest(seed, max_chunk):
    cfg = write_heavy_cfg({"mode": "block-copy", "disk_size": "16MiB", "max_workers": 8, "max_chunk": max_chunk}, seed)
    s = sim.run_one(cfg).summary
    assert s["status"] == "completed"
    assert s["cow_clusters"] > 0  # the guest did race the background copy
    assert s["consistent"] and s["good_backup"] and s["torn_reads"] == 0
    assert s["clusters_copied_twice"] == 0


@pytest.mark.parametrize("serialize", [True, False])
def test_a_write_during_a_background_read_tears_it_without_serialization(serialize):
    # both tasks are created at 1 ms; task 0 (clusters 0-15) reads [1 ms, 1 ms + R] on the disk.
    # A guest write at 1.5 ms to cluster 3: serialized, it waits for task 0 (read and write);
    # without serialization it goes to the disk while the read is in flight: a torn read
    t_guest = 1_500_000
    cfg = _cfg(
        block={"serialize_overlaps": serialize},
        workload={"kind": "script", "requests": [[f"{t_guest}ns", "w", f"{3 * 64}KiB", "4KiB"]]},
    )
    res = _run(cfg)
    s = res.summary
    _, t_done, cow_ns, _ = _guest(res)
    assert s["status"] == "completed" and s["complete"]
    if serialize:
        assert s["consistent"] and s["good_backup"] and s["torn_reads"] == 0
        # it waits for task 0's read and write, then writes
        assert cow_ns == START + io(MIB) + io(MIB) - t_guest
        assert t_done == START + io(MIB) + io(MIB) + io(4 * KIB)
    else:
        assert s["torn_reads"] == 1 and s["inconsistent_clusters"] == 1
        assert not s["consistent"] and not s["good_backup"]
        assert res.model.oracle.mismatched.keys() == {3}
        # it does not wait: straight to the one-slot disk, queued behind both tasks' reads
        assert cow_ns == 0
        assert t_done == START + 2 * io(MIB) + io(4 * KIB)


# -- 11. every pacing policy on block-copy -------------------------------------------------


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=[p["name"] for p in ALL_POLICIES])
def test_every_policy_completes_a_good_backup(policy):
    s = sim.run_one(bursty_cfg("block-copy", policy)).summary
    assert s["status"] == "completed", s["error"]
    assert s["good_backup"] and s["torn_reads"] == 0


def run_counting_workers(cfg: dict):
    """Run ``cfg``; returns the model and the most background tasks that were running at once."""
    model = Model(sim.build_config(cfg))
    pool = model.job.pool
    spawn = pool.spawn
    peak = [0]

    def counting_spawn(body):
        worker = spawn(body)
        peak[0] = max(peak[0], pool.in_flight)
        return worker

    pool.spawn = counting_spawn
    model.run()
    return model, peak[0]


@pytest.mark.parametrize("depth", [1, 2])
def test_a_policys_depth_caps_the_workers(depth):
    # idle-class allows `depth` copies at once, below max_workers = 64; 64 KiB chunks give many tasks
    cfg = bursty_cfg("block-copy", {"name": "idle-class", "grace": "20ms", "depth": depth}, max_chunk="64KiB")
    model, peak = run_counting_workers(cfg)
    assert model.job.record.status == "completed" and model.oracle.complete()
    assert peak == depth
    _, free_peak = run_counting_workers(bursty_cfg("block-copy", {"name": "none"}, max_chunk="64KiB"))
    assert free_peak > depth  # without the policy's cap the job does run more at once


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_policys_depth_caps_the_buffers_without_a_guest(depth):
    # no guest (so no copy-before-write buffers): `depth` running tasks of 64 KiB and the one
    # created next, holding its buffer while it waits for a slot
    cfg = _cfg(
        "2MiB",
        {"max_chunk": "64KiB"},
        policy={"name": "idle-class", "grace": "1ms", "depth": depth},
        run={"baseline": False, "trace": False},
    )
    model, peak = run_counting_workers(cfg)
    rec = model.job.record
    assert rec.status == "completed" and peak == depth
    assert rec.peak_in_flight_bytes == (depth + 1) * 64 * KIB


# -- configurations the model cannot run are refused ---------------------------------------------


def test_a_max_mem_below_the_copy_before_write_chunk_is_refused():
    # copy-before-write tasks are up to 1 MiB (max_chunk does not apply to them), so a task would
    # never fit in 64 KiB of buffer: the run would hang; the configuration is refused instead
    with pytest.raises(sim.ConfigError) as e:
        sim.build_config(_cfg("4MiB", {"max_chunk": "64KiB", "max_mem": "64KiB"}))
    assert e.value.key == "backup.max_mem" and "1MiB" in e.value.expected


def test_a_min_cluster_size_that_is_not_a_power_of_two_is_refused():
    # the block layer maps offsets to clusters with a shift: a 96 KiB cluster cannot be
    with pytest.raises(sim.ConfigError) as e:
        sim.build_config(_cfg("3MiB", {"min_cluster_size": "96KiB"}))
    assert e.value.key == "backup.min_cluster_size"
