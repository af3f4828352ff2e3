"""The version of backupsim, defined here and only here.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), :data:`sim.__version__`
re-exports it, and ``backupsim --version`` and every results manifest
(:func:`sim.store.versions`) print it.  A leaf module, so that anything may
import it without importing the rest of the package.
"""

__version__ = "0.1.0"
