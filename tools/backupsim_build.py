"""backupsim's build backend: setuptools, and a kernel compiled with mypyc where it can be.

A regular install (``pip install .``, or a wheel) compiles :data:`MODULES`, the
simulation kernel's hot path, with mypyc (``docs/kernel.md``): the same code,
from its type annotations, as C extension modules that give the same results
about twice as fast.  ``BACKUPSIM_COMPILE`` says whether:

- unset (or ``auto``): compile when a C compiler and Python's headers are
  here, else install pure Python; if the compilation fails all the same, warn
  and install pure Python.  mypy (which brings mypyc) and the project's
  dependencies (mypyc type-checks what the modules import) are added to the
  build's requirements only when it compiles.
- ``1``: compile, and fail the install if that fails (CI builds the wheel it
  checks this way).
- ``0``: never compile.

An editable install (``pip install -e .``) never compiles (``BACKUPSIM_COMPILE=1``
refuses it): Python would import the compiled modules in place of the sources,
so an edit to one of them would not take effect.  ``backupsim bench`` and every
results manifest say which kernel ran (:func:`sim._version.kernel`).

To compile another module, add it to :data:`MODULES` once it builds and
``pytest -m compiled`` finds it exact (``docs/kernel.md`` says what a module
needs to build, and why the configuration classes stay interpreted).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sysconfig
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


def mode() -> str:
    """``BACKUPSIM_COMPILE``: ``"1"`` (compile or fail), ``"0"`` (never) or ``"auto"`` (unset: where it can)."""
    value = os.environ.get("BACKUPSIM_COMPILE", "auto") or "auto"
    if value not in ("auto", "0", "1"):
        raise SystemExit(
            f"BACKUPSIM_COMPILE: got {value!r}, expected 1 (compile the kernel), 0 (do not) or auto "
            "(the default: compile where a C compiler and Python's headers are found)"
        )
    return value


def can_compile() -> bool:
    """True when the C compiler Python was built with and Python's headers are here."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    return bool(cc) and shutil.which(cc[0]) is not None and os.path.exists(headers)


def compiling() -> bool:
    """True when this build compiles the kernel: ``BACKUPSIM_COMPILE=1``, or unset and :func:`can_compile`."""
    value = mode()
    return value == "1" or (value == "auto" and can_compile())


def get_requires_for_build_wheel(config_settings=None):
    requires = _setuptools.get_requires_for_build_wheel(config_settings)
    if not compiling():
        return requires
    # mypyc type-checks what the compiled modules import, so it needs the project's own dependencies too
    with open("pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    return [*requires, COMPILER, *dependencies]


def _pure_python() -> None:
    # this build process only (setuptools runs setup.py in it): setup.py then asks for no extension
    os.environ["BACKUPSIM_COMPILE"] = "0"


def get_requires_for_build_editable(config_settings=None):
    if mode() == "1":
        raise SystemExit(
            "BACKUPSIM_COMPILE=1: the compiled kernel needs a regular install (pip install .); an editable "
            "install would run the compiled modules instead of the sources you edit"
        )
    _pure_python()
    return _setuptools.get_requires_for_build_editable(config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _pure_python()
    return _setuptools.prepare_metadata_for_build_editable(metadata_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    _pure_python()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory, config_settings=None):
    _pure_python()  # the sources only
    return _setuptools.build_sdist(sdist_directory, config_settings)
