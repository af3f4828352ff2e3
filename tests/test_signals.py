"""Signals and workers: Ctrl-C stops a batch cleanly and resumably; a killed batch leaves no workers."""

import json
import multiprocessing
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import fio_batch_file

import sim
from sim import batch
from sim.cli import main


def _scenario(tmp_path, size="64MiB"):
    # without baselines every run is a task of its own (runs sharing a baseline go to a worker together,
    # sim.batch.groups), so runs finish one by one and an interrupt finds some stored and some not
    f = fio_batch_file(tmp_path, "signals", size)
    f.write_text(f.read_text() + "[base.run]\nbaseline = false\n")
    return f


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie nobody reaps is not running


def _wait_for(cond, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def _start(f: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(f), "--out", str(out), "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _cleanup(proc: subprocess.Popen, workers: list[int]) -> None:
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_batch_leaves_no_workers_and_closes_the_pipe(tmp_path):
    proc = _start(_scenario(tmp_path), tmp_path / "r", "--jobs", "2")
    workers: list[int] = []
    try:
        assert _wait_for(lambda: proc.poll() is not None or len(_children(proc.pid)) >= 2), "no workers started"
        assert proc.poll() is None, proc.stderr.read().decode()
        workers = _children(proc.pid)
        time.sleep(0.3)  # the workers are computing
        os.kill(proc.pid, signal.SIGKILL)  # the batch only, as the OOM killer would
        proc.wait()
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + 5
        eof = False
        while time.monotonic() < deadline and not eof:  # the workers held the caller's pipe open
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            eof = bool(ready) and os.read(fd, 65536) == b""
        assert eof, "stdout still open 5 s after the batch was killed"
        assert _wait_for(lambda: not any(_alive(p) for p in workers), 5), "workers outlived the batch"
    finally:
        _cleanup(proc, workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_prints_one_line_exits_130_and_resumes(tmp_path):
    f = _scenario(tmp_path)
    out = tmp_path / "r"
    proc = _start(f, out, "--jobs", "2")
    workers: list[int] = []
    try:
        parts = out / ".parts"
        assert _wait_for(lambda: proc.poll() is not None or any(parts.glob("*.summary.json"))), "no run finished"
        assert proc.poll() is None, proc.stderr.read().decode()
        workers = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        _, err = proc.communicate(timeout=30)
    finally:
        _cleanup(proc, workers)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130, lines
    assert len(lines) == 1, lines
    m = re.fullmatch(r"backupsim: interrupted; (\d) of 4 runs stored in .+, rerun the same command to resume", lines[0])
    assert m, lines[0]
    stored = int(m[1])
    assert 1 <= stored < 4
    assert not any(_alive(p) for p in workers)
    assert not (out / "runs.parquet").exists()
    assert main(["run", str(f), "--out", str(out), "--quiet", "--jobs", "2"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["runs_reused"] == stored and man["runs_computed"] == 4 - stored


def test_jobs_above_the_number_of_runs_starts_one_worker_per_run(tmp_path):
    f = _scenario(tmp_path, size="4MiB")
    seen = []
    sim.run_batch(
        sim.load_scenario(f),
        tmp_path / "r",
        jobs=16,
        progress=False,
        on_run=lambda spec: seen.append(len(multiprocessing.active_children())),
    )
    assert seen and max(seen) <= 4


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_dask_scheduler_fails_fast_with_one_message(tmp_path, monkeypatch, capsys):
    pytest.importorskip("distributed")
    monkeypatch.setattr(batch, "DASK_CONNECT_TIMEOUT", 1.0)
    out = tmp_path / "r"
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    rc = main(
        [
            "run",
            str(_scenario(tmp_path, "4MiB")),
            "--out",
            str(out),
            "--executor",
            "dask",
            "--scheduler",
            address,
            "--quiet",
        ]
    )
    assert rc == 2 and time.monotonic() - t0 < 15
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("backupsim: error: command line: key '--scheduler'"), err
    assert "reachable Dask scheduler" in err[0] and not out.exists()
