"""Malformed scenarios: exit status 2, one message naming the file and key, no results folder."""

from pathlib import Path

import pytest

from sim.cli import main

DATA = Path(__file__).parent / "data"

GOOD_BASE = """
name = "bad"
root_seed = 1
replications = 1
[base.backup]
disk_size = "8MiB"
"""

CASES = [
    # (id, scenario text, key the message must name)
    ("unknown-top-level-key", 'nmae = "x"\n', "nmae"),
    ("unknown-section", GOOD_BASE + "[base.dsik]\nprofile = 'hdd'\n", "base.dsik"),
    ("unknown-key", GOOD_BASE + "[base.disk]\nprofle = 'hdd'\n", "base.disk.profle"),
    ("wrong-type-int", GOOD_BASE + "[base.workload]\niodepth = 'eight'\n", "base.workload.iodepth"),
    ("wrong-type-bool", GOOD_BASE + "[base.block]\nserialize_overlaps = 'yes'\n", "base.block.serialize_overlaps"),
    ("negative-size", GOOD_BASE.replace('"8MiB"', '"-8MiB"'), "base.backup.disk_size"),
    ("zero-size", GOOD_BASE.replace('"8MiB"', "0"), "base.backup.disk_size"),
    ("zero-bs", GOOD_BASE + "[base.workload]\nbs = 0\n", "base.workload.bs"),
    ("cluster-larger-than-disk", GOOD_BASE + 'cluster_size = "16MiB"\n', "base.backup.cluster_size"),
    ("cluster-not-power-of-two", GOOD_BASE + 'cluster_size = "48KiB"\n', "base.backup.cluster_size"),
    ("disk-not-multiple-of-cluster", GOOD_BASE.replace('"8MiB"', '"8200KiB"'), "base.backup.disk_size"),
    ("unknown-policy", GOOD_BASE + "[base.policy]\nname = 'turbo'\n", "base.policy.name"),
    ("unknown-policy-param", GOOD_BASE + "[base.policy]\nname = 'none'\nsleep = '1us'\n", "base.policy.sleep"),
    ("negative-sleep", GOOD_BASE + "[base.policy]\nname = 'fixed-sleep'\nsleep = '-1us'\n", "base.policy.sleep"),
    ("unknown-workload", GOOD_BASE + "[base.workload]\nkind = 'tpcc'\n", "base.workload.kind"),
    ("unknown-profile", GOOD_BASE + "[base.disk]\nprofile = 'floppy'\n", "base.disk.profile"),
    ("zero-queue-depth", GOOD_BASE + "[base.target]\nqueue_depth = 0\n", "base.target.queue_depth"),
    ("bad-era", GOOD_BASE + "[base.loop]\nera = '1999'\n", "base.loop.era"),
    ("bad-time-unit", GOOD_BASE + "[base.run]\nmax_time = '5 fortnights'\n", "base.run.max_time"),
    (
        "probability-above-one",
        GOOD_BASE + "[base.faults]\nsource_read_error_prob = 1.5\n",
        "base.faults.source_read_error_prob",
    ),
    ("rwmixread-above-100", GOOD_BASE + "[base.workload]\nrwmixread = 120\n", "base.workload.rwmixread"),
    ("bad-rw", GOOD_BASE + "[base.workload]\nrw = 'sideways'\n", "base.workload.rw"),
    ("seed-in-base", GOOD_BASE + "[base.run]\nseed = 3\n", "base.run.seed"),
    ("empty-sweep-list", GOOD_BASE + "[sweep]\n'workload.iodepth' = []\n", "sweep.workload.iodepth"),
    ("sweep-not-a-list", GOOD_BASE + "[sweep]\n'workload.iodepth' = 8\n", "sweep.workload.iodepth"),
    ("bad-sweep-value", GOOD_BASE + "[sweep]\n'workload.iodepth' = [1, 0]\n", "sweep.workload.iodepth"),
    ("unknown-swept-key", GOOD_BASE + "[sweep]\n'workload.depth' = [1, 2]\n", "sweep.workload.depth"),
    ("bad-swept-policy", GOOD_BASE + "[sweep]\npolicy = [{name = 'none'}, {name = 'nope'}]\n", "sweep.policy"),
    ("zero-replications", GOOD_BASE.replace("replications = 1", "replications = 0"), "replications"),
    ("negative-root-seed", GOOD_BASE.replace("root_seed = 1", "root_seed = -1"), "root_seed"),
    ("unparseable-toml", "name = 'x\n[base\n", "(syntax)"),
    ("base-not-a-table", "base = 3\n", "base"),
    (
        "missing-trace-file",
        GOOD_BASE + "[base.workload]\nkind = 'trace'\npath = 'no/such.trace'\n",
        "base.workload.path",
    ),
    (
        "malformed-trace-line",
        GOOD_BASE + f"[base.workload]\nkind = 'trace'\npath = '{DATA / 'bad.trace'}'\n",
        "base.workload.path",
    ),
    ("bs-larger-than-disk", GOOD_BASE + "[base.workload]\nbs = '16MiB'\n", "base.workload.bs"),
    # sections of the wrong type
    ("run-not-a-table", GOOD_BASE.replace("[base.backup]", "[base]\nrun = 5\n[base.backup]"), "base.run"),
    ("disk-not-a-table", GOOD_BASE.replace("[base.backup]", "[base]\ndisk = 3\n[base.backup]"), "base.disk"),
    ("policy-not-a-table", GOOD_BASE.replace("[base.backup]", "[base]\npolicy = 'none'\n[base.backup]"), "base.policy"),
    (
        "workload-not-a-table",
        GOOD_BASE.replace("[base.backup]", "[base]\nworkload = [1]\n[base.backup]"),
        "base.workload",
    ),
    ("profile-not-a-string", GOOD_BASE + "[base.disk]\nprofile = []\n", "base.disk.profile"),
    ("policy-name-not-a-string", GOOD_BASE + "[base.policy]\nname = [1]\n", "base.policy.name"),
    ("swept-section-not-a-table", GOOD_BASE + "[sweep]\nrun = [5]\n", "sweep.run"),
    # NUL characters
    ("nul-in-name", GOOD_BASE.replace('name = "bad"', 'name = "a\\u0000b"'), "name"),
    ("nul-in-description", GOOD_BASE.replace('name = "bad"', 'name = "bad"\ndescription = "x\\u0000"'), "description"),
    ("nul-in-profile", GOOD_BASE + '[base.disk]\nprofile = "hdd\\u0000"\n', "base.disk.profile"),
    (
        "nul-in-trace-path",
        GOOD_BASE + "[base.workload]\nkind = 'trace'\npath = \"a\\u0000.trace\"\n",
        "base.workload.path",
    ),
    ("control-char-in-name", GOOD_BASE.replace('name = "bad"', 'name = "a\\nb"'), "name"),
    # sweeps
    (
        "overlapping-sweep-keys",
        GOOD_BASE + "[sweep]\npolicy = [{name = 'none'}]\n'policy.name' = ['none', 'idle-only']\n",
        "sweep.policy.name",
    ),
    (
        "key-swept-twice",
        GOOD_BASE + "[sweep]\n'workload.iodepth' = [1]\n[sweep.workload]\niodepth = [2]\n",
        "sweep.workload.iodepth",
    ),
    ("duplicate-sweep-values", GOOD_BASE + "[sweep]\n'workload.iodepth' = [1, 4, 1]\n", "sweep.workload.iodepth"),
    (
        "same-value-two-spellings",
        GOOD_BASE + "[sweep]\n'policy' = [{name = 'fixed-sleep', sleep = '1us'}, "
        "{name = 'fixed-sleep', sleep = 1000}]\n",
        "sweep.policy",
    ),
    ("swept-seed", GOOD_BASE + "[sweep]\n'run.seed' = [1, 2]\n", "sweep.run.seed"),
    ("swept-run-table-with-seed", GOOD_BASE + "[sweep]\nrun = [{seed = 1}]\n", "sweep.run"),
    # rates and speeds
    ("read-bw-percent", GOOD_BASE + "[base.disk]\nread_bw = '10%'\n", "base.disk.read_bw"),
    ("write-bw-percent", GOOD_BASE + "[base.target]\nwrite_bw = '50%'\n", "base.target.write_bw"),
    ("link-bw-percent", GOOD_BASE + "[base.target]\nprofile = 'network-1g'\nlink_bw = '10%'\n", "base.target.link_bw"),
    ("rate-limit-over-100", GOOD_BASE + "[base.policy]\nname = 'rate-limit'\nspeed = '150%'\n", "base.policy.speed"),
    ("rate-limit-negative", GOOD_BASE + "[base.policy]\nname = 'rate-limit'\nspeed = '-1MiB/s'\n", "base.policy.speed"),
    (
        "hybrid-negative-number",
        GOOD_BASE + "[base.policy]\nname = 'hybrid'\nbusy_speed = -5\n",
        "base.policy.busy_speed",
    ),
    ("hybrid-over-100", GOOD_BASE + "[base.policy]\nname = 'hybrid'\nbusy_speed = '101%'\n", "base.policy.busy_speed"),
    (
        "latency-floor-over-100",
        GOOD_BASE + "[base.policy]\nname = 'latency-target'\nfloor = '200%'\n",
        "base.policy.floor",
    ),
    (
        "schedule-negative-speed",
        GOOD_BASE + "[base.policy]\nname = 'rate-limit'\nschedule = [['1ms', -5]]\n",
        "base.policy.schedule",
    ),
    (
        "schedule-negative-percent",
        GOOD_BASE + "[base.policy]\nname = 'rate-limit'\nschedule = [['1ms', '-5%']]\n",
        "base.policy.schedule",
    ),
    (
        "schedule-negative-time",
        GOOD_BASE + "[base.policy]\nname = 'rate-limit'\nschedule = [[-1, '1MiB/s']]\n",
        "base.policy.schedule",
    ),
    # faults outside the disk (8 MiB / 64 KiB = 128 clusters)
    (
        "read-fault-beyond-disk",
        GOOD_BASE + "[base.faults]\nsource_read_error_clusters = [3, 128]\n",
        "base.faults.source_read_error_clusters",
    ),
    (
        "write-fault-negative",
        GOOD_BASE + "[base.faults]\ntarget_write_error_clusters = [-1]\n",
        "base.faults.target_write_error_clusters.0",
    ),
    (
        "fault-cluster-bool",
        GOOD_BASE + "[base.faults]\ntarget_write_error_clusters = [true]\n",
        "base.faults.target_write_error_clusters.0",
    ),
    # times
    ("start-after-max-time", GOOD_BASE + "start = '20s'\n[base.run]\nmax_time = '10s'\n", "base.backup.start"),
    (
        "cancel-after-max-time",
        GOOD_BASE + "start = '1s'\ncancel_at = '20s'\n[base.run]\nmax_time = '10s'\n",
        "base.backup.cancel_at",
    ),
    # units: one rule, case-sensitive
    ("lower-case-mb", GOOD_BASE.replace('"8MiB"', '"8mb"'), "base.backup.disk_size"),
    ("lower-case-kb-size", GOOD_BASE + "[base.workload]\nbs = '4kb'\n", "base.workload.bs"),  # was 4000 B
    ("bits-as-a-size", GOOD_BASE + "[base.workload]\nbs = '32Kb'\n", "base.workload.bs"),  # was 32000 B
    ("bare-prefix", GOOD_BASE.replace('"8MiB"', '"8M"'), "base.backup.disk_size"),
    ("time-wrong-case", GOOD_BASE + "start = '1MS'\n", "base.backup.start"),
    ("bits-in-a-size", GOOD_BASE.replace('"8MiB"', '"64Mb"'), "base.backup.disk_size"),
    ("rate-lower-case-mb", GOOD_BASE + "[base.policy]\nname = 'rate-limit'\nspeed = '10mb/s'\n", "base.policy.speed"),
    ("bits-without-prefix", GOOD_BASE + "[base.disk]\nread_bw = '800b/s'\n", "base.disk.read_bw"),
    ("infinite-float", GOOD_BASE + "[base.workload]\nkind = 'poisson'\niops = inf\n", "base.workload.iops"),
    ("nan-float", GOOD_BASE + "[base.disk]\ncv = nan\n", "base.disk.cv"),
    ("time-beyond-int64", GOOD_BASE + "[base.run]\nmax_time = '1e300s'\n", "base.run.max_time"),
    # too large for the machine
    ("disk-too-large", GOOD_BASE.replace('"8MiB"', '"1000TiB"') + "cluster_size = '512B'\n", "base.backup.disk_size"),
    (
        "timeline-too-long",
        GOOD_BASE + "[base.workload]\nkind = 'none'\nduration = '100h'\n"
        "[base.run]\nmax_time = '100h'\ntimeline_window = '1ns'\n",
        "base.run.timeline_window",
    ),
    (
        # requests cost memory only when kept (run.keep_requests) or traced
        "guest-too-busy",
        GOOD_BASE
        + "[base.workload]\nkind = 'poisson'\niops = 1e9\nduration = '10h'\n[base.run]\nmax_time = '10h'\n"
        + "keep_requests = true\n",
        "base.workload.duration",
    ),
    (
        "replications-in-the-billions",
        GOOD_BASE.replace("replications = 1", "replications = 1_000_000_000_000"),
        "replications",
    ),
]


@pytest.mark.parametrize("text,key", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_scenario(tmp_path, capsys, text, key):
    f = tmp_path / "scn.toml"
    f.write_text(text)
    out = tmp_path / "results"
    assert main(["run", str(f), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(f) in err[0] and f"'{key}'" in err[0] and "expected" in err[0], err[0]
    assert not out.exists()
    assert main(["check", str(f)]) == 2


def test_malformed_trace_line_names_the_line(tmp_path, capsys):
    f = tmp_path / "scn.toml"
    f.write_text(GOOD_BASE + f"[base.workload]\nkind = 'trace'\npath = '{DATA / 'bad.trace'}'\n")
    assert main(["run", str(f), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.trace:2:" in err and "zero" in err


def test_missing_scenario_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["run", str(missing), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "existing scenario file" in err
    assert not (tmp_path / "r").exists()


def test_bad_set_on_a_good_scenario(tmp_path, capsys):
    f = tmp_path / "scn.toml"
    f.write_text(GOOD_BASE)
    assert main(["run", str(f), "--set", "backup.cluster_size=7", "--out", str(tmp_path / "r")]) == 2
    assert "backup.cluster_size" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_enough_cases():
    assert len(CASES) >= 25


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("backupsim: error:") and "expected" in err[0], err[0]
    return err[0]


def test_scenario_that_is_not_utf8(tmp_path, capsys):
    f = tmp_path / "latin1.toml"
    f.write_bytes(GOOD_BASE.encode() + "description = 'café'\n".encode("latin-1"))
    assert main(["run", str(f), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = _one_error(capsys)
    assert str(f) in err and "UTF-8" in err and "line 7" in err
    assert not (tmp_path / "r").exists()
    assert main(["check", str(f)]) == 2


def test_scenario_that_is_a_directory(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "not a directory" in _one_error(capsys)


def test_utf8_bom_is_accepted(tmp_path, capsys):
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbf" + GOOD_BASE.encode())
    assert main(["check", str(f)]) == 0


@pytest.mark.parametrize(
    "item,key",
    [
        ("run.seed=5", "run.seed"),
        ("run.replication=2", "run.replication"),
        ("run={seed = 5}", "run.seed"),
    ],
)
def test_set_run_seed_is_refused_not_ignored(tmp_path, capsys, item, key):
    f = tmp_path / "scn.toml"
    f.write_text(GOOD_BASE)
    assert main(["run", str(f), "--set", item, "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = _one_error(capsys)
    assert f"--set: key '{key}'" in err and "root_seed" in err
    assert not (tmp_path / "r").exists()


def test_set_with_a_nul_character(tmp_path, capsys):
    f = tmp_path / "scn.toml"
    f.write_text(GOOD_BASE)
    assert main(["check", str(f), "--set", "disk.profile=hdd\x00"]) == 2
    assert "'disk.profile'" in _one_error(capsys)


def test_seeds_in_the_billions_is_refused_at_once(tmp_path, capsys):
    f = tmp_path / "scn.toml"
    f.write_text(GOOD_BASE)
    assert main(["run", str(f), "--seeds", "1000000000000", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = _one_error(capsys)
    assert "key '--seeds'" in err and "fits in memory" in err and "available" in err
    assert not (tmp_path / "r").exists()


def test_memory_refusal_names_the_estimate(tmp_path, capsys, monkeypatch):
    """A run needing more than is available is refused by check and run alike, with the estimate."""
    import sim.scenario

    f = tmp_path / "scn.toml"
    f.write_text(
        GOOD_BASE.replace('"8MiB"', '"64GiB"') + 'cluster_size = "4KiB"\n'  # 16 Mi clusters
        '[base.workload]\nkind = "none"\n'
    )
    monkeypatch.setattr(sim.scenario, "available_memory", lambda: 512 << 20)
    for argv in (["check", str(f)], ["run", str(f), "--out", str(tmp_path / "r"), "--quiet"]):
        assert main(argv) == 2
        err = _one_error(capsys)
        assert "key 'base.backup.disk_size'" in err and "16777216 clusters x 50 B" in err
        assert "more than the 512.0 MiB available" in err
    assert not (tmp_path / "r").exists()
    monkeypatch.setattr(sim.scenario, "available_memory", lambda: 8 << 30)
    assert main(["check", str(f)]) == 0


def test_usage_errors_are_one_line(capsys):
    for argv in (["run", "--jobs", "x"], ["frobnicate"], ["run", "--executor", "nope"], []):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        assert _one_error(capsys).startswith("backupsim: error: command line: ")


@pytest.mark.parametrize("item", ["\n", "a\nb=1", "backup.disk_size=\n8mb", "x" * 5000 + "=1"])
def test_set_items_that_would_break_the_line(tmp_path, capsys, item):
    f = tmp_path / "scn.toml"
    f.write_text(GOOD_BASE)
    assert main(["check", str(f), "--set", item]) == 2
    assert len(_one_error(capsys)) < 1000


def test_file_name_with_a_newline(tmp_path, capsys):
    f = tmp_path / "a\nb.toml"
    f.write_text(GOOD_BASE.replace("[base.backup]", "[base.backup]\nnope = 1"))
    assert main(["check", str(f)]) == 2
    assert "a\\nb.toml" in _one_error(capsys)
