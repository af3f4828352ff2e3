"""The compiled kernel's extension modules, when the build is asked for them (``tools/backupsim_build.py``).

Everything else about the package is in ``pyproject.toml``.
"""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
import backupsim_build  # noqa: E402

ext_modules = []
# not for the metadata (egg_info, dist_info: asked before the build's requirements are installed)
if backupsim_build.compiling() and not {"egg_info", "dist_info"} & set(sys.argv):
    from mypyc.build import mypycify

    ext_modules = mypycify(backupsim_build.MODULES, opt_level="3")

setup(ext_modules=ext_modules)
