"""Trace files: the four parsers, streaming, errors, and the fidelity of a replay.

Expected figures are computed from the files in the tests with a separate,
deliberately simple reader (or read off the fixture lines by hand), never
copied from the parsers' output.
"""

import pickle
import tracemalloc
from pathlib import Path

import pytest
from conftest import fixed_device, free_loop

import sim
import sim.cli
from sim.config import ConfigError, build_config
from sim.request import DISCARD, READ, WRITE
from sim.traces import FORMATS, TraceError, TraceRecord, open_trace, place, validate_trace

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "traces"
DATA = Path(__file__).resolve().parent / "data"
TPCC = TRACES / "tpcc-small.trace"
WSRCH = TRACES / "wsrch-small.trace"
GiB = 1 << 30


def simple_mqsim(path):
    """(t_ns, device, is_read, offset_bytes, nbytes, line) of every line: an independent reader."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        t, dev, lba, size, kind = line.split()
        out.append((int(t), dev, kind == "1", int(lba) * 512, int(size) * 512, n))
    return out


# -- parsers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, first, second",
    [
        # the first two lines of each file, as read with `head -2`
        (TPCC, "938513000 4 264719034 16 0", "938828000 3 197570570 16 0"),
        (WSRCH, "11413000 0 657728 16 1", "11565000 1 31244784 64 1"),
    ],
)
def test_mqsim_real_traces(path, first, second):
    assert path.read_text().splitlines()[:2] == [first, second]
    recs = list(open_trace(path, "mqsim"))
    if path == TPCC:
        assert recs[0] == TraceRecord(938_513_000, "4", WRITE, 264_719_034 * 512, 16 * 512, 1)
        assert recs[1] == TraceRecord(938_828_000, "3", WRITE, 197_570_570 * 512, 8192, 2)
    else:
        assert recs[0] == TraceRecord(11_413_000, "0", READ, 657_728 * 512, 8192, 1)
        assert recs[1] == TraceRecord(11_565_000, "1", READ, 31_244_784 * 512, 32768, 2)
    ref = simple_mqsim(path)
    assert len(recs) == len(ref)
    assert [(r.t_ns, r.device, r.op == READ, r.offset, r.nbytes) for r in recs] == [x[:5] for x in ref]
    st = validate_trace(path, "mqsim")
    assert (st.records, st.reads) == (len(ref), sum(x[2] for x in ref))
    assert st.bytes == sum(x[4] for x in ref)
    assert st.t0 == ref[0][0] and st.span_ns == ref[-1][0] - ref[0][0]


def test_msr_fixture():
    path = DATA / "msr-hm.csv"
    recs = list(open_trace(path, "msr"))
    # line 1: 128166372003061629,hm,0,Write,7014912,4096,26 (FILETIME in 100 ns units)
    assert recs[0] == TraceRecord(128166372003061629 * 100, "hm_0", WRITE, 7014912, 4096, 1)
    # line 3: 128166372026382245,hm,1,Read,4022841344,65536,1153
    assert recs[2] == TraceRecord(128166372026382245 * 100, "hm_1", READ, 4022841344, 65536, 3)
    assert len(recs) == 12
    st = validate_trace(path, "msr")
    assert st.devices == {"hm_0": 8, "hm_1": 4}
    assert (st.reads, st.writes) == (5, 7)


def test_msr_header_line_is_skipped(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text(
        "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n128166372003061629,hm,0,Read,512,4096,26\n"
    )
    assert list(open_trace(p, "msr")) == [TraceRecord(12816637200306162900, "hm_0", READ, 512, 4096, 2)]


def test_blkparse_fixture_uses_queue_events_and_skips_the_summary():
    recs = list(open_trace(DATA / "blkparse-sdc.txt", "blkparse"))
    # the Q lines of the fixture (G/I/D/C/M/P/U/m skipped; the FWS flush has no sectors;
    # the DS Q event is a discard); sectors of 512 bytes
    assert recs == [
        TraceRecord(0, "8,32", READ, 272208 * 512, 2 * 512, 1),
        TraceRecord(210_334, "8,32", WRITE, 1052672 * 512, 8 * 512, 8),
        TraceRecord(213_540, "8,32", WRITE, 1052680 * 512, 8 * 512, 10),
        TraceRecord(1_874_001, "8,32", READ, 524288 * 512, 256 * 512, 15),
        TraceRecord(1_875_210, "8,32", DISCARD, 2048 * 512, 2048 * 512, 16),
        TraceRecord(4_102_577, "8,32", WRITE, 9437184 * 512, 128 * 512, 18),
    ]


def test_fio_iolog_v2_waits_advance_time():
    recs = list(open_trace(DATA / "fio-v2.iolog", "fio-iolog"))
    assert recs == [
        TraceRecord(0, "/dev/vdb", WRITE, 1048576, 4096, 4),
        TraceRecord(0, "/dev/vdb", WRITE, 1052672, 4096, 5),
        TraceRecord(250_000, "/dev/vdb", READ, 8192, 4096, 7),  # after "wait 250"
        TraceRecord(250_000, "/dev/vdb", DISCARD, 65536, 65536, 9),  # trim
        TraceRecord(1_250_000, "/dev/vdb", READ, 16384, 8192, 11),  # after "wait 1000"
        TraceRecord(1_250_000, "/dev/vdb", WRITE, 2097152, 65536, 12),
    ]


def test_fio_iolog_v3_timestamps_are_microseconds():
    recs = list(open_trace(DATA / "fio-v3.iolog", "fio-iolog"))
    assert recs[0] == TraceRecord(878_000, "/dev/nvme0n1", WRITE, 0, 16384, 6)
    assert recs[2] == TraceRecord(891_000, "/dev/nvme1n1", READ, 1073741824, 4096, 8)
    assert [r.t_ns for r in recs] == [878_000, 888_000, 891_000, 1_250_000, 2_004_000, 3_517_000, 4_096_000]
    assert validate_trace(DATA / "fio-v3.iolog", "fio-iolog").devices == {"/dev/nvme0n1": 4, "/dev/nvme1n1": 3}


# -- streaming ------------------------------------------------------------------------


def _write_mqsim(f, i):
    f.write(f"{1000 * i} {i % 7} {i * 8} 8 {i % 2}\n")


def _write_msr(f, i):
    f.write(f"{128166372003061629 + 10 * i},hm,{i % 3},{'Read' if i % 2 else 'Write'},{i * 4096},4096,26\n")


def _write_blkparse(f, i):
    f.write(
        f"  8,32   {i % 8}  {i:7d}  {i // 1000}.{i % 1000:09d}  2923  Q  {'R' if i % 2 else 'WS'} {i * 8} + 8 [fio]\n"
    )
    f.write(
        f"  8,32   {i % 8}  {i:7d}  {i // 1000}.{i % 1000:09d}     0  C  {'R' if i % 2 else 'WS'} {i * 8} + 8 [0]\n"
    )


def _write_fio(f, i):
    if i == 0:
        f.write("fio version 3 iolog\n0 /dev/vdb add\n0 /dev/vdb open\n")
    f.write(f"{i * 10} /dev/vdb {'read' if i % 2 else 'write'} {i * 4096} 4096\n")


@pytest.mark.parametrize(
    "fmt, write, n",
    [
        ("mqsim", _write_mqsim, 200_000),
        ("msr", _write_msr, 40_000),
        ("blkparse", _write_blkparse, 40_000),
        ("fio-iolog", _write_fio, 40_000),
    ],
)
def test_parsers_stream_in_bounded_memory(tmp_path, fmt, write, n):
    path = tmp_path / "big"
    with open(path, "w") as f:
        for i in range(n):
            write(f, i)
    size = path.stat().st_size
    assert size > 1 << 20
    tracemalloc.start()
    try:
        count = sum(1 for _ in open_trace(path, fmt))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 256 << 10, f"peak {peak} bytes while reading a {size}-byte file"


# -- malformed input ------------------------------------------------------------------

BAD = [
    ("mqsim", "1 0 8 8 1\n2 0 16 8 0\n3 0 abc 8 1\n4 0 x\n", 3, "non-negative integers"),
    ("mqsim", "1 0 8 8 1\n\n2 0 16 8\n", 3, "5 fields"),
    ("mqsim", "1 0 8 8 2\n", 1, "type 0 (write) or 1 (read)"),
    ("msr", "128166372003061629,hm,0,Read,512,4096,26\n128166372003061630,hm,0,Trim,0,4096,1\n", 2, "Type"),
    ("msr", "128166372003061629,hm,0,Read,512,4096\n", 1, "7 comma-separated fields"),
    (
        "blkparse",
        "  8,32 7 1 0.000000000 2923 Q R 272208 + 2 [a]\n  8,32 7 2 0.000001000 2923 Q R x + 2 [a]\n",
        2,
        "sector + nsectors",
    ),
    ("blkparse", "  8,32 7 1 0.000000000 2923 Q R 272208 + 2 [a]\nhello world\nCPU0 (8,32):\n", 2, "an event"),
    ("blkparse", "  8,32 7 1 0.0000000001 2923 Q R 1 + 2 [a]\n", 1, "seconds.nanoseconds"),
    ("fio-iolog", "/dev/vdb add\n/dev/vdb read 0 4096\n", 1, "fio version 2 iolog"),
    ("fio-iolog", "fio version 2 iolog\n/dev/vdb add\n/dev/vdb frobnicate 0 4096\n", 3, "FILE add|open|close"),
    ("fio-iolog", "fio version 3 iolog\n0 /dev/vdb add\nsoon /dev/vdb read 0 4096\n", 3, "microseconds"),
    ("fio-iolog", "fio version 3 iolog\n5 /dev/vdb read 0\n", 2, "TIMESTAMP FILE"),
]


@pytest.mark.parametrize("fmt, text, line, fragment", BAD)
def test_malformed_line_names_file_and_line(tmp_path, fmt, text, line, fragment):
    path = tmp_path / f"bad.{fmt}"
    path.write_text(text)
    with pytest.raises(TraceError) as info:
        validate_trace(path, fmt)
    err = info.value
    assert (err.path, err.line) == (str(path), line)
    assert str(err).startswith(f"{path}:{line}: expected ")
    assert fragment in str(err)
    with pytest.raises(TraceError):
        list(open_trace(path, fmt))


def test_trace_error_is_a_config_error_and_survives_pickling():
    err = TraceError("x.trace", 7, "5 fields", "1 2 3")
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert (str(back), back.path, back.line) == ("x.trace:7: expected 5 fields, got '1 2 3'", "x.trace", 7)


def test_bad_trace_is_a_config_error_naming_path_and_line(tmp_path):
    path = tmp_path / "bad.trace"
    path.write_text("1 0 8 8 1\n2 0 16 8 0\n3 0 abc 8 1\n")
    with pytest.raises(ConfigError) as info:
        build_config({"workload": {"kind": "trace", "path": str(path)}})
    assert info.value.key == "workload.path"
    assert f"{path}:3:" in str(info.value)


def test_cli_rejects_a_bad_trace_before_running(tmp_path, capsys):
    trace = tmp_path / "bad.trace"
    trace.write_text("1 0 8 8 1\n2 0 16 8 0\n3 0 abc 8 1\n")
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        f'name = "t"\n[base.backup]\nmode = "none"\n'
        f'[base.workload]\nkind = "trace"\npath = "{trace}"\nduration = "1s"\n'
    )
    out = tmp_path / "out"
    assert sim.cli.main(["run", str(scenario), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(scenario) in err[0] and "workload.path" in err[0] and f"{trace}:3:" in err[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "workload, key",
    [
        ({"path": "no/such.trace"}, "workload.path"),
        ({"path": str(TPCC), "device": "99"}, "workload.device"),
        ({"path": str(TPCC), "bs": "8KiB"}, "workload.bs"),
        ({"path": str(TPCC), "start": "1s"}, "workload.start"),
        ({"path": str(TPCC), "time_scale": 0}, "workload.time_scale"),
        ({"path": str(TPCC), "format": "csv"}, "workload.format"),
        (
            {
                "path": str(DATA / "fio-v2.iolog"),
                "format": "fio-iolog",
                "device": "/dev/vdb",
                "start": "1ms",
                "loop": True,
            },
            "workload.loop",
        ),
    ],
)
def test_trace_config_errors_name_the_key(workload, key):
    with pytest.raises(ConfigError) as info:
        build_config({"workload": {"kind": "trace", **workload}})
    assert info.value.key == key


# -- replay ---------------------------------------------------------------------------


def _replay(workload, duration="1s", disk=None, disk_size="16GiB", keep_model=False):
    cfg = {
        "backup": {"mode": "none", "disk_size": disk_size},
        "disk": disk or {"profile": "nvme"},
        "loop": free_loop(),
        "workload": {"kind": "trace", "duration": duration, **workload},
        "run": {"baseline": False, "keep_requests": True},
    }
    return sim.run_one(cfg, keep_model=keep_model)


@pytest.mark.parametrize("path, duration", [(TPCC, "200ms"), (WSRCH, "61s")])
def test_open_replay_reproduces_the_trace(path, duration):
    ref = simple_mqsim(path)
    req = _replay({"path": str(path)}, duration).requests.sort_values("index")
    t0 = ref[0][0]
    assert len(req) == len(ref)
    assert int((req["op"] == "read").sum()) == sum(x[2] for x in ref)
    assert int((req["op"] == "write").sum()) == sum(not x[2] for x in ref)
    assert int(req["bytes"].sum()) == sum(x[4] for x in ref)
    assert req["t_submit_ns"].tolist() == [x[0] - t0 for x in ref]  # submitted at trace times
    span_s = (ref[-1][0] - t0) / 1e9
    got_rate = (len(req) - 1) / ((req["t_submit_ns"].max() - req["t_submit_ns"].min()) / 1e9)
    assert got_rate == pytest.approx((len(ref) - 1) / span_s, rel=1e-12)
    assert (req["op"] == "read").tolist() == [x[2] for x in ref]
    assert not req["error"].any()


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_time_scale_stretches_the_arrivals(scale):
    ref = simple_mqsim(TPCC)
    t0 = ref[0][0]
    req = _replay({"path": str(TPCC), "time_scale": scale}, "500ms").requests.sort_values("index")
    assert req["t_submit_ns"].tolist() == [round((x[0] - t0) * scale) for x in ref]
    span = req["t_submit_ns"].max() - req["t_submit_ns"].min()
    assert span == pytest.approx((ref[-1][0] - t0) * scale, abs=1)


def test_closed_replay_keeps_order_and_ignores_times():
    ref = simple_mqsim(TPCC)
    res = _replay(
        {"path": str(TPCC), "replay": "closed", "iodepth": 4}, "10s", disk=fixed_device(base="5us", qd=4, bw="100GiB/s")
    )
    req = res.requests.sort_values("index")
    assert len(req) == len(ref)
    assert (req["op"] == "read").tolist() == [x[2] for x in ref]
    assert req["bytes"].tolist() == [x[4] for x in ref]
    assert (req["t_submit_ns"].iloc[:4] == 0).all()  # depth 4 from the start
    # the trace spans 136 ms; back to back on a fast 4-slot disk it takes ~9 ms
    assert req["t_submit_ns"].max() < (ref[-1][0] - ref[0][0]) / 10


def test_device_selection_and_start():
    ref = simple_mqsim(TPCC)
    t0 = ref[0][0]
    mine = [x for x in ref if x[1] == "3"]
    req = _replay({"path": str(TPCC), "device": 3}, "200ms").requests.sort_values("index")
    assert len(req) == len(mine) == 461
    assert req["t_submit_ns"].tolist() == [x[0] - t0 for x in mine]  # the file's clock
    assert int(req["bytes"].sum()) == sum(x[4] for x in mine)
    start = 50_000_000
    late = [x for x in ref if x[0] - t0 >= start]
    req = _replay({"path": str(TPCC), "start": "50ms"}, "200ms").requests.sort_values("index")
    assert req["t_submit_ns"].tolist() == [x[0] - t0 - start for x in late]


def test_beyond_disk_wrap_and_reject():
    disk = 16 * GiB
    ref = simple_mqsim(TPCC)
    first_beyond = next(x for x in ref if x[3] + x[4] > disk)
    # rejected when the configuration is built, before any run starts
    with pytest.raises(sim.ConfigError) as info:
        _replay({"path": str(TPCC), "beyond_disk": "reject"}, "200ms")
    assert info.value.key == "workload.path"
    assert f"tpcc-small.trace:{first_beyond[5]}:" in str(info.value)
    req = _replay({"path": str(TPCC)}, "200ms").requests.sort_values("index")
    expect = []
    for x in ref:
        off = x[3]
        if off + x[4] > disk:
            off = off % disk // 512 * 512
            if off + x[4] > disk:
                off = (disk - x[4]) // 512 * 512
        expect.append(off)
    assert req["offset"].tolist() == expect
    assert ((req["offset"] + req["bytes"]) <= disk).all()


def test_place_straddling_request_moves_back_and_keeps_its_size():
    rec = TraceRecord(0, "0", WRITE, 1000 * 512 + 7, 4096, 9)
    assert place(rec, 1 << 20, "wrap", "x") == 1000 * 512 + 7  # inside: untouched
    rec = TraceRecord(0, "0", WRITE, (1 << 20) - 1024, 4096, 9)  # straddles the end
    assert place(rec, 1 << 20, "wrap", "x") == (1 << 20) - 4096
    with pytest.raises(TraceError, match="x:9:"):
        place(rec, 1 << 20, "reject", "x")
    with pytest.raises(TraceError):
        place(TraceRecord(0, "0", READ, 0, 2 << 20, 1), 1 << 20, "wrap", "x")


def test_loop_starts_over_after_the_mean_gap():
    ref = simple_mqsim(TPCC)
    at = [x[0] - ref[0][0] for x in ref]
    period = at[-1] + round(at[-1] / (len(at) - 1))
    duration = 300_000_000
    expected = sorted(a + k * period for k in range(3) for a in at if a + k * period < duration)
    assert duration not in expected
    res = _replay({"path": str(TPCC), "loop": True}, f"{duration}ns", keep_model=True)
    assert res.requests.sort_values("index")["t_submit_ns"].tolist() == expected
    assert res.model.guest.passes == 3


@pytest.mark.parametrize(
    "path, fmt",
    [
        (DATA / "msr-hm.csv", "msr"),
        (DATA / "blkparse-sdc.txt", "blkparse"),
        (DATA / "fio-v2.iolog", "fio-iolog"),
        (DATA / "fio-v3.iolog", "fio-iolog"),
    ],
)
def test_fixture_replays(path, fmt):
    recs = list(open_trace(path, fmt))
    t0 = recs[0].t_ns
    req = _replay({"path": str(path), "format": fmt}, "20s").requests.sort_values("index")
    assert req["t_submit_ns"].tolist() == [r.t_ns - t0 for r in recs]
    assert req["bytes"].tolist() == [r.nbytes for r in recs]
    assert (req["op"] == "read").tolist() == [r.op == READ for r in recs]


def test_formats_registry():
    assert list(FORMATS) == ["mqsim", "msr", "blkparse", "fio-iolog"]
    with pytest.raises(ValueError):
        open_trace(TPCC, "nope")


def test_check_disk_rejects_before_running():
    # the hook the configuration's cross-section check can call with backup.disk_size
    ref = simple_mqsim(TPCC)
    first_beyond = next(x for x in ref if x[3] + x[4] > 16 * GiB)
    wl = build_config(
        {"backup": {"disk_size": "1TiB"}, "workload": {"kind": "trace", "path": str(TPCC), "beyond_disk": "reject"}}
    ).workload
    with pytest.raises(ConfigError) as info:
        wl.check_disk(16 * GiB)
    assert info.value.key == "path" and f"tpcc-small.trace:{first_beyond[5]}:" in str(info.value)
    wl.check_disk(1 << 40)  # a 1 TiB disk holds them all
    build_config({"workload": {"kind": "trace", "path": str(TPCC)}}).workload.check_disk(16 * GiB)
