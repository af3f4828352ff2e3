"""Fleecing (``backup.fleecing = true``): copy-before-write into a local image, the job reading a snapshot.

Exact-time tests use ``conftest.fixed_device`` (no jitter; base cost plus
``bytes * 1e9 // bw`` of transfer) and loop costs of 0, as in
``tests/test_block_copy.py``.
"""

import pytest
from conftest import fixed_device
from jobkit import BASE, KIB, MIB, MS, NO_XFER, START, io, job_cfg, run, write_heavy_cfg

import sim
from sim.request import BACKUP, READ, WRITE


def _cfg(size="2MiB", backup=None, **over) -> dict:
    return job_cfg("block-copy", size, {"fleecing": True, **(backup or {})}, **over)


_run = run


def _guest(res, i: int = 0):
    row = res.requests[res.requests["index"] == i].iloc[0]
    return int(row["t_submit_ns"]), int(row["t_done_ns"]), int(row["cow_ns"]), bool(row["error"])


def _script(*writes) -> dict:
    return {"kind": "script", "requests": [[f"{t}ns", "w", f"{c * 64}KiB", "4KiB"] for t, c in writes]}


STALLED = fixed_device(write_seq_base="10s", write_rand_base="10s")


# -- exact times ---------------------------------------------------------------------


@pytest.mark.parametrize("fleecing", [True, False])
def test_copy_before_write_goes_to_the_fleece_not_the_stalled_target(fleecing):
    # one worker: task 0 (clusters 0-15) reads [1 ms, 1 ms + R] then writes to a target that takes
    # 10 s per write; task 1 (16-31) is claimed and waits for the worker.  A guest write at 5 ms into
    # cluster 20:
    # * with fleecing the filter's own bitmap still has cluster 20 dirty: it reads 64 KiB from the
    #   source and writes it to the fleecing image, then writes to the disk (no target involved);
    # * without, it waits for task 1, which waits for task 0's 10 s write: seconds.
    c = 64 * KIB
    t_guest = 5 * MS
    cfg = _cfg(backup={"max_workers": 1, "fleecing": fleecing}, target=STALLED, workload=_script((t_guest, 20)))
    res = _run(cfg)
    s = res.summary
    t_submit, t_done, cow_ns, error = _guest(res)
    assert not error and s["status"] == "completed" and s["good_backup"]
    if fleecing:
        assert t_done - t_submit == io(c) + io(c) + io(4 * KIB)
        assert cow_ns == io(c) + io(c)
        assert s["fleece_peak_bytes"] == c and s["cow_clusters"] == 1
        on_fleece = [(r.op, r.offset, r.nbytes) for t, w, x, r in res.trace if w == "fleece" and x == "start"]
        # the copy-before-write's write, and (after task 0's 10 s write) task 1 reading it back
        assert on_fleece == [(WRITE, 20 * c, c), (READ, 20 * c, c)]
    else:
        assert cow_ns > 10 * 1_000_000_000
        assert s["fleece_peak_bytes"] == 0


def test_the_job_reads_fleeced_clusters_from_the_image():
    # one worker: task 0 (0-15) read [1, 2.7 ms], target write [2.7, 4.4 ms]; a guest write at 1.5 ms
    # into cluster 20 (task 1's, not yet read): copy-before-write reads it after task 0's read on
    # the one-slot disk [2.7, 2.9 ms] into the image [2.9, 3.1 ms], then the guest writes.
    # Task 1 then reads its snapshot run by run: 16-19 from the source, 20 from the image, 21-31
    # from the source, and writes 1 MiB.
    c = 64 * KIB
    cfg = _cfg(backup={"max_workers": 1}, workload=_script((1_500_000, 20)))
    res = _run(cfg)
    s = res.summary
    assert s["status"] == "completed" and s["consistent"] and s["good_backup"]
    task1_reads = [
        (w, r.offset // c, r.nbytes // c)
        for t, w, x, r in res.trace
        if x == "start" and w in ("disk", "fleece") and r.origin == BACKUP and r.op == READ and r.offset >= 16 * c
    ]
    # the copy-before-write's own source read of cluster 20 comes first
    assert task1_reads == [("disk", 20, 1), ("disk", 16, 4), ("fleece", 20, 1), ("disk", 21, 11)]
    task0 = io(MIB) + io(MIB)
    task1 = io(4 * c) + io(c) + io(11 * c) + io(MIB)
    rec = res.model.job.record
    assert rec.t_end - rec.t_start == task0 + task1
    # the image kept cluster 20 to the end (no discard_source)
    assert rec.fleece_bytes == rec.fleece_peak_bytes == c


@pytest.mark.parametrize("serialize", [True, False])
def test_a_guest_write_waits_for_the_snapshot_read_of_its_cluster(serialize):
    # a disk whose sequential reads are slow (3 ms) and random ones fast (100 us), seq_window 0, no
    # transfer time, 4 slots.  Two workers: task 0 reads 0-15 at offset 0 (random: 100 us), task 1
    # reads 16-31 right after it (offset 1 MiB = where task 0 ended: sequential, [1 ms, 4 ms]).
    # A guest write at 1.5 ms into cluster 20 copies it (random read [1.5, 1.6 ms], fleece write
    # [1.6, 1.8 ms]) and then waits for task 1's source read of cluster 20 (frozen_read_reqs) to end
    # at 4 ms before it writes (100 us).  Without serialization it does not wait: task 1's read is torn.
    disk = fixed_device(
        bw=NO_XFER, qd=4, seq_window=0, read_seq_base="3ms", read_rand_base="100us", write_seq_base="100us"
    )
    t_guest = 1_500_000
    cfg = _cfg(
        backup={"max_workers": 2},
        disk=disk,
        fleece=fixed_device(bw=NO_XFER, write_seq_base="200us", write_rand_base="200us"),
        block={"serialize_overlaps": serialize},
        workload=_script((t_guest, 20)),
    )
    res = _run(cfg)
    s = res.summary
    _, t_done, cow_ns, error = _guest(res)
    assert not error and s["status"] == "completed" and s["complete"]
    task1_read_end = START + 3 * MS
    if serialize:
        assert cow_ns == task1_read_end - t_guest
        assert t_done == task1_read_end + BASE
        assert s["consistent"] and s["good_backup"] and s["torn_reads"] == 0
    else:
        assert cow_ns == BASE + 200_000
        assert t_done == t_guest + BASE + 200_000 + BASE
        assert s["torn_reads"] == 1 and not s["consistent"] and not s["good_backup"]


def test_discard_source_empties_the_image_and_ends_copy_before_write():
    # one worker, 64 KiB chunks: the job copies one cluster per read + write (400 us) and ends after
    # 32 of them, ~13.8 ms.  A guest write at 1.05 ms into cluster 3 (not yet backed up) copies it into
    # the image either way.  A guest write at 8 ms into cluster 5, which the job backed up by then
    # (~3 ms) and no guest wrote before: without discard_source the filter's bitmap still has it
    # dirty and copies it into the image again; with it, the job's discard cleared that bit.
    c = 64 * KIB
    t_second = 8 * MS
    writes = _script((1_050_000, 3), (t_second, 5))
    on = _run(_cfg(backup={"max_workers": 1, "max_chunk": "64KiB", "discard_source": True}, workload=writes))
    off = _run(_cfg(backup={"max_workers": 1, "max_chunk": "64KiB"}, workload=writes))
    for res in (on, off):
        s = res.summary
        assert s["status"] == "completed" and s["good_backup"]
        assert res.model.job.record.t_end > t_second  # the second write came during the backup
        assert _guest(res, 0)[2] > 0  # the first write copied cluster 3
    assert on.summary["cow_clusters"] == 1 and _guest(on, 1)[2] == 0
    assert off.summary["cow_clusters"] == 2 and _guest(off, 1)[2] > 0
    assert on.summary["fleece_peak_bytes"] == c and off.summary["fleece_peak_bytes"] == 2 * c
    # every backed-up cluster was discarded from the image: it ends empty (tests/backup-discard-source)
    assert on.model.job.record.fleece_bytes == 0
    assert off.model.job.record.fleece_bytes == 2 * c


# -- 8. guest write latency does not follow the target ---------------------------------------

HDD = {"profile": "hdd"}
#: an HDD target ten times slower to write: 10 ms per random write, a tenth of the bandwidth
SLOW = {"profile": "hdd", "write_bw": 178_075_866 // 10, "write_seq_base": "1ms", "write_rand_base": "10ms"}


def _latency_cfg(target: dict, fleecing: bool, seed: int, discard: bool = False) -> dict:
    backup = {"mode": "block-copy", "disk_size": "32MiB", "start": "20ms", "fleecing": fleecing, "max_workers": 4}
    if discard:
        backup["discard_source"] = True
    return {
        "backup": backup,
        "disk": {"profile": "nvme"},
        "target": target,
        "fleece": {"profile": "nvme"},
        "policy": {"name": "none"},
        "workload": {"kind": "poisson", "iops": 500, "rw": "randwrite", "bs": "4KiB"},
        "run": {"seed": seed, "baseline": False, "keep_requests": False, "max_time": "60s"},
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_fleecing_keeps_guest_write_latency_off_the_target(seed):
    p99 = {}
    for fleecing in (False, True):
        for name, target in (("hdd", HDD), ("slow", SLOW)):
            s = sim.run_one(_latency_cfg(target, fleecing, seed)).summary
            assert s["status"] == "completed" and s["good_backup"]
            p99[fleecing, name] = s["guest_write_p99_us"]
    # one 64 KiB random write on the slow target alone: 10 ms + 65536 / (write_bw / 10)
    slow_write_us = (10 * MS + 65536 * 10**9 // (178_075_866 // 10)) / 1000
    # without fleecing a copy-before-write (or the wait for a whole in-flight task) writes to the
    # target: the p99 follows the target, past one slow write and ten times the hdd's p99
    assert p99[False, "slow"] > slow_write_us
    assert p99[False, "slow"] > 10 * p99[False, "hdd"]
    # with fleecing it writes to the NVMe image and waits only for the source's reads (the snapshot's
    # frozen reads, the source queue), never for the target: both p99s stay within what an NVMe
    # source read of a 1 MiB task plus queueing costs (under 2 ms), a fraction of one slow target write
    # apart, whatever the target.  They are not identical: a slower target spreads the background's
    # source reads out, so fewer guest writes meet one.
    assert p99[True, "hdd"] < 2000 and p99[True, "slow"] < 2000
    assert abs(p99[True, "slow"] - p99[True, "hdd"]) < 0.1 * slow_write_us
    assert p99[True, "slow"] < p99[False, "slow"] / 100


def test_fleece_peak_and_discard_source():
    plain = sim.run_one(_latency_cfg(SLOW, True, 0)).summary
    discard = sim.run_one(_latency_cfg(SLOW, True, 0, discard=True)).summary
    assert plain["fleece_peak_bytes"] > 0 and discard["fleece_peak_bytes"] > 0
    assert discard["fleece_peak_bytes"] <= plain["fleece_peak_bytes"]
    # backed-up clusters leave the filter: fewer copies into the image
    assert discard["cow_clusters"] < plain["cow_clusters"]
    assert plain["good_backup"] and discard["good_backup"]


# -- 9. the oracle on block-copy with fleecing -------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("discard", [False, True])
def test_consistent_under_a_write_heavy_guest(seed, discard):
    backup = {"mode": "block-copy", "disk_size": "16MiB", "fleecing": True, "discard_source": discard, "max_workers": 8}
    cfg = write_heavy_cfg(backup, seed)
    s = sim.run_one(cfg).summary
    assert s["status"] == "completed"
    assert s["cow_clusters"] > 0 and s["fleece_peak_bytes"] > 0
    assert s["consistent"] and s["good_backup"] and s["torn_reads"] == 0
    assert s["clusters_copied_twice"] == 0


def test_the_job_ends_with_a_timeout_under_a_busy_guest():
    # Proxmox with fleecing has a 45 s cbw-timeout by default.  A closed-loop writer keeps a
    # guest write in before_io at every moment; the filter is removed under a drain (writes in
    # flight finish, later ones pass straight through), so the job ends when the copy is done,
    # not at run.max_time.  Bound: the copy of 64 MiB from a SATA SSD to the default hdd target
    # takes 64 MiB / 170 MB/s ~ 0.4 s; anything near max_time (60 s) is the old hang.
    cfg = {
        "backup": {"mode": "proxmox", "fleecing": True, "disk_size": "64MiB", "start": "50ms"},
        "workload": {"kind": "fio", "rw": "randwrite", "iodepth": 8, "duration": "backup"},
        "run": {"max_time": "60s", "baseline": False},
    }
    s = sim.run_one(cfg).summary
    assert s["status"] == "completed" and s["good_backup"]
    assert s["backup_duration_s"] < 2.0
