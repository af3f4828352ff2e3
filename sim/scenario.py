"""Scenario files: a base configuration, a sweep, replications and a root seed.

A scenario (TOML, INTERFACE.md) names a ``base`` configuration (its tables are
the sections of :class:`sim.config.Config`), a ``[sweep]`` whose keys are
dotted configuration keys or whole sections and whose values are lists (the
batch is their cartesian product, in file order), a number of
``replications`` and a ``root_seed``.

Seeds: replication ``r`` of *every* sweep point runs with the seed of child
``r`` of ``SeedSequence(root_seed)``, so the sweep points of one replication
see the same guest (common random numbers across policies) and adding a sweep
value never changes the seeds, hence the results, of the other points.

Every error is a :class:`ScenarioError` naming the file, the key path, the bad
value and what was expected.  ``--set`` overrides replace base keys; a
``--set`` on a swept key (or inside a swept table) replaces that sweep
dimension by the single value.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError, build_config, expand_dotted, merge

__all__ = ["Scenario", "ScenarioError", "RunSpec", "load_scenario", "scenario_from_dict", "run_seed"]

ScenarioError = ConfigError

_TOP = {"name", "description", "root_seed", "replications", "base", "sweep"}


def run_seed(root_seed: int, replication: int) -> int:
    """The seed of replication ``replication``: child ``replication`` of ``SeedSequence(root_seed)``."""
    child = np.random.SeedSequence(root_seed).spawn(replication + 1)[replication]
    hi, lo = child.generate_state(2, np.uint32)
    return (int(hi) << 32) | int(lo)


@dataclass(frozen=True)
class RunSpec:
    """One run of a batch: its id, sweep point, replication and full configuration."""

    run_id: str
    point: int
    replication: int
    swept: dict
    config: Config = field(repr=False)


@dataclass
class Scenario:
    """A validated scenario; :meth:`runs` expands it into :class:`RunSpec` s."""

    name: str
    description: str
    root_seed: int
    replications: int
    base: dict
    sweep: dict[str, list]
    source: str = "<scenario>"

    def points(self) -> list[dict]:
        """Each sweep point as ``{key: value}``, in cartesian order (first key slowest)."""
        keys = list(self.sweep)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.sweep[k] for k in keys))]

    def runs(self) -> list[RunSpec]:
        """Every run of the batch, point by point, replication by replication."""
        specs = []
        for p, point in enumerate(self.points()):
            cfg_point = self._point_config(point)
            for r in range(self.replications):
                seed = run_seed(self.root_seed, r)
                cfg = cfg_point.replace(**{"run.seed": seed, "run.replication": r})
                specs.append(RunSpec(_run_id(cfg), p, r, flatten_swept(point), cfg))
        return specs

    def configs(self) -> list[Config]:
        """The configuration of every run (INTERFACE.md's ``scn.configs()``)."""
        return [s.config for s in self.runs()]

    def resolved(self) -> dict:
        """The scenario with every default filled in: base as resolved, sweep as given."""
        return {
            "name": self.name, "description": self.description, "root_seed": self.root_seed,
            "replications": self.replications,
            "base": build_config(self.base, self.source).to_dict(),
            "sweep": _jsonable(self.sweep),
        }

    def hash(self) -> str:
        """A short hash of the resolved scenario (cited in reports)."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def with_overrides(self, sets: dict[str, Any], replications: int | None = None) -> Scenario:
        """A copy with ``--set`` overrides applied and, optionally, another replication count."""
        base = merge(self.base, expand_dotted(sets))
        sweep = {k: v for k, v in self.sweep.items()
                 if not any(_related(k, s) for s in sets)}
        scn = Scenario(self.name, self.description, self.root_seed,
                       self.replications if replications is None else replications, base, sweep, self.source)
        scn.validate()
        return scn

    def _point_config(self, point: dict) -> Config:
        data = self.base
        for key, value in point.items():
            data = merge(data, expand_dotted({key: value}) if "." in key else {key: value})
            if "." not in key and isinstance(value, dict):
                data = {**data, key: value}  # a whole swept table replaces the base table
        return build_config(data, self.source)

    def validate(self) -> None:
        """Check every sweep point's configuration (each error names file and key)."""
        if self.replications < 1:
            raise ScenarioError("replications", self.replications, "an integer >= 1", self.source)
        for key, values in self.sweep.items():
            for v in values:
                try:
                    self._point_config({key: v})
                except ConfigError as e:
                    detail = e.expected if e.key == key else f"{e.expected} (at key '{e.key}')"
                    raise ScenarioError(f"sweep.{key}", v, detail, self.source) from None
        build_config(self.base, self.source)


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def flatten_swept(point: dict) -> dict:
    """``{"policy": {"name": "none"}}`` -> ``{"policy.name": "none"}`` for the runs table."""
    out = {}
    for key, value in point.items():
        if isinstance(value, dict):
            for k, v in flatten_swept(value).items():
                out[f"{key}.{k}"] = v
        else:
            out[key] = value if not isinstance(value, list) else json.dumps(value)
    return out


def _run_id(cfg: Config) -> str:
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """A validated scenario from parsed TOML."""
    for key in data:
        if key not in _TOP:
            raise ScenarioError(key, data[key], "one of the top-level keys " + ", ".join(sorted(_TOP)), source)
    name = data.get("name", Path(source).stem if source != "<scenario>" else "scenario")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ScenarioError("name", name, "a non-empty name usable as a folder name", source)
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise ScenarioError("description", desc, "a string", source)
    root_seed = data.get("root_seed", 0)
    if not isinstance(root_seed, int) or isinstance(root_seed, bool) or root_seed < 0:
        raise ScenarioError("root_seed", root_seed, "a non-negative integer", source)
    reps = data.get("replications", 1)
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise ScenarioError("replications", reps, "an integer >= 1", source)
    base = data.get("base", {})
    if not isinstance(base, dict):
        raise ScenarioError("base", base, "a table of configuration sections", source)
    if "run" in base and "seed" in base["run"]:
        raise ScenarioError("base.run.seed", base["run"]["seed"],
                            "no value: in a scenario seeds come from root_seed", source)
    sweep = data.get("sweep", {})
    if not isinstance(sweep, dict):
        raise ScenarioError("sweep", sweep, "a table of key = [values]", source)
    flat_sweep: dict[str, list] = {}
    for key, values in sweep.items():
        if isinstance(values, dict):   # [sweep.workload] iodepth = [...] spelled as a sub-table
            for k, v in values.items():
                flat_sweep[f"{key}.{k}"] = v
        else:
            flat_sweep[key] = values
    for key, values in flat_sweep.items():
        if not isinstance(values, list):
            raise ScenarioError(f"sweep.{key}", values, "a list of values", source)
        if not values:
            raise ScenarioError(f"sweep.{key}", values, "a non-empty list of values", source)
    try:
        build_config(base, source)
    except ConfigError as e:
        raise ScenarioError("base." + e.key, e.value, e.expected, source) from None
    scn = Scenario(name, desc, root_seed, reps, base, flat_sweep, source)
    scn.validate()
    return scn


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` on bad input."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ScenarioError("(file)", source, "an existing scenario file", source) from None
    except OSError as e:
        raise ScenarioError("(file)", source, f"a readable file ({e.strerror})", source) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("(syntax)", str(e), "valid TOML", source) from None
    return scenario_from_dict(data, source)
