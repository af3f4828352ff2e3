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
    ("zero-size", GOOD_BASE.replace('"8MiB"', '0'), "base.backup.disk_size"),
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
    ("probability-above-one", GOOD_BASE + "[base.faults]\nsource_read_error_prob = 1.5\n",
     "base.faults.source_read_error_prob"),
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
    ("base-not-a-table", 'base = 3\n', "base"),
    ("missing-trace-file", GOOD_BASE + "[base.workload]\nkind = 'trace'\npath = 'no/such.trace'\n",
     "base.workload.path"),
    ("malformed-trace-line", GOOD_BASE + f"[base.workload]\nkind = 'trace'\npath = '{DATA / 'bad.trace'}'\n",
     "base.workload.path"),
    ("bs-larger-than-disk", GOOD_BASE + "[base.workload]\nbs = '16MiB'\n", "base.workload.bs"),
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
