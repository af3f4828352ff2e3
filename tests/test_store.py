"""The results folder is safe: one lock, merged files published as one set, failures leave it intact.

Also: a run's identity covers its input files and the model version, so resume never reuses stale runs.
"""

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import sim
from sim import analysis, store
from sim.batch import run_batch
from sim.cli import main
from sim.scenario import load_scenario

DEVICE = """profile = "custom"
read_seq_base = "100us"
read_rand_base = "100us"
write_seq_base = "100us"
write_rand_base = "100us"
read_bw = 655360000
write_bw = 655360000
"""

SCN = f"""
name = "tiny-store"
root_seed = 3
replications = {{reps}}
[base.backup]
disk_size = "256KiB"
cluster_size = "64KiB"
start = "1ms"
[base.disk]
{DEVICE}
[base.target]
{DEVICE}
[base.workload]
{{workload}}
[base.run]
max_time = "1s"
"""
NO_GUEST = 'kind = "none"'
TRACE = 'kind = "trace"\npath = "{path}"\nformat = "mqsim"'
MERGED = ("runs.parquet", "runs.csv", "timeline.parquet", "latency_hist.parquet")


def _scn(tmp_path: Path, reps: int = 2, workload: str = NO_GUEST, name: str = "s.toml") -> Path:
    f = tmp_path / name
    f.write_text(SCN.format(reps=reps, workload=workload))
    return f


def _batch(f: Path, out: Path, **kw):
    return run_batch(load_scenario(f), out, jobs=1, progress=False, **kw)


def _snapshot(out: Path) -> dict:
    return {n: (out / n).read_bytes() for n in (*MERGED, "manifest.json")}


def _stray(out: Path) -> list:
    return [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".staging-")]


def test_merged_files_are_one_published_set(tmp_path):
    out = tmp_path / "r"
    _batch(_scn(tmp_path, reps=2), out)
    cur = out / store.CURRENT
    assert cur.is_symlink() and os.readlink(cur).startswith(".gen-")
    for name in (*MERGED, "manifest.json"):
        assert os.readlink(out / name) == f"current/{name}", name
    first = os.readlink(cur)
    old_gen = store.generation(out)  # a reader that resolved the set before the next batch
    old_runs = (old_gen / "runs.parquet").read_bytes()
    man = json.loads((out / "manifest.json").read_text())
    for name in ("runs.parquet", "timeline.parquet", "latency_hist.parquet"):
        assert pq.read_schema(out / name).metadata[store.BATCH_KEY].decode() == man["batch_id"]

    _batch(_scn(tmp_path, reps=3), out)  # another batch: a new set, swapped in one rename
    second = os.readlink(cur)
    assert second != first and len(sim.load_results(out)) == 3
    assert (old_gen / "runs.parquet").read_bytes() == old_runs  # the old set is still whole for its reader
    assert len(analysis.load(out).runs) == 3
    _batch(_scn(tmp_path, reps=1), out)
    gens = sorted(p.name for p in out.glob(".gen-*"))
    assert gens == sorted([second, os.readlink(cur)])  # the current set and the one before
    assert not _stray(out)


def test_loader_refuses_files_of_two_batches(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _batch(_scn(tmp_path, reps=1), a)
    _batch(_scn(tmp_path, reps=2), b)
    mixed = tmp_path / "mixed"  # a hand-made copy mixing two batches
    mixed.mkdir()
    for name in MERGED + ("manifest.json",):
        (mixed / name).write_bytes(((b if name == "timeline.parquet" else a) / name).read_bytes())
    with pytest.raises(store.ResultsError, match="different batches"):
        analysis.load(mixed)


def _hold_lock(out: Path):
    code = (
        "import sys, time; from sim.store import ResultStore\n"
        "with ResultStore(sys.argv[1]).locked(command='holder'):\n"
        "    print('locked', flush=True); time.sleep(float(sys.argv[2]))\n"
    )
    return code


def test_second_batch_on_a_folder_refuses_naming_the_holder(tmp_path, capsys):
    f = _scn(tmp_path, reps=1)
    out = tmp_path / "r"
    holder = subprocess.Popen(
        [sys.executable, "-c", _hold_lock(out), str(out), "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(f), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(out) in err[0] and f"pid {holder.pid}" in err[0], err
        assert not (out / "runs.parquet").exists() and not (out / ".parts").exists()
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the lock of the killed holder: the next batch runs
    assert main(["run", str(f), "--out", str(out), "--quiet"]) == 0


def test_a_batch_can_wait_for_the_lock(tmp_path):
    out = tmp_path / "r"
    holder = subprocess.Popen([sys.executable, "-c", _hold_lock(out), str(out), "1"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        runs = _batch(_scn(tmp_path, reps=1), out, wait=30)
        assert len(runs) == 1 and time.monotonic() - t0 < 25
    finally:
        holder.kill()
        holder.wait()


def test_run_wait_flag_waits_for_the_holder(tmp_path):
    f = _scn(tmp_path, reps=1)
    out = tmp_path / "r"
    holder = subprocess.Popen([sys.executable, "-c", _hold_lock(out), str(out), "1"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(f), "--out", str(out), "--quiet", "--wait"]) == 0
        assert holder.poll() is not None  # it ran only once the holder had let go
    finally:
        holder.kill()
        holder.wait()


def test_full_disk_while_merging_keeps_the_previous_results(tmp_path, monkeypatch, capsys):
    f1, f2 = _scn(tmp_path, reps=1, name="one.toml"), _scn(tmp_path, reps=2, name="two.toml")
    out = tmp_path / "r"
    assert main(["run", str(f1), "--out", str(out), "--quiet"]) == 0
    before = _snapshot(out)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_write_parquet", full)
    assert main(["run", str(f2), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "previous results" in err[0], err
    assert "2 of 2 runs are stored" in err[0]
    assert _snapshot(out) == before and not _stray(out)


def test_full_disk_while_storing_a_run(tmp_path, monkeypatch, capsys):
    f = _scn(tmp_path, reps=2)
    out = tmp_path / "r"
    real = store.atomic_write

    def full_parts(path, write):
        if Path(path).parent.name == ".parts":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, write)

    monkeypatch.setattr(store, "atomic_write", full_parts)
    assert main(["run", str(f), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "Traceback" not in err[0]
    assert not (out / "runs.parquet").exists() and not _stray(out)


def test_leftovers_of_a_killed_batch_are_removed(tmp_path):
    f = _scn(tmp_path, reps=1)
    out = tmp_path / "r"
    _batch(f, out)
    leftovers = [
        out / ".parts" / ".abc.summary.json.x1.tmp",
        out / ".runs.parquet.x2.tmp",
        out / "current" / ".report.md.x3.tmp",
        out / "current" / "figures" / ".t.png.x4.tmp",
        out / ".staging-dead" / "runs.parquet",
    ]
    for p in leftovers:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("half")
    _batch(f, out)
    assert not any(p.exists() for p in leftovers) and not (out / ".staging-dead").exists()


def test_damaged_parts_are_recomputed(tmp_path):
    f = _scn(tmp_path, reps=3)
    out = tmp_path / "r"
    _batch(f, out)
    before = {n: (out / n).read_bytes() for n in MERGED}
    parts = out / ".parts"
    summaries = sorted(parts.glob("*.summary.json"))
    tl = parts / summaries[0].name.replace(".summary.json", ".timeline.parquet")
    tl.write_bytes(tl.read_bytes()[:-40])  # truncated Parquet
    summaries[1].write_text(summaries[1].read_text()[:30])  # truncated JSON
    doc = json.loads(summaries[2].read_text())  # a changed number
    doc["summary"]["backup_bytes"] += 1
    summaries[2].write_text(json.dumps(doc))
    computed = []
    _batch(f, out, on_run=computed.append)
    assert len(computed) == 3
    assert {n: (out / n).read_bytes() for n in MERGED} == before


@pytest.mark.parametrize("name", ["runs.parquet", "timeline.parquet", "manifest.json"])
def test_report_on_a_damaged_file_names_it(tmp_path, capsys, name):
    out = tmp_path / "r"
    _batch(_scn(tmp_path, reps=1), out)
    target = out / name
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out / name) in err[0] and "Traceback" not in err[0], err


def _trace_scn(tmp_path: Path) -> tuple[Path, Path]:
    trace = tmp_path / "t.trace"
    trace.write_text("0 0 0 8 1\n1500000 0 8 8 0\n2000000 0 16 8 1\n")
    return _scn(tmp_path, reps=1, workload=TRACE.format(path=trace)), trace


def test_editing_a_trace_recomputes(tmp_path):
    f, trace = _trace_scn(tmp_path)
    out = tmp_path / "r"
    first = _batch(f, out)
    computed = []
    _batch(f, out, on_run=computed.append)
    assert computed == []  # same inputs: reused
    trace.write_text(trace.read_text() + "2500000 0 24 8 0\n")
    second = _batch(f, out, on_run=computed.append)
    assert len(computed) == 1  # the trace changed: recomputed
    assert second.loc[0, "guest_ops"] == first.loc[0, "guest_ops"] + 1
    man = json.loads((out / "manifest.json").read_text())
    assert list(man["inputs"]) == [str(trace)] and len(man["inputs"][str(trace)]) == 64


def test_a_new_model_version_recomputes(tmp_path, monkeypatch):
    f = _scn(tmp_path, reps=2)
    out = tmp_path / "r"
    _batch(f, out)
    computed = []
    monkeypatch.setattr(sim._version, "__version__", "99.0.0")
    _batch(f, out, on_run=computed.append)
    assert len(computed) == 2
    man = json.loads((out / "manifest.json").read_text())
    assert man["model_version"] == "99.0.0" and man["versions"]["backupsim"] == "99.0.0"
