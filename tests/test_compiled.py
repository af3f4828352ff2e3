"""The compiled kernel gives the same results as the pure-Python one (``tools/backupsim_build.py``).

Opt-in (``pytest -m compiled``; CI runs it): builds the wheel with ``BACKUPSIM_COMPILE=1`` (1 to 3.5
minutes on one core here), unless ``BACKUPSIM_COMPILED_WHEEL`` names one built from this tree,
unpacks it into a temporary folder, and runs one script from there and from the sources: every
figure of each run's summary and the loop's counts, printed as JSON, must be the same text.  The
runs are the fast-forward's configurations (every branch of the loop's skips, 2013 timers and the
alarm floor, drawn wakes, a seeking target, channels), interpreted classes on the compiled bases
(a block-copy job, a Poisson guest), injected faults, and the benchmark's model.  mypyc compiles
the same source with different semantics in places (an identity test on a tuple once differed,
``docs/kernel.md``), which is what this is for.

It also builds a regular install's wheel with a C compiler that fails: without
``BACKUPSIM_COMPILE`` that is a pure-Python wheel and a warning, with ``=1`` an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jobkit import bursty_cfg
from test_fast_forward import CONFIGS

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.compiled


def _more() -> dict[str, dict]:
    """Interpreted classes on the compiled bases (a block-copy job, a Poisson guest), and injected faults."""
    block_copy = bursty_cfg("block-copy", {"name": "rate-limit", "speed": "20%"}, seed=3)
    block_copy["workload"] = {"kind": "poisson", "iops": 800, "rw": "randwrite"}
    faults = bursty_cfg("seed-2013", {"name": "none"}, seed=5, on_cow_error="leave-hole")
    faults["workload"] = {**faults["workload"], "iops": 2000, "rw": "randwrite"}
    faults["faults"] = {"source_read_error_prob": 0.01, "target_write_error_clusters": [40]}
    return {"block-copy under a Poisson guest": block_copy, "faults, leave-hole": faults}


RUNS = {**CONFIGS, **_more()}

_SCRIPT = """
import json, sys
from sim._version import kernel
from sim.bench import bench_config
from sim.config import build_config
from sim.metrics import summarize
from sim.model import Model
configs = [build_config(c) for c in json.load(sys.stdin)] + [bench_config("32MiB")]
rows = []
for cfg in configs:
    m = Model(cfg).run()
    rows.append([summarize(m), m.loop.iterations, m.loop.busy_ns, m.loop.skipped, m.env.now])
print(kernel())
print(json.dumps(rows, default=str))
"""


def _wheel(tmp_path: Path) -> Path:
    given = os.environ.get("BACKUPSIM_COMPILED_WHEEL")
    if given:
        return Path(given)
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) to build the compiled kernel")
    out = tmp_path / "wheel"
    env = {**os.environ, "BACKUPSIM_COMPILE": "1"}
    cmd = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return next(out.glob("backupsim-*.whl"))


def _run(path: Path, cwd: Path) -> list[str]:
    """The script's two lines (the kernel, the runs) with ``sim`` imported from ``path``."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        input=json.dumps(list(RUNS.values())),
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-2:]


def test_the_compiled_kernel_gives_the_same_results(tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(_wheel(tmp_path)) as wheel:
        wheel.extractall(site)
    compiled_kernel, compiled = _run(site, tmp_path)
    pure_kernel, pure = _run(ROOT, tmp_path)
    assert (compiled_kernel, pure_kernel) == ("mypyc", "python")
    assert len(json.loads(pure)) == len(RUNS) + 1
    assert compiled == pure


def test_a_regular_install_whose_compilation_fails_is_pure_python(tmp_path):
    """``BACKUPSIM_COMPILE`` unset and a C compiler that fails (``CC=false``): a pure-Python wheel, not an error."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: the build would not try (tests/test_build_backend.py checks that choice)")
    # a clean copy of the tree: objects a compiled build left in build/ would be reused, not compiled
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns("build", ".venv", ".git", "results", "*.egg-info"))
    out = tmp_path / "wheel"
    env = {k: v for k, v in os.environ.items() if k != "BACKUPSIM_COMPILE"}
    env["CC"] = "false"
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-v", "-w", str(out)]
    build = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "backupsim: the compiled kernel did not build" in build.stdout + build.stderr
    with zipfile.ZipFile(next(out.glob("backupsim-*.whl"))) as wheel:
        names = wheel.namelist()
    assert "sim/loop.py" in names
    assert not [n for n in names if n.endswith(".so")], "no part of the kernel is left half compiled"
    env["BACKUPSIM_COMPILE"] = "1"
    strict = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert strict.returncode != 0, "asked for, a compilation that fails fails the build"
