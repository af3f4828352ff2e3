"""Scenario files: a base configuration, a sweep, replications and a root seed.

A scenario (TOML, ``docs/scenarios.md``) names a ``base`` configuration (its tables are
the sections of :class:`sim.config.Config`), a ``[sweep]`` whose keys are
dotted configuration keys or whole sections and whose values are lists (the
batch is their cartesian product, in file order; several ``[[sweep]]``
tables give their products one after another, without repeating a
configuration), a number of
``replications`` and a ``root_seed``.

Seeds: replication ``r`` of *every* sweep point runs with the seed of child
``r`` of ``SeedSequence(root_seed)``, so the sweep points of one replication
see the same guest (common random numbers across policies) and adding a sweep
value never changes the seeds, hence the results, of the other points.

Every error is a :class:`ScenarioError` naming the file, the key path, the bad
value and what was expected.  ``--set`` overrides replace base keys; a
``--set`` on a swept key (or inside a swept table) replaces that sweep
dimension by the single value.  ``run.seed`` / ``run.replication`` cannot be
set (in ``base``, a sweep or ``--set``): seeds come from ``root_seed`` only.
A sweep key may not overlap another (``policy`` and ``policy.name``) and its
values must give distinct configurations.

Validation also refuses, before any run, a batch or a run too large for the
memory available now (:func:`memory_estimate`, :func:`available_memory`),
with the estimate in the message.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError, build_config, check_strings, expand_dotted, merge
from .params import units

__all__ = [
    "Scenario",
    "ScenarioError",
    "RunSpec",
    "load_scenario",
    "scenario_from_dict",
    "run_seed",
    "memory_estimate",
    "available_memory",
    "MemoryEstimate",
    "merged_sweep",
]

ScenarioError = ConfigError

_TOP = {"name", "description", "root_seed", "replications", "base", "sweep"}
_NO_SEED = (
    "no value: in a scenario every run's seed comes from root_seed (replication r runs with child r "
    "of SeedSequence(root_seed)); change root_seed in the scenario file instead"
)


def _seed_keys(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``[("run.seed", 3)]`` when a nested override sets a run's seed or replication number."""
    run = data.get("run") if isinstance(data, dict) else None
    if not isinstance(run, dict):
        return []
    return [(f"{prefix}run.{k}", run[k]) for k in ("seed", "replication") if k in run]


def run_seed(root_seed: int, replication: int) -> int:
    """The seed of replication ``replication``: child ``replication`` of ``SeedSequence(root_seed)``.

    The child is built directly: ``SeedSequence(root_seed).spawn(r + 1)[r]`` is
    ``SeedSequence(root_seed, spawn_key=(r,))`` (numpy's ``spawn`` gives child
    ``i`` the spawn key ``(i,)``), in constant time instead of ``r + 1`` children.
    """
    child = np.random.SeedSequence(root_seed, spawn_key=(replication,))
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
    sweeps: list[dict[str, list]]
    source: str = "<scenario>"

    @property
    def sweep(self) -> dict[str, list]:
        """Every swept key with its values, over all sweep blocks (:func:`merged_sweep`)."""
        return merged_sweep(self.sweeps)

    def points(self) -> list[dict]:
        """Each sweep point as ``{key: value}``: block by block, each in cartesian order (first key slowest).

        With several blocks (``[[sweep]]`` tables), a point whose configuration
        an earlier point already has is left out, so no run is made twice.
        """
        out: list[dict] = []
        seen: set[str] = set()
        for block in self.sweeps or [{}]:
            keys = list(block)
            for combo in itertools.product(*(block[k] for k in keys)):
                point = dict(zip(keys, combo))
                if len(self.sweeps) > 1:
                    ident = json.dumps(self._point_config(point).to_dict(), sort_keys=True)
                    if ident in seen:
                        continue
                    seen.add(ident)
                out.append(point)
        return out

    def runs(self) -> list[RunSpec]:
        """Every run of the batch, point by point, replication by replication."""
        specs = []
        seeds = [run_seed(self.root_seed, r) for r in range(self.replications)]
        for p, point in enumerate(self.points()):
            cfg_point = self._point_config(point)
            swept = flatten_swept(point)
            for r, seed in enumerate(seeds):
                # the point is validated; a seed and a replication number need no revalidation
                run = cfg_point.run.model_copy(update={"seed": seed, "replication": r})
                cfg = cfg_point.model_copy(update={"run": run})
                specs.append(RunSpec(_run_id(cfg), p, r, dict(swept), cfg))
        return specs

    def configs(self) -> list[Config]:
        """The configuration of every run, in batch order (``docs/api.md``)."""
        return [s.config for s in self.runs()]

    def resolved(self) -> dict:
        """The scenario with every default filled in: base as resolved, sweep as given."""
        return {
            "name": self.name,
            "description": self.description,
            "root_seed": self.root_seed,
            "replications": self.replications,
            "base": build_config(self.base, self.source).to_dict(),
            "sweep": _jsonable(self.sweeps[0] if len(self.sweeps) == 1 else {} if not self.sweeps else self.sweeps),
        }

    def hash(self) -> str:
        """A short hash of the resolved scenario (cited in reports)."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def with_overrides(self, sets: dict[str, Any], replications: int | None = None) -> Scenario:
        """A copy with ``--set`` overrides applied and, optionally, another replication count.

        ``run.seed`` and ``run.replication`` are refused: every run's seed comes
        from ``root_seed`` and its replication number (a recorded override that
        changed nothing would mislead).
        """
        check_strings(sets, "", "--set")
        for key, value in _seed_keys(expand_dotted(sets)):
            raise ScenarioError(key, value, _NO_SEED, "--set")
        base = merge(self.base, expand_dotted(sets))
        sweeps = [{k: v for k, v in block.items() if not any(_related(k, s) for s in sets)} for block in self.sweeps]
        scn = Scenario(
            self.name,
            self.description,
            self.root_seed,
            self.replications if replications is None else replications,
            base,
            sweeps,
            self.source,
        )
        scn.validate()
        return scn

    def _point_config(self, point: dict) -> Config:
        data = self.base
        for key, value in point.items():
            data = merge(data, expand_dotted({key: value}) if "." in key else {key: value})
            if "." not in key and isinstance(value, dict):
                data = {**data, key: value}  # a whole swept table replaces the base table
        return build_config(data, self.source)

    def validate(self, prefix: str = "") -> None:
        """Check every sweep point's configuration (each error names file and key), and that
        the batch and each of its runs fit in memory (:func:`memory_estimate`).

        ``prefix`` is put before a base key in a message (``"base."`` for a scenario file).
        """
        if self.replications < 1:
            raise ScenarioError("replications", self.replications, "an integer >= 1", self.source)
        try:  # the base first: a mistake there is reported at its own key, not at a sweep key
            build_config(self.base, self.source)
        except ConfigError as e:
            raise ScenarioError(prefix + e.key, e.value, e.expected, self.source) from None
        for block in self.sweeps:
            self._validate_block(block)
        self._check_memory(prefix)

    def _validate_block(self, block: dict[str, list]) -> None:
        keys = list(block)
        for i, key in enumerate(keys):
            for other in keys[:i]:
                if _related(key, other):
                    raise ScenarioError(
                        f"sweep.{key}",
                        block[key],
                        f"a key that does not overlap another "
                        f"swept key (it overlaps sweep key '{other}': sweep one or the other)",
                        self.source,
                    )
        for key, values in block.items():
            seen: dict[str, int] = {}
            # the other keys of the block at their first values: a key may need another
            # (backup.max_workers needs backup.mode = "block-copy" beside it)
            others = {k: vs[0] for k, vs in block.items() if k != key}
            for j, v in enumerate(values):
                for k, _ in _seed_keys(expand_dotted({key: v})):
                    raise ScenarioError(f"sweep.{key}", v, f"no value for '{k}': {_NO_SEED}", self.source)
                try:
                    cfg = self._point_config({**others, key: v})
                except ConfigError as e:
                    blame = key if _related(e.key, key) else next((k for k in others if _related(e.key, k)), key)
                    shown = v if blame == key else others[blame]
                    detail = e.expected if e.key == blame else f"{e.expected} (at key '{e.key}')"
                    raise ScenarioError(f"sweep.{blame}", shown, detail, self.source) from None
                resolved = json.dumps(cfg.to_dict(), sort_keys=True)
                if resolved in seen:
                    first = seen[resolved]
                    raise ScenarioError(
                        f"sweep.{key}",
                        v,
                        f"distinct values (value {j + 1} gives the same "
                        f"configuration as value {first + 1}, {values[first]!r})",
                        self.source,
                    )
                seen[resolved] = j
        if len(block) > 1:  # every combination, when keys depend on each other
            for combo in itertools.product(*block.values()):
                point = dict(zip(block, combo))
                try:
                    self._point_config(point)
                except ConfigError as e:
                    blame = next((k for k in point if _related(e.key, k)), keys[0])
                    where = ", ".join(f"{k}={v!r}" for k, v in point.items() if k != blame)
                    raise ScenarioError(
                        f"sweep.{blame}", point[blame], f"{e.expected} (with {where})", self.source
                    ) from None

    def _check_memory(self, prefix: str) -> None:
        """Refuse a batch or a run that cannot fit in the memory available now."""
        avail = available_memory()
        if avail is None:
            return
        npoints = sum(math.prod(len(v) for v in block.values()) for block in self.sweeps or [{}])
        nruns = npoints * self.replications
        batch = nruns * RUN_SPEC_BYTES
        if batch > avail:
            key, value = (
                ("replications", self.replications)
                if self.replications >= npoints
                else ("sweep", f"{npoints} sweep points")
            )
            raise ScenarioError(
                key,
                value,
                f"a batch that fits in memory: {nruns} runs x {_fmt(RUN_SPEC_BYTES)} "
                f"per run = {_fmt(batch)} before the first run starts, more than the "
                f"{_fmt(avail)} available",
                self.source,
            )
        for point in self.points():
            est = memory_estimate(self._point_config(point))
            batch += self.replications * est.timeline_rows * TIMELINE_ROW_BYTES
            if est.total > avail or batch > avail:
                key = est.key if est.total > avail else "replications"
                swept = next((k for k in point if _related(k, key)), None)
                if swept is not None:
                    shown, value = f"sweep.{swept}", point[swept]
                elif key == "replications":
                    shown, value = key, self.replications
                else:
                    shown, value = prefix + key, _lookup(self.base, key, est.values.get(key))
                where = (
                    " at sweep point " + ", ".join(f"{k}={v!r}" for k, v in flatten_swept(point).items())
                    if point
                    else ""
                )
                if est.total > avail:
                    detail = f"a run that fits in memory: it needs about {est.describe()}{where}"
                else:
                    detail = f"a batch that fits in memory: its {nruns} runs' timelines need about {_fmt(batch)}"
                raise ScenarioError(shown, value, f"{detail}, more than the {_fmt(avail)} available", self.source)


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
    if not isinstance(data, dict):
        raise ScenarioError("(file)", source, "a TOML table of scenario keys", source)
    for key in data:
        if key not in _TOP:
            raise ScenarioError(key, data[key], "one of the top-level keys " + ", ".join(sorted(_TOP)), source)
    check_strings(data, "", source)
    name = data.get("name", Path(source).stem if source != "<scenario>" else "scenario")
    if (
        not isinstance(name, str)
        or not name
        or "/" in name
        or "\\" in name
        or name.startswith(".")
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
        or len(name.encode("utf-8", "replace")) > 200
    ):
        raise ScenarioError(
            "name",
            name,
            "a non-empty name usable as a folder name (no '/', no leading '.', "
            "no control characters, at most 200 bytes)",
            source,
        )
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
    try:
        build_config(base, source)
    except ConfigError as e:
        raise ScenarioError("base." + e.key, e.value, e.expected, source) from None
    for key, value in _seed_keys(base):
        raise ScenarioError("base." + key, value, _NO_SEED, source)
    sweep = data.get("sweep", {})
    if isinstance(sweep, list) and sweep and all(isinstance(b, dict) for b in sweep):
        blocks = [_sweep_block(b, source) for b in sweep]  # [[sweep]] tables: their points one after another
    elif isinstance(sweep, dict):
        blocks = [_sweep_block(sweep, source)]
    else:
        raise ScenarioError("sweep", sweep, "a table of key = [values], or [[sweep]] tables", source)
    scn = Scenario(name, desc, root_seed, reps, base, blocks, source)
    scn.validate(prefix="base.")
    return scn


def merged_sweep(sweeps: dict | list) -> dict[str, list]:
    """A sweep table, or ``[[sweep]]`` blocks, as one ``{key: values}``: every key, every value once."""
    if isinstance(sweeps, dict):
        return sweeps
    out: dict[str, list] = {}
    for block in sweeps:
        for k, values in block.items():
            have = out.setdefault(k, [])
            have.extend(v for v in values if v not in have)
    return out


def _sweep_block(sweep: dict, source: str) -> dict[str, list]:
    """One sweep table as ``{dotted key: [values]}``, checked."""
    flat_sweep: dict[str, list] = {}
    for key, values in sweep.items():
        items = [(f"{key}.{k}", v) for k, v in values.items()] if isinstance(values, dict) else [(key, values)]
        for k, v in items:  # [sweep.workload] iodepth = [...] spelled as a sub-table
            if k in flat_sweep:
                raise ScenarioError(
                    f"sweep.{k}",
                    v,
                    "a key swept once (it is given twice, as a dotted key and inside a [sweep] sub-table)",
                    source,
                )
            flat_sweep[k] = v
    for key, values in flat_sweep.items():
        if not isinstance(values, list):
            raise ScenarioError(f"sweep.{key}", values, "a list of values", source)
        if not values:
            raise ScenarioError(f"sweep.{key}", values, "a non-empty list of values", source)
    return flat_sweep


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` on bad input."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError("(file)", source, "an existing scenario file", source) from None
    except IsADirectoryError:
        raise ScenarioError("(file)", source, "a scenario file, not a directory", source) from None
    except OSError as e:
        raise ScenarioError("(file)", source, f"a readable file ({e.strerror})", source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(
            "(file)", source, f"a UTF-8 text file (byte 0x{raw[e.start]:02x} on line {line} is not UTF-8)", source
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("(syntax)", str(e), "valid TOML", source) from None
    except ValueError as e:  # an integer of more than 4300 digits
        raise ScenarioError(
            "(syntax)", str(e).split(";")[0], "valid TOML with numbers of a sane size", source
        ) from None
    except RecursionError:
        raise ScenarioError("(syntax)", "arrays or tables nested too deeply", "valid TOML", source) from None
    return scenario_from_dict(data, source)


# ---------------------------------------------------------------- memory

#: Bytes of one run, measured as the growth of the peak RSS (``ru_maxrss``) of
#: ``run_one`` in a fresh process after importing :mod:`sim`, on Linux x86-64,
#: CPython 3.11, numpy 2 / pandas 2 (the import itself: ~127 MB):
#:
#: * per run, 10 MiB: what it records of its guest requests does not grow with
#:   them (counts and histograms, :mod:`sim.recording`): 100000 to 400000
#:   Poisson requests, with or without a baseline, grew the RSS by 8.4-8.7 MB.
#: * per cluster, 50 B: a backup of 262144 clusters (1 GiB in 4 KiB clusters,
#:   no guest) grew the RSS by 10.9 MB = 42 B a cluster: one bit in each
#:   bitmap, 12 B of content oracle (generations on the disk, at the start, on
#:   the target); with ``run.keep_requests`` 10 B more (13.8 MB: the copy
#:   record, time and COW flag).
#: * per guest request, only with ``run.keep_requests``: 300 B with the backup
#:   run and 60 B more for its baseline: 200000 Poisson requests grew the RSS
#:   by 64 MB without a baseline (8 typed array entries, the request frame of
#:   10 columns built from them, pandas temporaries) and by 76 MB with one
#:   (the baseline keeps its arrays, not a frame).
#: * with ``run.trace``, 1500 B more per request and 1300 B more per cluster
#:   (the event trace: 100000 requests with their baseline, 1900 B each; 65536
#:   clusters without a guest, 1300 B each).
#: * per timeline row, 60 B: 2000000 rows grew the RSS by 120 MB.
#: * per run of a batch, 16 KiB before any run starts: ``Scenario.runs()``
#:   holds a full :class:`Config` per run (tracemalloc: 15.1 KB a run).
PROCESS_BYTES = 130 << 20
RUN_BYTES = 10 << 20
CLUSTER_BYTES = 50
KEEP_CLUSTER_BYTES = 10
REQUEST_BYTES = 300
BASELINE_REQUEST_BYTES = 60
TRACE_REQUEST_BYTES = 1500
TRACE_CLUSTER_BYTES = 1300
TIMELINE_ROW_BYTES = 60
RUN_SPEC_BYTES = 16 << 10


@dataclass
class MemoryEstimate:
    """The memory one run needs at least: its counts, their costs, and the key that dominates."""

    clusters: int
    requests: int
    timeline_rows: int
    duration: int
    cluster_bytes: int
    request_bytes: int
    total: int
    key: str
    values: dict = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{_fmt(PROCESS_BYTES)} for the process", f"{_fmt(RUN_BYTES)} for the run"]
        if self.clusters:
            parts.append(f"{self.clusters} clusters x {self.cluster_bytes} B")
        if self.requests and self.request_bytes:
            parts.append(f"{self.requests} guest requests in {self.duration / 1e9:.4g} s x {self.request_bytes} B")
        if self.timeline_rows:
            parts.append(f"{self.timeline_rows} timeline rows x {TIMELINE_ROW_BYTES} B")
        return f"{_fmt(self.total)} (" + " + ".join(parts) + ")"


def memory_estimate(cfg: Config) -> MemoryEstimate:
    """About the least memory a run of ``cfg`` needs, from the costs stated above.

    Counts: ``disk_size / cluster_size`` clusters; guest requests = the
    guest's rate (open loop: its mean rate; closed loop: at most ``iodepth``
    requests per device service time, of which the source serves
    ``queue_depth`` at once) times the time the guest runs, which is
    ``workload.duration`` if it is a time, else the fastest the backup can end
    (``start`` + allocated bytes at the slower of source read and target
    write, or at the rate limit), each capped at ``run.max_time``; timeline
    rows = that time / ``run.timeline_window``.  Requests cost memory only when
    kept (``run.keep_requests``) or traced (``run.trace``).  The estimate is a
    lower bound of a typical run, so refusing on it never refuses a run that
    would fit.
    """
    b, run = cfg.backup, cfg.run
    clusters = b.disk_size // b.cluster_size
    backup = b.mode != "none"
    t_end = _run_time(cfg)
    guest_t = t_end if not isinstance(cfg.workload.duration, int) else min(cfg.workload.duration, t_end)
    requests = _requests(cfg.workload, cfg, guest_t)
    rows = -(-t_end // run.timeline_window) if t_end else 1
    keep = run.keep_requests  # per-request (and per-cluster) records only when kept
    per_cluster = CLUSTER_BYTES + (KEEP_CLUSTER_BYTES if keep else 0) + (TRACE_CLUSTER_BYTES if run.trace else 0)
    kept = REQUEST_BYTES + (BASELINE_REQUEST_BYTES if run.baseline and backup else 0) if keep else 0
    per_request = kept + (TRACE_REQUEST_BYTES if run.trace else 0)
    parts = {
        "backup.disk_size": clusters * per_cluster,
        "requests": requests * per_request,
        "run.timeline_window": rows * TIMELINE_ROW_BYTES,
    }
    key = max(parts, key=parts.__getitem__)
    if key == "requests":  # the lever: what bounds the time the guest runs
        if isinstance(cfg.workload.duration, int) and cfg.workload.duration <= t_end:
            key = "workload.duration"
        else:
            key = "run.max_time" if t_end >= run.max_time else "backup.disk_size"
    values = {
        "backup.disk_size": units.format_size(b.disk_size),
        "run.max_time": units.format_time(run.max_time),
        "run.timeline_window": units.format_time(run.timeline_window),
        "workload.duration": cfg.workload.duration
        if not isinstance(cfg.workload.duration, int)
        else units.format_time(cfg.workload.duration),
    }
    return MemoryEstimate(
        clusters,
        requests,
        rows,
        guest_t,
        per_cluster,
        per_request,
        PROCESS_BYTES + RUN_BYTES + sum(parts.values()),
        key,
        values,
    )


def _run_time(cfg: Config) -> int:
    """The least simulated time the run lasts (ns), capped at ``run.max_time``."""
    b, w = cfg.backup, cfg.workload
    t = 0
    if b.mode != "none":
        nbytes = b.disk_size if b.sync == "full" else int(b.disk_size * b.allocated)
        target = getattr(cfg.target, "link_bw", 0) or cfg.target.write_bw
        rate = min(cfg.disk.read_bw, target)
        speed = getattr(cfg.policy, "speed", 0)
        if cfg.policy.name == "rate-limit" and speed and not getattr(cfg.policy, "schedule", None):
            rate = min(rate, int(speed * cfg.disk.read_bw) if isinstance(speed, Fraction) else speed)
        copy = nbytes * 10**9 // max(1, rate)
        if b.cancel_at is not None:
            copy = min(copy, b.cancel_at)
        t = b.start + copy
    if isinstance(w.duration, int):
        t = max(t, w.duration)
    return min(t, cfg.run.max_time)


def _requests(w, cfg: Config, t: int) -> int:
    """About how many requests the guest ``w`` issues in ``t`` ns."""
    kind = w.kind
    if kind == "multi":
        return sum(_requests(s, cfg, t if not isinstance(s.duration, int) else min(t, s.duration)) for s in w.streams)
    if kind == "script":
        return len(w.requests)
    if kind == "trace":
        from .workloads.trace import trace_stats

        st = trace_stats(w.path, w.format, w.device, w.start)
        if not w.loop:
            return st.records
        period = st.span_ns * w.time_scale if w.replay == "open" else 0
        return st.records * max(1, int(t // period)) if period else st.records
    if kind in ("poisson", "diurnal"):
        return int(w.iops * t / 1e9)
    if kind == "bursty":
        return int(w.iops * w.on_mean / (w.on_mean + w.off_mean) * t / 1e9)
    if kind == "fio":
        return int(_closed_loop_per_s(cfg, w.bs, w.iodepth, w.think_time) * t / 1e9)
    if kind == "fio-rate":
        jobs = w.numjobs
        per_s = _closed_loop_per_s(cfg, w.bs, w.iodepth * jobs, 0)
        if w.rate_iops:
            per_s = min(per_s, w.rate_iops * jobs)
        return int(per_s * t / 1e9)
    return 0


def _closed_loop_per_s(cfg: Config, bs: int, depth: int, think_time: int) -> float:
    """Requests per second of a closed-loop guest: ``depth`` in flight, at most the source's queue depth."""
    d, loop = cfg.disk, cfg.loop
    base = min(d.read_seq_base, d.read_rand_base, d.write_seq_base, d.write_rand_base)
    service = base + bs * 10**9 // max(d.read_bw, d.write_bw) + think_time
    per_s = min(depth, d.queue_depth) * 1e9 / max(1, service)
    cpu = loop.submit_cost + loop.complete_cost
    if cpu:
        per_s = min(per_s, 1e9 / cpu)
    return per_s


def available_memory() -> int | None:
    """Bytes of memory available now: ``MemAvailable`` (and the cgroup's limit), or None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    try:
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        if limit != "max":
            used = int(open("/sys/fs/cgroup/memory.current").read())
            avail = min(avail, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return avail


def _fmt(n: int) -> str:
    for unit, f in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= f:
            return f"{n / f:.1f} {unit}"
    return f"{n} B"


def _lookup(data: dict, key: str, default: Any) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
