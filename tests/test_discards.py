"""Guest discards and write-zeroes: copy-before-write, device cost, fio's trim, traces, metrics.

QEMU's copy-before-write filter copies the old data out before a guest write, a
write-zeroes and a discard alike (``block/copy-before-write.c``: ``cbw_co_pwritev``,
``cbw_co_pwrite_zeroes`` and ``cbw_co_pdiscard`` all call ``cbw_do_copy_before_write``).
On the device, a discard or a write-zeroes carries no data (NVMe Deallocate and Write
Zeroes, ATA TRIM): a write's base cost, no transfer.
"""

import pytest
from conftest import fixed_device, unit_loop

import sim
from sim.clock import Environment
from sim.config import ConfigError, build_config
from sim.devices import device_config, make_device
from sim.devices.hdd import seek_time
from sim.request import BACKUP, DISCARD, GUEST, READ, WRITE, WRITE_ZEROES, Request
from sim.rng import Draws, RequestDraws, Streams
from sim.traces import TraceRecord, open_trace, validate_trace
from sim.workloads.base import RequestStream, workload_config

CS = 64 << 10


def _base(**over):
    """A 1 MiB disk of 16 clusters, fixed 100 us devices, a job sleeping 1 ms per cluster."""
    cfg = {
        "backup": {"disk_size": "1MiB", "cluster_size": "64KiB", "start": "1ms"},
        "disk": fixed_device(qd=4),
        "target": fixed_device(),
        "loop": unit_loop(),
        "policy": {"name": "fixed-sleep", "sleep": "1ms"},
        "workload": {"kind": "none"},
        "run": {"baseline": False, "trace": True, "keep_requests": True},
    }
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


def _guest_requests(res):
    return [e[3] for e in res.trace if e[1] == "guest" and e[2] == "submit"]


# -- copy-before-write ----------------------------------------------------------------


@pytest.mark.parametrize("letter,op,name", [("d", DISCARD, "discard"), ("z", WRITE_ZEROES, "write-zeroes")])
def test_discard_and_write_zeroes_copy_before_write(letter, op, name):
    # a guest write warms cluster 15 up before the backup (generation 1), then, 0.1 ms into
    # the backup, a discard or write-zeroes hits it: the background loop (1 ms per
    # cluster) is still at cluster 0, so the job must copy cluster 15 out first
    cfg = _base(
        workload={
            "kind": "script",
            "requests": [["100us", "w", "960KiB", "64KiB"], ["1100us", letter, "960KiB", "4KiB"]],
        }
    )
    res = sim.run_one(cfg, keep_model=True)
    s = res.summary
    req = _guest_requests(res)[1]
    assert req.op == op and req.cow_clusters == 1 and req.cow_ns > 0
    assert s["cow_clusters"] == 1
    assert list(res.requests["op"]) == ["write", name]
    assert s["guest_write_ops"] == 1
    assert (s["guest_discard_ops"], s["guest_write_zeroes_ops"]) == ((1, 0) if op == DISCARD else (0, 1))
    # the content oracle saw the discard / write-zeroes change cluster 15 ...
    oracle = res.model.oracle
    assert oracle.start_generation(15) == 1 and oracle.gen[15] == 2
    # ... and the target holds it as it was at the start: a good backup
    assert oracle.target_generation(15) == 1
    assert s["status"] == "completed" and s["consistent"] and s["good_backup"]
    assert s["clusters_copied_twice"] == 0


def test_discard_of_a_copied_cluster_copies_nothing():
    # cluster 0 is copied right at the start; a discard of it 2 ms later waits for nothing
    cfg = _base(workload={"kind": "script", "requests": [["3ms", "d", "0", "64KiB"]]})
    res = sim.run_one(cfg, keep_model=True)
    req = _guest_requests(res)[0]
    assert req.op == DISCARD and req.cow_clusters == 0 and req.cow_ns == 0
    assert res.summary["cow_clusters"] == 0 and res.summary["good_backup"]


def test_script_refuses_an_unknown_op():
    with pytest.raises(ConfigError, match="'r', 'w', 'd' or 'z'"):
        build_config(_base(workload={"kind": "script", "requests": [["1ms", "t", "0", "4KiB"]]}))


# -- device service time ---------------------------------------------------------------

# 64 KiB at 655,360,000 B/s: a 100 us transfer; base costs all different, to see which applies
BASES = {"read_seq_base": "11us", "read_rand_base": "13us", "write_seq_base": "17us", "write_rand_base": "19us"}


def _service_ns(dev_cfg, op, offset=1 << 30, before=None):
    """Completion time of one request of ``op`` (64 KiB at ``offset``) on a fresh device.

    ``before``: a request (op, offset) the device completes first (sets its position).
    """
    env = Environment()
    draws = {g: RequestDraws(Streams(3), "disk", n) for g, n in ((GUEST, "guest"), (BACKUP, "backup"))}
    dev = make_device(env, device_config(dev_cfg), draws)
    t0 = 0
    if before is not None:
        dev.submit(Request(before[0], before[1], CS, GUEST, 0), lambda r: None)
        env.run()
        t0 = env.now
    done = []
    dev.submit(Request(op, offset, CS, GUEST, 1), lambda r: done.append(env.now))
    env.run()
    return done[0] - t0


@pytest.mark.parametrize("op", [WRITE_ZEROES, DISCARD])
def test_no_data_ops_cost_a_write_minus_its_transfer(op):
    dev = fixed_device(**BASES)
    xfer = CS * 1_000_000_000 // 655_360_000
    assert xfer == 100_000
    # random (far from the previous request's end: the first request on the device)
    assert _service_ns(dev, WRITE) == 19_000 + xfer
    assert _service_ns(dev, op) == 19_000 == _service_ns(dev, WRITE) - xfer
    # sequential (right after a write of the preceding 64 KiB): the write's sequential base
    assert _service_ns(dev, WRITE, before=(WRITE, (1 << 30) - CS)) == 17_000 + xfer
    assert _service_ns(dev, op, before=(WRITE, (1 << 30) - CS)) == 17_000
    # reads are untouched
    assert _service_ns(dev, READ) == 13_000 + xfer


def test_no_data_ops_on_a_seeking_disk_pay_the_seek_but_no_transfer():
    dev = fixed_device(model="seek", rpm=6000, seek_track="1ms", seek_full="9ms", span="4GiB", seq_window=0, **BASES)
    xfer = 100_000
    w = _service_ns(dev, WRITE, offset=1 << 30)
    z = _service_ns(dev, WRITE_ZEROES, offset=1 << 30)
    assert w - z == xfer
    # a seek over a quarter of the span (from offset 0), half a stroke in time, and the
    # rotation of request 1's draw of one 10 ms revolution
    rot = int(RequestDraws(Streams(3), "disk", "guest").uniform("rotation", 1) * 10_000_000)
    assert z == 19_000 + seek_time(1 << 30, 4 << 30, 1_000_000, 9_000_000) + rot == 19_000 + 5_000_000 + rot


@pytest.mark.parametrize("op", [WRITE_ZEROES, DISCARD])
def test_no_data_ops_cross_a_network_link_without_data(op):
    # 1 GB/s link, 0.2 ms round trip, a fixed remote device: a write carries its 64 KiB
    # out (65.536 us), a read brings it back; a discard or write-zeroes carries nothing
    net = {"profile": "custom", "model": "network", "link_bw": 1_000_000_000, "rtt": "200us", "remote": "hdd"}
    remote_w = _service_ns({"profile": "hdd"}, WRITE)
    remote_z = _service_ns({"profile": "hdd"}, op)
    assert _service_ns(net, WRITE) == 65_536 + 200_000 + remote_w
    assert _service_ns(net, op) == 200_000 + remote_z


# -- fio's trim and the mixes -------------------------------------------------------


def _ops(workload, n=4000, disk=64 << 20, seed=5):
    cfg = workload_config({"kind": "fio", **workload})
    stream = RequestStream(cfg, disk, Draws(Streams(seed).generator("workload")))
    return [stream.next() for _ in range(n)]


def test_trim_fraction_one_turns_every_write_into_a_discard():
    plain = _ops({"rw": "randrw", "rwmixread": 60})
    trim = _ops({"rw": "randrw", "rwmixread": 60, "trim_fraction": 1.0})
    # no extra draw when the answer is certain: the same offsets and the same reads
    assert [o for _, o in trim] == [o for _, o in plain]
    assert [op for op, _ in trim] == [DISCARD if op == WRITE else op for op, _ in plain]
    assert {op for op, _ in trim} == {READ, DISCARD}
    zero = _ops({"rw": "randwrite", "write_zeroes_fraction": 1.0})
    assert {op for op, _ in zero} == {WRITE_ZEROES}


def test_fractions_split_the_writes():
    ops = [op for op, _ in _ops({"rw": "randwrite", "trim_fraction": 0.3, "write_zeroes_fraction": 0.2}, n=20_000)]
    assert ops.count(DISCARD) / len(ops) == pytest.approx(0.3, abs=0.015)
    assert ops.count(WRITE_ZEROES) / len(ops) == pytest.approx(0.2, abs=0.015)
    assert ops.count(WRITE) / len(ops) == pytest.approx(0.5, abs=0.015)


@pytest.mark.parametrize("rw,sequential", [("trim", True), ("randtrim", False)])
def test_fio_trim_rw_issues_only_discards(rw, sequential):
    ops = _ops({"rw": rw, "bs": "64KiB"}, n=100)
    assert {op for op, _ in ops} == {DISCARD}
    offsets = [o for _, o in ops]
    assert (offsets == [i * CS for i in range(100)]) == sequential


def test_fio_guest_with_trim_fraction_one_in_a_run():
    cfg = _base(
        disk=fixed_device(qd=4, **BASES),
        workload={"kind": "fio", "rw": "randrw", "rwmixread": 50, "trim_fraction": 1.0, "iodepth": 4},
        run={"baseline": True, "trace": False},
    )
    s = sim.run_one(cfg).summary
    assert s["guest_write_ops"] == 0 and s["guest_write_zeroes_ops"] == 0
    assert s["guest_discard_ops"] > 0 and s["guest_read_ops"] > 0
    assert s["guest_ops"] == s["guest_read_ops"] + s["guest_discard_ops"]
    assert s["cow_clusters"] > 0 and s["good_backup"]
    # no writes: the write latencies are of an empty set
    assert s["guest_write_p99_us"] != s["guest_write_p99_us"]  # NaN


def test_fractions_are_checked():
    with pytest.raises(ConfigError, match="write_zeroes_fraction"):
        workload_config({"kind": "fio", "trim_fraction": 0.6, "write_zeroes_fraction": 0.5})
    with pytest.raises(ConfigError, match="trim_fraction"):  # a guest that does not use the common stream
        workload_config({"kind": "multi", "streams": [{"kind": "fio"}], "trim_fraction": 0.5})


def test_default_stream_draws_what_it_always_drew():
    # with both fractions 0 the stream takes no extra draw: op and offset from the same numbers
    cfg = workload_config({"kind": "fio", "rw": "randrw", "rwmixread": 70})
    draws = Draws(Streams(9).generator("workload"))
    ops = _ops({"rw": "randrw", "rwmixread": 70}, n=500, seed=9)
    for op, offset in ops:
        expect_op = READ if draws.random() < 0.7 else WRITE
        assert (op, offset) == (expect_op, draws.integers((64 << 20) // cfg.bs) * cfg.bs)


# -- traces -------------------------------------------------------------------------


def test_blkparse_discard_is_a_discard(tmp_path):
    path = tmp_path / "discard.blkparse"
    path.write_text(
        "  8,32   5        1     0.000001000  3120  Q  DS 2048 + 2048 [fstrim]\n"
        "  8,32   5        2     0.000002000  3120  D  DS 2048 + 2048 [fstrim]\n"
        "  8,32   5        3     0.000003000  3120  Q   W 4096 + 8 [dd]\n"
        "  8,32   5        4     0.000004000  3120  Q  DE 8192 + 16 [blkdiscard]\n"
        "  8,32   5        5     0.000005000  3120  Q   R 0 + 8 [cat]\n"
        "  8,32   5        6     0.000006000  3120  Q   N 0 + 0 [x]\n"
    )
    assert list(open_trace(path, "blkparse")) == [
        TraceRecord(1_000, "8,32", DISCARD, 2048 * 512, 2048 * 512, 1),
        TraceRecord(3_000, "8,32", WRITE, 4096 * 512, 8 * 512, 3),
        TraceRecord(4_000, "8,32", DISCARD, 8192 * 512, 16 * 512, 4),  # a secure erase
        TraceRecord(5_000, "8,32", READ, 0, 8 * 512, 5),
    ]
    st = validate_trace(path, "blkparse")
    assert (st.records, st.reads, st.writes, st.discards) == (4, 1, 1, 2)


def test_fio_iolog_trim_is_a_discard(tmp_path):
    path = tmp_path / "trim.iolog"
    path.write_text("fio version 3 iolog\n0 /dev/vdb add\n10 /dev/vdb trim 65536 65536\n20 /dev/vdb sync 0 0\n")
    assert list(open_trace(path, "fio-iolog")) == [TraceRecord(10_000, "/dev/vdb", DISCARD, 65536, 65536, 3)]


def test_a_replayed_discard_copies_before_it_lands(tmp_path):
    # the replay clock starts at the first record (a read at 0); the discard of cluster 12
    # arrives 0.2 ms into the backup
    path = tmp_path / "t.iolog"
    path.write_text(
        f"fio version 3 iolog\n0 /dev/vdb add\n0 /dev/vdb read {15 * CS} 4096\n1200 /dev/vdb trim {12 * CS} {CS}\n"
    )
    cfg = _base(workload={"kind": "trace", "path": str(path), "format": "fio-iolog", "replay": "open"})
    res = sim.run_one(cfg, keep_model=True)
    s = res.summary
    assert s["guest_discard_ops"] == 1 and s["cow_clusters"] == 1 and s["good_backup"]
