"""backupsim: a deterministic discrete-event simulator of live disk backup pacing.

Public API (INTERFACE.md):

* :func:`run_one` - run one configuration, with its baseline
* :func:`build_config` / :class:`Config` - a validated configuration
* :class:`ConfigError` - bad input, naming the key and what was expected
"""

from .config import Config, ConfigError, build_config
from .runner import RunResult, run_one

__version__ = "0.1.0"

__all__ = ["Config", "ConfigError", "build_config", "RunResult", "run_one", "__version__"]
