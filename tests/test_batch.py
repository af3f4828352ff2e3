"""Batches: parallel and Dask runs equal serial ones byte for byte; a killed batch resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import fio_batch_file

import sim
from sim.batch import run_batch
from sim.cli import main
from sim.scenario import load_scenario

FILES = ("runs.parquet", "runs.csv", "timeline.parquet", "latency_hist.parquet")


def _scenario(tmp_path, size="8MiB"):
    return fio_batch_file(tmp_path, "batch", size)


def _same_files(a: Path, b: Path):
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_parallel_equals_serial_byte_for_byte(tmp_path):
    f = _scenario(tmp_path)
    assert main(["run", str(f), "--out", str(tmp_path / "serial"), "--jobs", "1", "--quiet"]) == 0
    assert main(["run", str(f), "--out", str(tmp_path / "par"), "--jobs", "2", "--quiet"]) == 0
    _same_files(tmp_path / "serial", tmp_path / "par")
    runs = sim.load_results(tmp_path / "par")
    assert len(runs) == 4 and {"run_id", "seed", "replication", "policy.name"} <= set(runs.columns)
    assert (runs["status"] == "completed").all()
    man = json.loads((tmp_path / "par" / "manifest.json").read_text())
    assert man["runs"] == 4 and man["scenario"]["base"]["loop"]["era"] == "2013"
    assert {"scenario_hash", "versions", "git_commit", "started", "finished"} <= set(man)
    tl = pd.read_parquet(tmp_path / "par" / "timeline.parquet")
    hist = pd.read_parquet(tmp_path / "par" / "latency_hist.parquet")
    assert set(tl["run_id"]) == set(runs["run_id"]) == set(hist["run_id"])


def test_rerun_computes_nothing_and_changes_nothing(tmp_path):
    f = _scenario(tmp_path)
    out = tmp_path / "r"
    scn = load_scenario(f)
    run_batch(scn, out, jobs=1, progress=False)
    before = {n: (out / n).read_bytes() for n in FILES}
    computed = []
    run_batch(scn, out, jobs=1, progress=False, on_run=computed.append)
    assert computed == []
    assert before == {n: (out / n).read_bytes() for n in FILES}


def test_killed_batch_resumes_to_the_same_files(tmp_path):
    f = _scenario(tmp_path, size="64MiB")
    full = tmp_path / "full"
    run_batch(load_scenario(f), full, jobs=1, progress=False)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(f), "--out", str(out), "--jobs", "1", "--quiet"],
        start_new_session=True,
    )
    parts = out / ".parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("*.summary.json"))) < 1:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(parts.glob("*.summary.json")))
    assert 1 <= done < 4, "the kill should land mid-batch"
    assert not (out / "runs.parquet").exists()
    assert main(["run", str(f), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["runs_reused"] == done and man["runs_computed"] == 4 - done
    _same_files(full, out)
    assert not list(out.rglob("*.tmp"))


def test_dask_local_cluster_equals_local(tmp_path):
    pytest.importorskip("distributed")
    f = _scenario(tmp_path)
    assert main(["run", str(f), "--out", str(tmp_path / "local"), "--jobs", "1", "--quiet"]) == 0
    assert main(["run", str(f), "--out", str(tmp_path / "dask"), "--executor", "dask", "--jobs", "2", "--quiet"]) == 0
    _same_files(tmp_path / "local", tmp_path / "dask")


def test_progress_is_quiet_when_not_a_tty(tmp_path):
    f = _scenario(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(f), "--out", str(tmp_path / "p"), "--jobs", "1"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0
    assert "it/s" not in r.stderr and "run/s" not in r.stderr and "%|" not in r.stderr
