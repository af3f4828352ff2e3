"""``backupsim calibrate``: the cases, the simulated side, the scenario that mirrors them, and one real case."""

import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.calibrate import CASES, SETUP
from sim.calibrate.real import missing_tools
from sim.calibrate.simulated import sim_config
from sim.cli import main
from sim.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "qemu-calibration.toml"


def _resolved(cfg: dict) -> dict:
    d = sim.build_config(cfg).to_dict()
    d["run"].pop("seed")
    d["run"].pop("replication")
    return d


def test_the_scenario_reproduces_every_case():
    scn = scenario_from_dict(tomllib.loads(SCENARIO.read_text()), str(SCENARIO))
    scenario_cfgs = [_resolved(scn._point_config(p).to_dict()) for p in scn.points()]
    for case in CASES:
        assert _resolved(sim_config(case)) in scenario_cfgs, case.name
    assert len(scenario_cfgs) == len(CASES)


def test_speed_cases_are_shares_of_the_throttle():
    speeds = {c.name: c.speed(SETUP) for c in CASES}
    assert speeds["speed-50"] == SETUP.bps_total // 2
    assert speeds["speed-10"] == int(0.1 * SETUP.bps_total)
    assert speeds["workers-64"] == 0


def test_the_throttle_sets_the_backup_duration_in_simulation():
    # 256 MiB through a 64 MiB/s bucket that starts empty with 6.4 MiB of room (avg/10):
    # the last byte passes at (256 - 6.4) MiB / 64 MiB/s = 3.9 s, plus the last chunk's copy
    s = sim.run_one(sim_config(next(c for c in CASES if c.name == "workers-1"))).summary
    bound = (SETUP.disk_size - SETUP.bps_total / 10) / SETUP.bps_total
    assert s["status"] == "completed" and s["good_backup"]
    assert bound <= s["backup_duration_s"] <= bound * 1.02


def test_sim_only_writes_the_table(tmp_path, capsys):
    out = tmp_path / "cal"
    assert main(["calibrate", "--sim-only", "--cases", "workers-1,no-backup", "--reps", "1", "--out", str(out)]) == 0
    md = (out / "calibration.md").read_text()
    assert "workers-1" in md and "no-backup" in md
    assert (out / "calibration.csv").exists() and not (out / "calibration.png").exists()
    # the reference machine's QEMU task beside the model's: a 1 MiB read of the source (585,728 ns: 1,640 ns and
    # the 1 MiB - 4 KiB beyond at the rate measured between them), a 1 MiB write into the new target file
    # (602,112 ns), the fresh mapping's 257 page faults (its 256 pages and the header's) at 2,569 ns (660,233 ns)
    # and two thread-pool handoffs of ((57,628 - 25,919 - 1,640) + (54,953 - 27,521 - 1,816)) / 2 = 27,842.5 ns
    # (55,685 ns): 1,903,758 ns, against 1,967,743 ns measured with one worker (1.03x), 1,382,110 ns with 64
    # (1.42x faster)
    assert "1968 µs with one worker, 1382 µs a task with 64 (1.42x faster)" in md
    assert "gives it 1904 µs (a read and a write on its tmpfs devices, 660 µs of it the faults" in md
    assert "and 56 µs the thread pool's two handoffs" in md
    assert "QEMU takes 1.03x as long" in md


def test_missing_packages_are_named_with_the_install_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    assert main(["calibrate", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "qemu-storage-daemon" in err and "apt-get install -y qemu-system-common qemu-utils fio" in err
    assert not (tmp_path / "x").exists()


def test_an_unknown_case_is_a_clear_error(tmp_path, capsys):
    assert main(["calibrate", "--sim-only", "--cases", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "--cases" in capsys.readouterr().err


@pytest.mark.qemu
def test_one_real_case_matches_the_model(tmp_path):
    if missing_tools():
        pytest.skip("needs " + ", ".join(missing_tools()))
    from sim.calibrate.compare import calibrate

    table = calibrate(tmp_path, [c for c in CASES if c.name == "workers-1"], reps=1)
    row = table.iloc[0]
    assert math.isfinite(row["real_backup_s"]) and math.isfinite(row["real_p99_us"])
    # the throttle sets the duration on both sides: within the 5 %
    assert abs(row["ratio_backup_s"] - 1) <= 0.05
    assert (tmp_path / "calibration.png").exists()
    # this machine's own copy task, measured by unthrottled backups, is reported beside the model's
    assert "QEMU's own 1 MiB copy task" in (tmp_path / "calibration.md").read_text()


def test_file_costs_take_each_devices_writes_from_their_own_measurement():
    from sim.calibrate.simulated import FileCosts

    f = FileCosts(2_000, 1_046_000, 0.0, 3_000, 525_000, 5_000, 527_000)
    # 1 MiB - 4 KiB = 1,044,480 bytes beyond the 4 KiB request's cost: over 1,044,000 ns to read,
    # 522,000 ns to write into existing pages or into new ones
    assert f.costs(new=False) == (2_000, 1_044_480 / 1_044_000 * 1e9, 3_000, 1_044_480 / 522_000 * 1e9)
    assert f.costs(new=True)[2:] == (5_000, 1_044_480 / 522_000 * 1e9)
    old = FileCosts(2_000, 1_046_000)  # writes not measured: a write costs what a read does
    assert old.costs(new=True) == old.costs(new=False) == (2_000, old.bytes_per_s, 2_000, old.bytes_per_s)
    cfg = sim_config(CASES[4], file=f)
    assert (cfg["disk"]["write_rand_base"], cfg["target"]["write_rand_base"]) == ("3000ns", "5000ns")
    assert cfg["disk"]["read_bw"] == cfg["target"]["read_bw"] == int(1_044_480 / 1_044_000 * 1e9)


def test_the_null_path_splits_the_loops_wake_from_the_thread_pools():
    from sim.calibrate.real import PathCosts
    from sim.calibrate.simulated import FileCosts, handoff_ns

    file = FileCosts(read_4k_ns=2_000, read_1m_ns=500_000, write_4k_ns=3_000, write_1m_ns=300_000)
    path = PathCosts(
        read_4k_ns=60_000,
        write_4k_ns=55_000,
        read_1m_ns=1_500_000,
        paced_4k_ns=205_000,
        paced_4k_p99_ns=555_000,
        null_read_4k_ns=30_000,
        null_write_4k_ns=25_000,
        null_paced_4k_ns=125_000,
        null_paced_4k_p99_ns=325_000,
    )
    assert path.split
    assert path.idle_wake_ns == 100_000  # 125 - 25: the null path's paced excess, the loop's alone
    assert path.idle_wake_p99_ns == 300_000  # 325 - 25
    assert path.pool_wake_ns == 50_000  # (205 - 55) - 100: what the file path adds beyond it
    assert path.pool_wake_p99_ns == 200_000  # (555 - 55) - 300
    # a read: 60 - 30 - 2 = 28 us; a write: 55 - 25 - 3 = 27 us
    assert handoff_ns(path, file) == 27_500
    cfg = sim_config(next(c for c in CASES if c.name == "no-backup"), file=file, path=path)
    assert cfg["nbd"]["request_cost"] == "22000ns"  # the null path's 25 us write less the 3 us completion
    assert cfg["thread_pool"] == {"handoff": "27500ns", "wake": "50000ns", "wake_p99": "200000ns"}
    assert cfg["loop"]["idle_wake"] == "100000ns" and cfg["loop"]["idle_wake_p99"] == "300000ns"
    assert cfg["disk"]["aio"] == cfg["target"]["aio"] == "threads"
    # without the null path the file path's differences stand for everything, and the pool costs nothing
    old = PathCosts(60_000, 55_000, 1_500_000, 205_000, 555_000)
    assert not old.split and old.idle_wake_ns == 150_000 and old.idle_wake_p99_ns == 500_000
    assert old.pool_wake_ns == 0 and handoff_ns(old, file) == 0
    assert sim_config(CASES[0], file=file, path=old)["nbd"]["request_cost"] == "49000ns"  # min(58, 52) - 3


def test_the_path_probe_pools_its_rounds():
    # two rounds of every probe, the second one slower: medians and 99th percentiles are over both rounds'
    # requests, so one slow minute moves them half as far as it would alone
    from sim.calibrate.real import PathProbe

    probe = PathProbe()
    fast, slow = np.arange(1, 101, dtype=float), np.arange(101, 201, dtype=float)  # 1..100 ns, 101..200 ns
    for key in ("r4", "w4", "r1m", "paced", "null-r4", "null-w4", "null-paced"):
        probe.lat[key] = [fast, slow]
    costs = probe.costs()
    # 200 requests 1..200: the median is 100.5; numpy's 99th percentile lies 0.99 * 199 = 197.01 places in: 198.01
    assert costs.read_4k_ns == costs.null_paced_4k_ns == 100.5
    assert costs.paced_4k_p99_ns == costs.null_paced_4k_p99_ns == pytest.approx(198.01)
