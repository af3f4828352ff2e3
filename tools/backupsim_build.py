"""backupsim's build backend: setuptools, and on request a kernel compiled with mypyc.

``BACKUPSIM_COMPILE=1 pip install .`` compiles :data:`MODULES`, the simulation
kernel's hot path, with mypyc (``docs/kernel.md``): the same code, from its type
annotations, as C extension modules that give the same results about twice as
fast (the default experiment, ``docs/kernel.md``).  Without the variable the build is setuptools' own, pure Python, as
before.  The compiled kernel needs a C compiler and Python's headers; mypy (which
brings mypyc) is added to the build's requirements only when it is asked for.

An editable install (``pip install -e .``) never compiles: Python would import
the compiled modules in place of the sources, so an edit to one of them would
not take effect.

To compile another module, add it to :data:`MODULES` once it builds and
``pytest -m compiled`` finds it exact (``docs/kernel.md`` says what a module
needs to build, and why the configuration classes stay interpreted).
"""

from __future__ import annotations

import os
import tomllib

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the hooks this backend does not change)

#: The modules compiled: the agenda, the loop, the block layer, the coroutines, the devices, the
#: recorders, the bitmap, the oracle, the lock, the random streams, the guest's activity, the copy pool,
#: the backup job's base and the 2013 job, the guests' base and the fio and bursty guests, the faults.
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
    "sim/rng.py",
    "sim/activity.py",
    "sim/jobs/pool.py",
    "sim/jobs/base.py",
    "sim/jobs/seed_2013.py",
    "sim/workloads/base.py",
    "sim/workloads/fio.py",
    "sim/workloads/bursty.py",
    "sim/faults.py",
]

#: What the compilation needs at build time (the mypy the modules are checked with in CI).
COMPILER = "mypy[mypyc]>=2.4,<3"


def compiling() -> bool:
    """True when this build is asked to compile the kernel (``BACKUPSIM_COMPILE=1``)."""
    value = os.environ.get("BACKUPSIM_COMPILE", "")
    if value not in ("", "0", "1"):
        raise SystemExit(f"BACKUPSIM_COMPILE: got {value!r}, expected 1 (compile the kernel) or 0 (do not)")
    return value == "1"


def get_requires_for_build_wheel(config_settings=None):
    requires = _setuptools.get_requires_for_build_wheel(config_settings)
    if not compiling():
        return requires
    # mypyc type-checks what the compiled modules import, so it needs the project's own dependencies too
    with open("pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    return [*requires, COMPILER, *dependencies]


def get_requires_for_build_editable(config_settings=None):
    if compiling():
        raise SystemExit(
            "BACKUPSIM_COMPILE=1: the compiled kernel needs a regular install (pip install .); an editable "
            "install would run the compiled modules instead of the sources you edit"
        )
    return _setuptools.get_requires_for_build_editable(config_settings)
