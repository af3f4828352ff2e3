"""The command line: run writes results, bad input exits 2 and writes nothing."""

import subprocess
import sys

import pandas as pd
import pytest

from sim.cli import main

SMALL = ["--set", "backup.disk_size=8MiB", "--set", "backup.start=10ms"]
ONE = SMALL + ["--set", "policy.name=none", "--set", "loop.era=2013", "--seeds", "1"]


def test_run_writes_parquet_and_csv(tmp_path, capsys):
    out = tmp_path / "r"
    # --set on the swept keys of the default scenario and one seed: exactly one configuration
    assert main(["run", *ONE, "--out", str(out), "--jobs", "1"]) == 0
    df = pd.read_parquet(out / "runs.parquet")
    assert len(df) == 1 and df.loc[0, "status"] == "completed"
    csv = pd.read_csv(out / "runs.csv")
    assert list(csv.columns) == list(df.columns)
    for col in ("status", "consistent", "backup_duration_s", "backup_bytes", "backup_throughput_mib_s",
                "cow_writes", "guest_read_p50_us", "guest_read_p99_us", "guest_write_p50_us",
                "guest_write_p99_us", "guest_p99_us", "guest_p999_us", "guest_iops", "guest_ops",
                "guest_read_ops", "guest_write_ops", "guest_bytes", "baseline_guest_p99_us",
                "slowdown_p99", "loop_wait_max_us", "seed", "replication"):
        assert col in df.columns, col
    text = capsys.readouterr().out
    assert "slowdown" in text and "completed:1" in text
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("item,key", [
    ("backup.nope=1", "backup.nope"),
    ("backup.cluster_size=3KiB", "backup.cluster_size"),
    ("backup.cluster_size=32GiB", "backup.cluster_size"),
    ("policy.name=magic", "policy.name"),
    ("workload.iodepth=-3", "workload.iodepth"),
    ("disk.profile=floppy", "disk.profile"),
    ("loop.era=1999", "loop.era"),
    ("noequals", "noequals"),
])
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
