"""The command line: run writes results, bad input exits 2 and writes nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

SMALL = ["--set", "backup.disk_size=8MiB", "--set", "backup.start=10ms"]
ONE = SMALL + [
    "--set",
    "policy.name=none",
    "--set",
    "loop.era=2013",
    "--set",
    "loop.iteration_cost=2us",
    "--seeds",
    "1",
]


def test_run_writes_parquet_and_csv(tmp_path, capsys):
    out = tmp_path / "r"
    # --set on the swept keys of the default scenario and one seed: exactly one configuration
    assert main(["run", *ONE, "--out", str(out), "--jobs", "1"]) == 0
    df = pd.read_parquet(out / "runs.parquet")
    assert len(df) == 1 and df.loc[0, "status"] == "completed"
    csv = pd.read_csv(out / "runs.csv")
    assert list(csv.columns) == list(df.columns)
    for col in (
        "status",
        "consistent",
        "backup_duration_s",
        "backup_bytes",
        "backup_throughput_mib_s",
        "cow_clusters",
        "guest_read_p50_us",
        "guest_read_p99_us",
        "guest_write_p50_us",
        "guest_write_p99_us",
        "guest_p99_us",
        "guest_p999_us",
        "guest_iops",
        "guest_ops",
        "guest_read_ops",
        "guest_write_ops",
        "guest_bytes",
        "baseline_guest_p99_us",
        "slowdown_p99",
        "loop_wait_max_us",
        "seed",
        "replication",
    ):
        assert col in df.columns, col
    text = capsys.readouterr().out
    assert "slowdown" in text and "completed:1" in text
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize(
    "item,key",
    [
        ("backup.nope=1", "backup.nope"),
        ("backup.cluster_size=3KiB", "backup.cluster_size"),
        ("backup.cluster_size=32GiB", "backup.cluster_size"),
        ("policy.name=magic", "policy.name"),
        ("workload.iodepth=-3", "workload.iodepth"),
        ("disk.profile=floppy", "disk.profile"),
        ("loop.era=1999", "loop.era"),
        ("noequals", "noequals"),
    ],
)
def test_bad_input_exits_2_with_one_message_and_writes_nothing(tmp_path, capsys, item, key):
    out = tmp_path / "r"
    assert main(["run", "--set", item, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{key}'" in err[0] and "expected" in err[0]
    assert not out.exists()


def test_python_dash_m_is_the_same_program():
    r = subprocess.run([sys.executable, "-m", "sim", "list"], capture_output=True, text=True)
    assert r.returncode == 0 and "fixed-sleep" in r.stdout and "nvme" in r.stdout


def test_bench_prints_json_last(capsys):
    import json

    assert main(["bench", "--disk-size", "4MiB"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    fig = json.loads(last)
    for k in ("sim_ops_per_s", "simpy_ops_per_s", "efficiency", "peak_rss_mib"):
        assert fig[k] > 0


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("case", ["file", "under-file", "read-only", "nul"])
def test_unusable_out_exits_2_before_computing(tmp_path, capsys, monkeypatch, case):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    out = {
        "file": afile,
        "under-file": afile / "sub" / "r",
        "read-only": tmp_path / "ro" / "r",
        "nul": tmp_path / "a\0b",
    }[case]
    if case == "read-only":
        (tmp_path / "ro").mkdir()
        # root ignores chmod 555, a read-only mount does not: say the folder is not writable
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == tmp_path / "ro" else real(p, mode))
    computed = []
    monkeypatch.setattr("sim.batch.execute_group", lambda cfgs: computed.extend(cfgs))
    before = sorted(tmp_path.rglob("*"))
    assert main(["run", *ONE, "--out", str(out), "--jobs", "1"]) == 2
    err = _one_error(capsys)
    assert err.startswith(f"backupsim: error: command line: key '--out': got {str(out)!r}, expected "), err
    assert {
        "file": "this is a file",
        "under-file": f"its parent {afile} is a file",
        "read-only": "is read-only",
        "nul": "without NUL",
    }[case] in err, err
    assert computed == [] and sorted(tmp_path.rglob("*")) == before
    assert afile.read_text() == "not a folder"


def test_existing_unwritable_out_folder_exits_2(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    out.mkdir()

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("sim.batch.tempfile.TemporaryFile", refuse)
    assert main(["run", *ONE, "--out", str(out), "--jobs", "1"]) == 2
    err = _one_error(capsys)
    assert "key '--out'" in err and "a writable folder (Permission denied)" in err and list(out.iterdir()) == []


@pytest.mark.parametrize(
    "address",
    ["foo", "tcp://", "tcp://host:notaport", "tcp://host:99999", "http://host:8786", "tcp://:8786", "tcp://a b:1"],
)
def test_malformed_scheduler_exits_2_before_computing(tmp_path, capsys, address):
    out = tmp_path / "r"
    assert main(["run", *ONE, "--out", str(out), "--executor", "dask", "--scheduler", address]) == 2
    err = _one_error(capsys)
    assert err.startswith(f"backupsim: error: command line: key '--scheduler': got {address!r}, expected a Dask"), err
    assert not out.exists()


@pytest.mark.parametrize(
    "address", ["tcp://10.0.0.5:8786", "tls://host.example:8786", "tcp://host", "host:8786", "tcp://[::1]:8786"]
)
def test_well_formed_scheduler_addresses(address):
    from sim.batch import check_scheduler

    check_scheduler(address)
