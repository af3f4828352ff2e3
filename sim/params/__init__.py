"""Parameters: units, field types, the section base class, errors and the component registries.

The leaf of the package: nothing here imports the rest of :mod:`sim`, so any
module (a policy, a device, the configuration itself) can use it without an
import cycle (``tests/test_imports.py`` keeps it so).

* :mod:`sim.params.units`: the spellings of sizes, times and rates;
* :mod:`sim.params.types`: ``Size``, ``Time``, ``Rate``, ... and :class:`Section`;
* :mod:`sim.params.errors`: :class:`ConfigError` and the one conversion of
  pydantic's validation errors into it;
* :mod:`sim.params.registry`: :class:`Registry`, and below one registry per kind
  of component.  Built-in components register themselves where they are
  defined; users' components are found by name (entry points, ``module:Class``).
"""

from __future__ import annotations

from . import units
from .errors import ConfigError, Invalid, from_validation_error
from .registry import Registry
from .types import Bandwidth, Cluster, Percent, Rate, Section, Size, Time, check_speed, describe_value

__all__ = [
    "units",
    "ConfigError",
    "Invalid",
    "from_validation_error",
    "Registry",
    "Size",
    "Time",
    "Rate",
    "Bandwidth",
    "Percent",
    "Cluster",
    "Section",
    "check_speed",
    "describe_value",
    "POLICIES",
    "WORKLOADS",
    "DEVICES",
    "FORMATS",
    "MODES",
]


def _has_config(obj) -> str | None:
    cfg = getattr(obj, "Config", None)
    if isinstance(obj, type) and isinstance(cfg, type) and issubclass(cfg, Section):
        return None
    return "a class with a Config attribute that is a sim.params.Section subclass"


def _parser(obj) -> str | None:
    return None if callable(obj) else "a trace parser: a callable parse(path) yielding sim.traces.TraceRecord"


#: Pacing policies, by ``policy.name`` (:mod:`sim.policies`).
POLICIES: Registry = Registry("policy", "policy.name", _has_config, group="backupsim.policies")
#: Guest workloads, by ``workload.kind`` (:mod:`sim.workloads`).
WORKLOADS: Registry = Registry("workload", "workload.kind", _has_config, attr="kind")
#: Device models, by ``disk.model`` / ``target.model`` (:mod:`sim.devices`).
DEVICES: Registry = Registry("device", "disk.model", _has_config, attr="model")
#: Trace file formats, by ``workload.format`` (:mod:`sim.traces`).
FORMATS: Registry = Registry("format", "workload.format", _parser, attr="format")
#: Backup job modes, by ``backup.mode`` (:mod:`sim.jobs`).
MODES: Registry = Registry("mode", "backup.mode", _has_config, attr="mode")
