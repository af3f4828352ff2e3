"""Parameters and registries: derived values, cheap replace, messages, plug-ins found by name."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.config import build_config
from sim.params import DEVICES, FORMATS, MODES, POLICIES, WORKLOADS

PLUGINS = Path(__file__).parent / "plugins"


def test_every_builtin_is_registered_once_by_its_own_module():
    assert list(POLICIES) == [
        "none",
        "fixed-sleep",
        "rate-limit",
        "idle-only",
        "hybrid",
        "idle-class",
        "latency-target",
        "deadline",
    ]
    assert "fio" in WORKLOADS and "trace" in WORKLOADS and "multi" in WORKLOADS
    assert list(DEVICES) == ["linear", "channels", "seek", "network"]
    assert list(FORMATS) == ["mqsim", "msr", "blkparse", "fio-iolog"]
    assert list(MODES) == ["none", "seed-2013", "block-copy", "proxmox"]
    for reg in (POLICIES, WORKLOADS, DEVICES):
        for name, cls in reg.items():
            assert cls.__module__.startswith("sim."), name
            assert getattr(cls, reg.attr) == name


def test_replacing_the_era_moves_the_derived_timer_floor():
    cfg = build_config({})
    assert cfg.loop.rearm_ns == 250_000
    modern = cfg.replace(**{"loop.era": "modern"})
    assert modern.loop.rearm_ns == 0 and modern.loop.timer_min_rearm is None
    assert modern.replace(**{"loop.era": "2013"}).loop.rearm_ns == 250_000
    assert build_config({"loop": {"timer_min_rearm": "1ms"}}).replace(**{"loop.era": "modern"}).loop.rearm_ns == 10**6


def test_replace_revalidates_only_what_changed_and_keeps_percents_exact():
    cfg = build_config({"policy": {"name": "rate-limit", "speed": "10%"}})
    again = cfg.replace(**{"run.seed": 3})
    assert again.policy is cfg.policy and again.disk is cfg.disk  # not rebuilt
    assert again.run.seed == 3
    assert cfg.replace(**{"policy.speed": "20%"}).policy.speed * 5 == 1
    assert cfg.replace(**{"policy": {"name": "none"}}).policy.name == "none"
    with pytest.raises(sim.ConfigError) as e:
        cfg.replace(**{"policy.speed": "120%"})
    assert e.value.key == "policy.speed"


def test_a_set_on_a_swept_table_names_the_key_the_user_got_wrong(capsys):
    # the policy sweep collapses to the base policy, `none`, which has no speed
    assert main(["check", "scenarios/seed-review.toml", "--set", "policy.speed=5%"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("backupsim: error: --set: key 'policy.speed': got '5%'"), err


def test_an_unknown_name_lists_builtins_and_plugin_ways():
    with pytest.raises(sim.ConfigError) as e:
        build_config({"policy": {"name": "nice"}})
    msg = str(e.value)
    assert "key 'policy.name': got 'nice'" in msg and "'rate-limit'" in msg and "'module:Class'" in msg
    with pytest.raises(sim.ConfigError) as e:
        build_config({"policy": {"name": "no_such_module_xyz:Policy"}})
    assert "an importable module" in str(e.value)


@pytest.fixture
def plugin_path(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]))
    yield


def test_a_plugin_policy_is_validated_and_run_like_a_builtin(plugin_path):
    cfg = {
        "backup": {"disk_size": "8MiB", "start": "10ms"},
        "workload": {"kind": "none"},
        "target": {"profile": "nvme"},
        "policy": {"name": "steady:Steady"},
        "run": {"baseline": False},
    }
    with pytest.raises(sim.ConfigError) as e:
        build_config({**cfg, "policy": {"name": "steady:Steady", "start_after": "soon"}})
    assert e.value.key == "policy.start_after"
    full = sim.run_one({**cfg, "policy": {"name": "none"}}).summary
    half = sim.run_one(cfg).summary
    assert half["status"] == "completed" and half["good_backup"]
    # 10% of the source's read rate, far below what source and target allow: the limit binds
    # (QEMU's limiter lets the first 100 ms slice's quota through at once)
    rate = build_config({}).disk.read_bw / 10
    assert (8 << 20) / rate - 0.1 <= half["backup_duration_s"] <= (8 << 20) / rate * 1.1
    assert half["backup_duration_s"] > 2 * full["backup_duration_s"]


def test_the_docs_worked_example_runs_in_a_parallel_batch(tmp_path, monkeypatch):
    # docs/extending.md's worked example: examples/slow_start.py, run by examples/slow_start.toml
    examples = Path(__file__).parent.parent / "examples"
    monkeypatch.syspath_prepend(str(examples))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(examples), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    assert main(["run", str(examples / "slow_start.toml"), "--out", str(out), "--jobs", "2", "--quiet"]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs["policy.name"]) == {"none", "rate-limit", "slow_start:SlowStartPolicy"}
    assert (runs["status"] == "completed").all() and runs["good_backup"].all()
    assert "policy.period" in runs.columns
    slow = runs[runs["policy.name"] == "slow_start:SlowStartPolicy"]["backup_duration_s"].mean()
    none = runs[runs["policy.name"] == "none"]["backup_duration_s"].mean()
    assert slow > none  # it starts at 1% of the source's read rate


def test_an_installed_plugin_is_found_by_its_entry_point(plugin_path, monkeypatch):
    from importlib import metadata

    import sim.params.registry as registry

    eps = metadata.EntryPoints([metadata.EntryPoint("steady-share", "steady:Steady", "backupsim.policies")])
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group=None: eps.select(group=group))
    cfg = build_config({"policy": {"name": "steady-share", "share": "5%"}})
    assert cfg.policy.name == "steady-share" and type(cfg.policy).__name__ == "SteadyConfig"
    assert "steady-share" not in list(POLICIES)  # found, not a built-in


def test_a_plugin_workload_is_found_by_reference(plugin_path):
    cfg = {
        "backup": {"disk_size": "4MiB", "start": "1ms"},
        "target": {"profile": "nvme"},
        "workload": {"kind": "periodic:PeriodicGuest", "interval": "200us", "rw": "randwrite", "duration": "20ms"},
        "run": {"baseline": False},
    }
    s = sim.run_one(cfg).summary
    # 20 ms of one write every 200 us: requests at 0, 200, ..., 19800 us
    assert s["guest_ops"] == 100 and s["guest_write_ops"] == 100 and s["good_backup"]


def test_editing_a_plugin_recomputes_its_runs(tmp_path, monkeypatch):
    import shutil

    from sim.scenario import scenario_from_dict

    src = tmp_path / "plug"
    src.mkdir()
    shutil.copy(PLUGINS / "steady.py", src / "steady_edit.py")
    monkeypatch.syspath_prepend(str(src))
    text = """
name = "edit"
[base.backup]
disk_size = "2MiB"
start = "1ms"
[base.workload]
kind = "none"
[base.run]
baseline = false
[sweep]
policy = [{ name = "steady_edit:Steady" }]
"""
    import tomllib

    scn = scenario_from_dict(tomllib.loads(text), str(tmp_path / "edit.toml"))
    out = tmp_path / "out"
    sim.run_batch(scn, out, jobs=1, progress=False)
    assert json.loads((out / "manifest.json").read_text())["runs_computed"] == 1
    sim.run_batch(scn, out, jobs=1, progress=False)
    assert json.loads((out / "manifest.json").read_text())["runs_reused"] == 1
    (src / "steady_edit.py").write_text((src / "steady_edit.py").read_text() + "\\n# edited\\n")
    sim.run_batch(scn, out, jobs=1, progress=False)
    assert json.loads((out / "manifest.json").read_text())["runs_computed"] == 1
