"""Proxmox VE's backup (``backup.mode = "proxmox"``): PBS / VMA clusters, the upload mutex, disks in turn.

Exact-time tests use ``conftest.fixed_device`` (no jitter; base cost plus
``bytes * 1e9 // bw`` of transfer) and loop costs of 0.
"""

import pytest
from conftest import fixed_device
from jobkit import ALL_POLICIES, KIB, MIB, MS, NO_XFER, START, bursty_cfg, duration, io, job_cfg, run, write_heavy_cfg

import sim
from sim.config import build_config
from sim.request import BACKUP, READ, WRITE


def _cfg(size="8MiB", backup=None, **over) -> dict:
    return job_cfg("proxmox", size, backup, **over)


_run, _duration = run, duration


def _intervals(res, device: str, op: int) -> list[tuple[int, int]]:
    """(start, done) of the backup's requests of ``op`` on ``device``, from the trace."""
    starts: dict[int, int] = {}
    out = []
    for t, who, what, r in res.trace:
        if who != device or not hasattr(r, "op") or r.origin != BACKUP or r.op != op:
            continue
        if what == "start":
            starts[id(r)] = t
        elif what == "done":
            out.append((starts.pop(id(r)), t))
    return sorted(out)


# -- 10. clusters and defaults -----------------------------------------------------------


@pytest.mark.parametrize(
    "backup,cluster",
    [
        ({"format": "pbs"}, 4 * MIB),  # PROXMOX_BACKUP_DEFAULT_CHUNK_SIZE
        ({"format": "vma"}, 64 * KIB),  # a VMA archive's cluster
        ({"format": "vma", "fleecing": True}, 4 * MIB),  # fleecing: min_cluster_size 4 MiB
        ({"format": "vma", "min_cluster_size": "1MiB"}, 1 * MIB),
    ],
)
def test_the_cluster_comes_from_the_target_format(backup, cluster):
    res = _run(_cfg("16MiB", backup, run={"baseline": False, "trace": False}))
    s = res.summary
    assert s["backup_clusters"] == 16 * MIB // cluster
    assert s["status"] == "completed" and s["good_backup"]
    # a task is max(cluster, 1 MiB): 16 MiB / chunk tasks
    assert s["copy_tasks"] == 16 * MIB // max(cluster, MIB)


def test_proxmox_defaults():
    plain = build_config(_cfg()).backup
    assert plain.max_workers == 16 and plain.target_layout == "stream"
    assert plain.cbw_error == "break-guest-write" and plain.cbw_timeout_ns == 0
    fleece = build_config(_cfg(backup={"fleecing": True})).backup
    assert fleece.cbw_error == "break-snapshot" and fleece.cbw_timeout_ns == 45 * 10**9
    mine = build_config(_cfg(backup={"fleecing": True, "on_cbw_error": "break-guest-write", "cbw_timeout": 0})).backup
    assert mine.cbw_error == "break-guest-write" and mine.cbw_timeout_ns == 0


# -- 10. the upload mutex ------------------------------------------------------------------


@pytest.mark.parametrize("chunk_cpu", [0, 250_000])
def test_uploads_are_serialized_reads_overlap(chunk_cpu):
    # devices of 16 slots with no transfer time: every request costs its 1 ms base in its own slot.
    # PBS: 32 MiB = 8 clusters of 4 MiB = 8 tasks, all started at once by the 16 workers.  The 8 reads
    # run together [1 ms, 2 ms]; the uploads go one at a time under dump_callback_mutex, each
    # chunk_cpu (one cluster per task) then 1 ms: 1 ms + 8 x (chunk_cpu + 1 ms)
    base, n = 1 * MS, 8
    dev = fixed_device(base="1ms", bw=NO_XFER, qd=16)
    res = _run(_cfg("32MiB", {"chunk_cpu": f"{chunk_cpu}ns"}, disk=dev, target=dev))
    assert res.summary["status"] == "completed" and res.summary["good_backup"]
    assert _duration(res) == base + n * (chunk_cpu + base)
    writes = _intervals(res, "target", WRITE)
    reads = _intervals(res, "disk", READ)
    assert len(writes) == len(reads) == n
    # no two uploads overlap in time; the reads all overlap
    assert all(prev_done <= start for (_, prev_done), (start, _) in zip(writes, writes[1:]))
    assert all(r == (START, START + base) for r in reads)
    # block-copy on the same devices, with the same 4 MiB cluster, writes in parallel: read + write
    bc = _run(_cfg("32MiB", {"mode": "block-copy", "cluster_size": "4MiB", "max_workers": 16}, disk=dev, target=dev))
    assert _duration(bc) == base + base


@pytest.mark.parametrize("chunk_cpu", [10_000, 123_000])
def test_chunk_cpu_adds_its_time_per_cluster(chunk_cpu):
    # VMA (64 KiB clusters), one worker, no guest: 2 tasks of 1 MiB, each read then written; the
    # PBS client's hashing and compressing (chunk_cpu per cluster) runs under the mutex before each
    # write: 2 x (R + W) + 32 clusters x chunk_cpu
    backup = {"format": "vma", "max_workers": 1}
    base = _run(_cfg("2MiB", backup))
    cpu = _run(_cfg("2MiB", {**backup, "chunk_cpu": f"{chunk_cpu}ns"}))
    assert _duration(base) == 2 * (io(MIB) + io(MIB))
    assert _duration(cpu) - _duration(base) == 32 * chunk_cpu


def test_a_guest_write_in_a_pbs_cluster_pays_a_4mib_read_and_upload():
    # 12 MiB = 3 clusters of 4 MiB; one worker: cluster 0 copying, cluster 1 claimed and waiting for
    # the worker, cluster 2 unclaimed.  A 4 KiB guest write into cluster 2 copies the whole 4 MiB
    # cluster first: at least a 4 MiB read and a 4 MiB upload
    t_guest = 2 * MS
    cfg = _cfg(
        "12MiB",
        {"max_workers": 1},
        workload={"kind": "script", "requests": [[f"{t_guest}ns", "w", "8200KiB", "4KiB"]]},
    )
    res = _run(cfg)
    s = res.summary
    row = res.requests.iloc[0]
    assert s["cow_clusters"] == 1 and s["good_backup"]
    assert row["cow_ns"] >= io(4 * MIB) + io(4 * MIB)
    assert [d for t, w, x, d in res.trace if w == "job" and x == "cow-task"] == [(2, 3)]


# -- 10. several disks, one after the other -------------------------------------------------


def _two_disks(**over) -> dict:
    backup = {"format": "vma", "disks": ["1MiB", "1MiB"], "max_chunk": "64KiB"}
    return _cfg("2MiB", backup, **over)


def _copied(res) -> list[tuple[int, int]]:
    """(time, first cluster) of every copy that landed, from the trace."""
    return [(t, d[0]) for t, w, x, d in res.trace if w == "job" and x == "copied"]


def test_disks_are_copied_one_after_the_other():
    # VMA, 64 KiB tasks, 16 workers, one-slot devices.  Disk 1 (clusters 0-15): its 16 reads run back
    # to back on the disk (200 us each), each upload follows its read: disk 1 is done after 17 x 200 us.
    # Only then does disk 2's call start; it takes as long.
    res = _run(_two_disks())
    s = res.summary
    assert s["status"] == "completed" and s["good_backup"]
    copied = _copied(res)
    first = [t for t, c in copied if c < 16]
    second = [t for t, c in copied if c >= 16]
    assert len(first) == len(second) == 16
    assert min(second) > max(first)
    disk2_tasks = [t for t, w, x, d in res.trace if w == "job" and x == "task" and d[0] >= 16]
    assert min(disk2_tasks) == max(first)
    step = io(64 * KIB)
    assert max(first) == START + 17 * step
    assert _duration(res) == 2 * 17 * step


def test_a_disk_waiting_its_turn_pays_copy_before_write():
    # a guest write at 1.5 ms into disk 2 (cluster 20) while disk 1 is being copied: every disk's
    # filter is in from the start, so it copies cluster 20 first.  Its read queues behind disk 1's
    # 16 reads on the one-slot disk ([1 ms + 16 x 200 us, + 200 us]); its upload waits for the mutex
    # behind disk 1's last upload, which ends at 1 ms + 17 x 200 us; it lands 200 us later.
    step = io(64 * KIB)
    t_guest = START + 500_000
    res = _run(_two_disks(workload={"kind": "script", "requests": [[f"{t_guest}ns", "w", f"{20 * 64}KiB", "4KiB"]]}))
    s = res.summary
    assert s["status"] == "completed" and s["good_backup"] and s["clusters_copied_twice"] == 0
    assert s["cow_clusters"] == 1
    cow_tasks = [(t, d) for t, w, x, d in res.trace if w == "job" and x == "cow-task"]
    assert cow_tasks == [(t_guest, (20, 21))]
    cow_landed = next(t for t, c in _copied(res) if c == 20)
    assert cow_landed == START + 18 * step
    row = res.requests.iloc[0]
    assert row["cow_ns"] == cow_landed - t_guest and row["t_done_ns"] > cow_landed
    # disk 2's call, started when disk 1 was done, left cluster 20 to the copy-before-write
    disk2_tasks = [d for t, w, x, d in res.trace if w == "job" and x == "task" and d[0] >= 16]
    assert (20, 21) not in disk2_tasks and len(disk2_tasks) == 15


# -- 9. the oracle on proxmox ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("backup", [{"format": "pbs"}, {"format": "vma"}, {"format": "pbs", "fleecing": True}])
def test_consistent_under_a_write_heavy_guest(seed, backup):
    # two workers: most clusters are still unclaimed when the guest writes them
    cfg = write_heavy_cfg({"mode": "proxmox", "disk_size": "32MiB", "max_workers": 2, **backup}, seed)
    s = sim.run_one(cfg).summary
    assert s["status"] == "completed"
    assert s["cow_clusters"] > 0
    assert s["consistent"] and s["good_backup"] and s["torn_reads"] == 0
    assert s["clusters_copied_twice"] == 0


# -- 11. every pacing policy on proxmox -------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pbs", "vma"])
@pytest.mark.parametrize("policy", ALL_POLICIES, ids=[p["name"] for p in ALL_POLICIES])
def test_every_policy_completes_a_good_backup(policy, fmt):
    cfg = bursty_cfg("proxmox", policy, format=fmt)
    s = sim.run_one(cfg).summary
    assert s["status"] == "completed", s["error"]
    assert s["good_backup"] and s["torn_reads"] == 0


def test_idle_class_depth_caps_the_workers():
    # no guest: idle-class with depth 2 runs two tasks at once (below max_workers = 16); their
    # buffers and the next task's, created before it waits for a slot: 3 chunks of 1 MiB (VMA)
    cfg = _cfg("8MiB", {"format": "vma"}, policy={"name": "idle-class", "grace": "1ms", "depth": 2})
    res = _run(cfg)
    assert res.summary["status"] == "completed" and res.summary["good_backup"]
    assert res.summary["peak_in_flight_bytes"] == 3 * MIB
    # from the trace: tasks holding clusters (created, not yet landed) never exceed depth + 1 = 3,
    # and never more than 2 tasks have I/O on the devices at once
    held, peak_held = set(), 0
    busy, peak_busy = set(), 0
    for _, w, x, d in res.trace:
        if w == "job" and x == "task":
            held.add(d)
        elif w == "job" and x == "copied":
            held.discard(d)
            busy.discard(d[0])
        elif w == "disk" and x == "start" and d.origin == BACKUP:
            busy.add(d.offset // (64 * KIB))  # a task's read starts its I/O
        peak_held, peak_busy = max(peak_held, len(held)), max(peak_busy, len(busy))
    assert peak_held == 3 and peak_busy == 2
