"""Does compiling the kernel's modules unchanged (with Cython, or mypyc) make the model faster?

    .venv/bin/pip install cython
    .venv/bin/python benchmarks/compiled_prototype.py [--disk-size 1GiB] [--rounds 3] [--mypyc] [--callgrind]

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
of "a compiled kernel".

``--typed`` measures one step further: the event loop and the linear device
become extension types with typed attributes (``cdef class``, declared in
augmenting ``.pxd`` files written into the copy, :data:`TYPED`; the device's
``mypyc_attr`` decorator is dropped, as Cython allows no decorator on an
extension type), and only those two modules are compiled.
``--callgrind`` counts instructions instead of timing (valgrind's callgrind,
the model on 64 and on 128 MiB, so that start-up cancels): a figure a busy
machine does not move.

``--mypyc`` compiles :data:`MYPYC_MODULES` with mypyc instead (``pip install
mypy`` brings it; the project's ``[tool.mypy]`` settings): from their type
annotations, each class a native class with its attributes in a C struct, and
calls between compiled modules direct C calls.  The modules need no change;
mypyc checks the declared types at run time, which is why the agenda's heap is
typed as it is used (``Environment._agenda``).
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

#: What ``--mypyc`` compiles: what ``BACKUPSIM_COMPILE=1 pip install .`` compiles (``tools/backupsim_build.py``):
#: the hot path's modules without pydantic or registered classes (the profile of ``backupsim bench``).
sys.path.insert(0, str(ROOT / "tools"))
from backupsim_build import MODULES as MYPYC_MODULES  # noqa: E402

#: What Cython compiles: the twelve hot modules the Cython measurements of docs/kernel.md were made on.
MODULES = MYPYC_MODULES[: MYPYC_MODULES.index("sim/request.py") + 1] + ["sim/oracle.py", "sim/rwlock.py"]

#: Augmenting declarations for ``--typed``: the attributes of the loop and of the linear device, typed.
TYPED = {
    "sim/loop.pxd": """cdef class EventLoop:
    cdef public object env, wake_sampler, trace, _ready, _batch, _timers, _cont, _alarm_at, waits, _resume_call
    cdef public long long idle_wake, halt_poll, _idle_since, rearm, iteration_cost, _tseq, _timer_now, _timer_limit
    cdef public long long _alarm_armed, _alarm_token, iterations, busy_ns, _next_wake, skipped, skipped_iterations
    cdef public bint _busy, _timer_phase, _top, fast_forward
""",
    "sim/devices/device.pxd": """cdef class Device:
    cdef public object env, cfg, name, trace, draws, queue, _base, _bw, _calendar, _dist, _finish_call
    cdef public long long free, last_end, window, _backup_seq, completed, in_system, _area, _t_last, _stall_time
    cdef public double _shape, _stall_prob
    cdef public bint _random, _fixed, _single, memory, _alone
""",
}

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

#: The exactness check: every figure of a run's summary, from each tree.  The benchmark's own model, and a
#: point of ``scenarios/seed-review.toml`` that arms timers in the 2013 loop (a 1 us sleep, the 250 us alarm
#: floor, no iteration cost), the kind of run that showed an identity test on a tuple going wrong under mypyc.
_SUMMARY = """
import json
import sim
from sim.bench import bench_config
from sim.metrics import summarize
from sim.model import Model
timers = sim.build_config({
    "disk": {"profile": "sata-ssd", "dist": "gamma", "cv": 0.3}, "target": {"profile": "hdd"},
    "backup": {"disk_size": "64MiB", "start": "100ms"}, "policy": {"name": "fixed-sleep", "sleep": "1us"},
    "loop": {"era": "2013", "iteration_cost": "0ns"}, "run": {"baseline": False},
    "workload": {"kind": "bursty", "iops": 8000, "on_mean": "200ms", "off_mean": "300ms", "rw": "randrw"},
})
print(json.dumps([summarize(Model(c).run()) for c in (bench_config("64MiB"), timers)], default=str))
"""


def _cpu(tree: Path, size: str, compiled: bool) -> float:
    code = _RUN.format(size=size, suffix=".so" if compiled else ".py")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def _summaries(tree: Path) -> list[dict]:
    """The exactness check's summaries (:data:`_SUMMARY`) from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", _SUMMARY], cwd=tree, env=env, check=True, capture_output=True, text=True
    )  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


def _instructions(tree: Path, size: str, compiled: bool) -> int:
    """Instructions (callgrind's ``Ir``) of the model on ``size`` in a fresh process, start-up included."""
    code = _RUN.format(size=size, suffix=".so" if compiled else ".py")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    line = next(x for x in out.stderr.splitlines() if "Collected" in x)
    return int(line.split(":")[-1])


def _typed(tree: Path) -> list[str]:
    """Write :data:`TYPED` into ``tree``; the modules to compile."""
    for name, text in TYPED.items():
        (tree / name).write_text(text)
    dev = tree / "sim/devices/device.py"
    # Cython allows no decorator on an extension type (the registration already follows the class)
    decorated = "@mypyc_attr(allow_interpreted_subclasses=True)\nclass Device:"
    dev.write_text(dev.read_text().replace(decorated, "class Device:"))
    return [name.replace(".pxd", ".py") for name in TYPED]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--disk-size", default="1GiB")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--typed", action="store_true", help="the loop and the linear device as typed extension types")
    p.add_argument("--callgrind", action="store_true", help="count instructions (valgrind) instead of CPU time")
    p.add_argument("--mypyc", action="store_true", help="compile with mypyc instead of Cython")
    args = p.parse_args()
    compiler = "mypyc" if args.mypyc else "cython"
    try:
        __import__("mypyc" if args.mypyc else "Cython")
    except ImportError:
        need = "mypyc: .venv/bin/pip install mypy" if args.mypyc else "Cython: .venv/bin/pip install cython"
        sys.exit("needs " + need)
    with tempfile.TemporaryDirectory(prefix="backupsim-compiled-") as tmp:
        plain, built = Path(tmp) / "plain", Path(tmp) / "compiled"
        for tree in (plain, built):
            shutil.copytree(ROOT / "sim", tree / "sim", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        if args.mypyc:
            mods = MYPYC_MODULES
            shutil.copy(ROOT / "pyproject.toml", built)  # the project's mypy settings
            build = [sys.executable, "-m", "mypyc", *mods]
        else:
            mods = _typed(built) if args.typed else MODULES
            build = [sys.executable, "-c", _BUILD.format(mods=mods)]
        subprocess.run(build, cwd=built, check=True, capture_output=True, text=True)
        fig: dict = {"disk_size": args.disk_size, "compiler": compiler, "modules": len(mods), "typed": args.typed}
        plain_rows, built_rows = _summaries(plain), _summaries(built)
        # every figure of both check runs, compared as printed (NaN equals NaN there)
        fig["identical"] = json.dumps(plain_rows) == json.dumps(built_rows)
        if not fig["identical"]:
            pairs = zip(plain_rows, built_rows)
            fig["differing"] = sorted({k for a, b in pairs for k in a if repr(a[k]) != repr(b.get(k))})
        if args.callgrind:
            # the model's own instructions: 128 MiB less 64 MiB, so that imports and start-up cancel
            ir = {
                kind: _instructions(tree, "128MiB", comp) - _instructions(tree, "64MiB", comp)
                for kind, tree, comp in (("python", plain, False), ("compiled", built, True))
            }
            fig |= {"python_ir_per_64mib": ir["python"], "compiled_ir_per_64mib": ir["compiled"]}
            fig["instruction_ratio"] = round(ir["compiled"] / ir["python"], 3)
        else:
            py, cy = [], []
            for _ in range(args.rounds):
                py.append(_cpu(plain, args.disk_size, False))
                cy.append(_cpu(built, args.disk_size, True))
            fig["python_cpu_s"] = [round(x, 3) for x in py]
            fig["compiled_cpu_s"] = [round(x, 3) for x in cy]
            fig["speedup"] = round(statistics.median(py) / statistics.median(cy), 3)
    sys.stdout.write(json.dumps(fig) + "\n")


if __name__ == "__main__":
    main()
