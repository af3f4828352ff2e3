"""The version of backupsim, defined here and only here.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), :data:`sim.__version__`
re-exports it, and ``backupsim --version`` and every results manifest
(:func:`sim.store.versions`) print it.  A leaf module, so that anything may
import it without importing the rest of the package.
"""

__version__ = "0.1.0"


def kernel() -> str:
    """How the simulation kernel runs: ``mypyc`` when its modules were compiled at install, else ``python``.

    A regular install (``pip install .``) compiles them where it can (``tools/backupsim_build.py``); the results are
    the same either way (``tests/test_compiled.py`` checks it), only faster.
    """
    from . import loop

    return "python" if loop.__file__.endswith(".py") else "mypyc"
