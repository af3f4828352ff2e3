"""backupsim: a deterministic discrete-event simulator of live disk backup pacing.

Public API (``docs/api.md``):

* :func:`load_scenario` - a validated scenario file (raises :class:`ScenarioError`)
* :func:`run_one` - run one configuration, with its baseline
* :func:`run_batch` - run a scenario's batch into a results folder
* :func:`load_results` - the runs table of a results folder
* :func:`build_config` / :class:`Config` - a validated configuration
"""

from ._version import __version__
from .batch import run_batch
from .config import Config, ConfigError, build_config
from .runner import RunResult, run_one
from .scenario import Scenario, ScenarioError, load_scenario
from .store import load_results

__all__ = [
    "Config",
    "ConfigError",
    "ScenarioError",
    "Scenario",
    "build_config",
    "RunResult",
    "run_one",
    "run_batch",
    "load_scenario",
    "load_results",
    "__version__",
]
