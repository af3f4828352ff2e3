"""Does compiling the kernel's modules unchanged with Cython make the model faster?

    .venv/bin/pip install cython
    .venv/bin/python benchmarks/compiled_prototype.py [--disk-size 1GiB] [--rounds 3]

Copies ``sim/`` into a temporary folder, compiles the modules on the hot path
(:data:`MODULES`: the agenda, the loop, the block layer, the devices, the
recorders, the bitmap and oracle) with Cython as they are, as plain Python
compiled to C (no type declarations; ``annotation_typing`` off so that the
annotations change nothing), then runs the benchmark's model (``backupsim
bench``'s setup, no baseline) in a fresh process from each tree, alternating,
``--rounds`` times, and prints the CPU seconds of each run
(``time.process_time``, so that other work on the machine moves it little)
and the ratio of the medians as one JSON line.

Modules that define pydantic configuration classes stay interpreted: pydantic
does not accept a Cython function as a validator.  This measures the cheap end
of "a compiled kernel"; the other end is typed extension classes (``cdef
class`` for the loop, the devices and the block layer), which means rewriting
those classes rather than compiling them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The hot path's modules without pydantic classes (the profile of ``backupsim bench``).
MODULES = [
    "sim/clock.py",
    "sim/loop.py",
    "sim/block.py",
    "sim/coroutine.py",
    "sim/bitmap.py",
    "sim/recording.py",
    "sim/histogram.py",
    "sim/devices/device.py",
    "sim/devices/channels.py",
    "sim/request.py",
    "sim/oracle.py",
    "sim/rwlock.py",
]

_BUILD = """
import sys
from setuptools import setup
from Cython.Build import cythonize
sys.argv = [sys.argv[0], "build_ext", "--inplace", "-q"]
directives = {{"language_level": 3, "annotation_typing": False}}
setup(ext_modules=cythonize({mods!r}, compiler_directives=directives, quiet=True))
"""

_RUN = """
import sys, time
from sim.bench import bench_config
from sim.model import Model
import sim.loop
assert sim.loop.__file__.endswith({suffix!r}), sim.loop.__file__
cfg = bench_config({size!r})
t0 = time.process_time()
Model(cfg).run()
print(time.process_time() - t0)
"""


def _cpu(tree: Path, size: str, compiled: bool) -> float:
    code = _RUN.format(size=size, suffix=".so" if compiled else ".py")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--disk-size", default="1GiB")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    try:
        import Cython  # noqa: F401
    except ImportError:
        sys.exit("needs Cython: .venv/bin/pip install cython")
    with tempfile.TemporaryDirectory(prefix="backupsim-cython-") as tmp:
        plain, built = Path(tmp) / "plain", Path(tmp) / "compiled"
        for tree in (plain, built):
            shutil.copytree(ROOT / "sim", tree / "sim", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        subprocess.run(
            [sys.executable, "-c", _BUILD.format(mods=MODULES)], cwd=built, check=True, capture_output=True, text=True
        )
        py, cy = [], []
        for _ in range(args.rounds):
            py.append(_cpu(plain, args.disk_size, False))
            cy.append(_cpu(built, args.disk_size, True))
    fig = {
        "disk_size": args.disk_size,
        "modules": len(MODULES),
        "python_cpu_s": [round(x, 3) for x in py],
        "cython_cpu_s": [round(x, 3) for x in cy],
        "speedup": round(statistics.median(py) / statistics.median(cy), 3),
    }
    sys.stdout.write(json.dumps(fig) + "\n")


if __name__ == "__main__":
    main()
