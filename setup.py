"""The compiled kernel's extension modules, when the build compiles them (``tools/backupsim_build.py``).

Everything else about the package is in ``pyproject.toml``.  Unless
``BACKUPSIM_COMPILE=1`` insists, a kernel that does not build is left out with a
warning: the package's modules are all in the wheel as Python either way, and
run as such without their compiled twins.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
import backupsim_build  # noqa: E402

STRICT = backupsim_build.mode() == "1"


def _fall_back(exc: BaseException) -> None:
    sys.stderr.write(
        f"backupsim: the compiled kernel did not build ({type(exc).__name__}: {exc}); installing the pure-Python "
        "kernel, which gives the same results more slowly (BACKUPSIM_COMPILE=1 makes this an error)\n"
    )


class BuildExt(build_ext):
    """setuptools' ``build_ext``; unless the compilation is required, a failure leaves the kernel pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            if STRICT:
                raise
            _fall_back(exc)
            for built in self.get_outputs():  # whatever part did build: all or nothing
                Path(built).unlink(missing_ok=True)
            self.extensions = []


ext_modules = []
# not for the metadata (egg_info, dist_info: asked before the build's requirements are installed)
if backupsim_build.compiling() and not {"egg_info", "dist_info"} & set(sys.argv):
    try:
        from mypyc.build import mypycify

        ext_modules = mypycify(backupsim_build.MODULES, opt_level="3")
    except (Exception, SystemExit) as exc:  # mypy missing, or refusing the modules
        if STRICT:
            raise
        _fall_back(exc)
        ext_modules = []

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt})
