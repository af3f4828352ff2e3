"""Analysis of a results folder: per-point aggregates, pooled latency, the Pareto front.

A *sweep point* is one configuration of a batch (column ``point`` of the runs
table); its *replications* are runs of that configuration with different
seeds.  Everything here is a pure function of the tables, so the same results
folder always gives the same numbers.

Statistics (stated once, used by the report and the figures):

* **Means and intervals** (:func:`aggregate`): for each metric and sweep point,
  the mean over replications with a two-sided Student-t confidence interval
  (95 % by default), ``mean +/- t(1 - a/2, n - 1) * s / sqrt(n)`` with ``s``
  the sample standard deviation (``ddof=1``).  Replications are independent
  (different seeds), so this is the textbook interval for the mean of a
  metric across seeds.  Non-finite values (a percentile of an empty window)
  are left out.  With one replication the mean is that run's value and the
  interval bounds are NaN: there is no estimate of spread.
* **Ratios** (``slowdown_*`` columns, a run's p99 over its baseline's p99):
  averaged geometrically.  The interval is the Student-t interval of the mean
  of ``log(ratio)`` mapped back with ``exp``, so it is asymmetric around the
  geometric mean and never goes below zero; a slowdown of 2 and one of 0.5
  average to 1, as they should.
* **Pooled latency** (:func:`pooled_histogram`, :func:`hist_percentile`,
  :func:`hist_cdf`): the log-binned histograms of a point's replications
  (20 bins per decade, :data:`sim.metrics.HIST_EDGES_NS`) are summed, which is
  the histogram of all their requests together.  A percentile is read off
  that histogram by interpolating *within* the bin that holds the rank,
  uniformly in ``log(latency)`` (the bins are log-spaced); it is therefore
  exact to within one bin, a factor of 10**(1/20) (about 12 %).  The CDF uses
  the same interpolation: its points are the bin edges, joined by straight
  lines on a log latency axis.
* **Pareto front** (:func:`pareto_front`): backup duration versus guest p99
  slowdown, both to be minimised, on the per-point means.  A point is on the
  front when no other point is at least as good on both and strictly better
  on one.  In :func:`aggregate` only points whose runs all completed take part
  (a backup that timed out or failed is not a trade-off anyone can choose).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd

__all__ = [
    "Results",
    "load",
    "collect",
    "swept_columns",
    "point_label",
    "points",
    "t_critical",
    "mean_ci",
    "geomean_ci",
    "aggregate",
    "DEFAULT_METRICS",
    "pooled_histogram",
    "hist_percentile",
    "hist_cdf",
    "pooled_percentiles",
    "pareto_front",
    "paired_difference",
    "find_points",
    "copied_share",
    "mm1_mean_latency",
    "md1_mean_latency",
]

#: Metrics that :func:`aggregate` summarises by default (those present in the table).
DEFAULT_METRICS = (
    "backup_duration_s",
    "backup_throughput_mib_s",
    "cow_clusters",
    "guest_p50_us",
    "guest_p99_us",
    "guest_p999_us",
    "guest_read_p99_us",
    "guest_write_p99_us",
    "guest_iops",
    "baseline_guest_p50_us",
    "baseline_guest_p99_us",
    "baseline_guest_p999_us",
    "slowdown_p99",
    "cow_delayed_share",
    "cow_extra_mean_us",
    "cow_extra_p99_us",
    "loop_wait_max_us",
    "loop_wait_p99_us",
    "peak_in_flight_bytes",
    "fleece_peak_bytes",
)

_FIXED = ("run_id", "point", "replication", "seed")


# ---------------------------------------------------------------- loading


@dataclass
class Results:
    """The tables of one results folder (or of runs collected in this process).

    ``runs``: one row per run (``run_id``, ``point``, ``replication``, ``seed``,
    swept keys as dotted columns, metrics); ``timeline``: per run and window;
    ``hist``: per run and op, the latency histogram; ``manifest``: the batch's
    ``manifest.json`` (empty for collected runs).
    """

    runs: pd.DataFrame
    timeline: pd.DataFrame
    hist: pd.DataFrame
    manifest: dict = field(default_factory=dict)
    path: Path | None = None
    settings: dict[str, dict] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The scenario's name (``"in-process"`` for collected runs)."""
        return str(self.manifest.get("scenario", {}).get("name", "in-process"))

    @property
    def scenario_hash(self) -> str:
        """The scenario hash cited in captions (``"none"`` for collected runs)."""
        return str(self.manifest.get("scenario_hash", "none"))

    @property
    def swept(self) -> list[str]:
        return swept_columns(self.runs)

    def points(self) -> pd.DataFrame:
        """One row per sweep point: its swept values and a readable ``label``."""
        return points(self.runs)

    def label(self, point: int) -> str:
        return str(self.points().loc[point, "label"])

    def run_ids(self, point: int) -> list[str]:
        """The runs of one sweep point, in replication order."""
        r = self.runs[self.runs["point"] == point].sort_values("replication")
        return r["run_id"].tolist()

    def setting(self, run_id: str, key: str) -> Any:
        """The value of dotted configuration ``key`` in run ``run_id``.

        Looked up in the run's own configuration when known (collected runs),
        else its swept column, else the scenario's resolved base (manifest).
        Returns ``None`` when unknown.
        """
        if run_id in self.settings and key in self.settings[run_id]:
            return self.settings[run_id][key]
        if key in self.runs.columns:
            v = self.runs.loc[self.runs["run_id"] == run_id, key]
            if len(v) and not _missing(v.iloc[0]):
                return v.iloc[0]
        node: Any = self.manifest.get("scenario", {}).get("base", {})
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


def load(path: str | Path) -> Results:
    """Read a results folder written by :func:`sim.run_batch` (see :mod:`sim.store`).

    The folder's current set is resolved once, so every table comes from the
    same batch (their batch ids are checked).  Raises
    :class:`FileNotFoundError` when there is no ``runs.parquet`` and
    :class:`sim.store.ResultsError` naming the file when one is damaged.
    """
    from .store import ResultsError, generation, read_manifest, read_parquet

    path = Path(path)
    for attempt in range(3):  # a batch published between resolving and reading: read the new set
        gen = generation(path)
        if not (gen / "runs.parquet").exists():
            raise FileNotFoundError(f"{path}: no runs.parquet here; run `backupsim run` first")
        runs, batch = read_parquet(gen / "runs.parquet", path / "runs.parquet")
        tables, batches = {}, {"runs.parquet": batch}
        for name in ("timeline.parquet", "latency_hist.parquet"):
            f = gen / name
            if f.exists():
                tables[name], batches[name] = read_parquet(f, path / name)
            else:
                tables[name] = pd.DataFrame()
        manifest = read_manifest(gen / "manifest.json", path / "manifest.json")
        if manifest.get("batch_id") is not None:
            batches["manifest.json"] = manifest["batch_id"]
        ids = {b for b in batches.values() if b is not None}
        if len(ids) <= 1:
            return Results(
                runs=runs,
                timeline=tables["timeline.parquet"],
                hist=tables["latency_hist.parquet"],
                manifest=manifest,
                path=path,
            )
        if gen == path or attempt == 2:
            names = ", ".join(f"{n} {b}" for n, b in batches.items())
            raise ResultsError(
                f"{path}: its files come from different batches ({names}); rerun `backupsim run` for this folder", 2
            )
    raise AssertionError("unreachable")  # pragma: no cover


def collect(items: Iterable[tuple[Mapping[str, Any], Any]], name: str = "in-process") -> Results:
    """:class:`Results` from runs made in this process with :func:`sim.run_one`.

    ``items`` are ``(point, result)`` pairs: ``point`` says what was varied,
    spelled as in a scenario's sweep (``{"policy": {"name": "fixed-sleep",
    "sleep": "1us"}}`` or ``{"loop.era": "2013"}``), and ``result`` is the
    :class:`sim.RunResult`.  Equal points get the same ``point`` number, in
    order of first appearance; the runs of a point are its replications 0, 1,
    ... in the order given, so run every point with the same seeds in the same
    order for :func:`paired_difference` to pair runs of equal seeds.
    """
    rows, timelines, hists, settings = [], [], [], {}
    first_config: dict = {}
    seen: dict[str, int] = {}
    reps: dict[int, int] = {}
    for i, (point, res) in enumerate(items):
        flat = _flatten(point)
        key = json.dumps(flat, sort_keys=True, default=str)
        p = seen.setdefault(key, len(seen))
        r = reps.get(p, 0)
        reps[p] = r + 1
        run_id = f"run{i:04d}"
        summary = {k: v for k, v in res.summary.items() if k not in ("replication",)}
        rows.append({"run_id": run_id, "point": p, "replication": r, **flat, **summary})
        tl = res.timeline.copy()
        tl.insert(0, "run_id", run_id)
        timelines.append(tl)
        h = res.histogram.copy()
        h.insert(0, "run_id", run_id)
        hists.append(h)
        config = res.config.to_dict()
        settings[run_id] = _flatten(config)
        first_config = first_config or config
    if not rows:
        raise ValueError("collect() needs at least one (point, result) pair")
    runs = pd.DataFrame(rows)
    fixed = [c for c in ("run_id", "point", "replication", "seed") if c in runs.columns]
    runs = runs[fixed + [c for c in runs.columns if c not in fixed]]
    manifest = {"scenario": {"name": name, "replications": max(reps.values()), "base": first_config}}
    return Results(
        runs=runs,
        timeline=pd.concat(timelines, ignore_index=True),
        hist=pd.concat(hists, ignore_index=True),
        manifest=manifest,
        settings=settings,
    )


def _flatten(point: Mapping[str, Any], prefix: str = "") -> dict:
    out = {}
    for k, v in point.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return out


# ---------------------------------------------------------------- sweep points


def swept_columns(runs: pd.DataFrame) -> list[str]:
    """The swept keys of a runs table: its dotted columns (metric names have no dot), in table order."""
    return [c for c in runs.columns if "." in c and c not in _FIXED]


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating):
        return f"{float(v):g}"
    return str(v)


def point_label(values: Mapping[str, Any]) -> str:
    """A readable name for a sweep point from its swept values.

    The policy comes first with its parameters, then the other keys by their
    last name (the full dotted name if two keys share it); ``loop.era`` reads
    as ``era 2013``.  ``{"policy.name": "fixed-sleep", "policy.sleep": "1us",
    "loop.era": "2013"}`` -> ``"fixed-sleep sleep=1us, era 2013"``.
    """
    vals = {k: v for k, v in values.items() if not _missing(v)}
    parts: list[str] = []
    pol = [k for k in vals if k.startswith("policy.")]
    if pol:
        name = vals.get("policy.name")
        words = [str(name)] if name is not None else ["policy"]
        words += [f"{k.split('.', 1)[1]}={_fmt_value(vals[k])}" for k in pol if k != "policy.name"]
        parts.append(" ".join(words))
    rest = [k for k in vals if not k.startswith("policy.")]
    short = [k.rsplit(".", 1)[-1] for k in rest]
    for k, s in zip(rest, short):
        if k == "loop.era":
            parts.append(f"era {_fmt_value(vals[k])}")
        else:
            parts.append(f"{s if short.count(s) == 1 else k}={_fmt_value(vals[k])}")
    return ", ".join(parts) if parts else "base configuration"


def points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep point (indexed by ``point``): swept values, ``label``, ``runs``."""
    swept = swept_columns(runs)
    g = runs.groupby("point", sort=True)
    out = g[swept].first() if swept else pd.DataFrame(index=sorted(runs["point"].unique()))
    out.index.name = "point"
    out["label"] = (
        [point_label(row) for row in out[swept].to_dict("records")] if swept else ["base configuration"] * len(out)
    )
    out["runs"] = g.size()
    return out


# ---------------------------------------------------------------- intervals


def _t_two_sided_mass(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer ``df`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    s = math.sin(theta)
    if df % 2:  # odd
        if df == 1:
            return 2 * theta / math.pi
        term = total = math.cos(theta)
        for j in range(1, (df - 1) // 2):
            term *= (2 * j) / (2 * j + 1) * c2
            total += term
        return 2 / math.pi * (theta + s * total)
    term = total = 1.0
    for j in range(0, df // 2 - 1):
        term *= (2 * j + 1) / (2 * j + 2) * c2
        total += term
    return s * total


def t_critical(confidence: float, df: int) -> float:
    """The two-sided Student-t critical value: ``t`` with ``P(|T| <= t) = confidence``.

    Exact finite series for integer ``df`` and bisection, so no scipy is needed;
    ``t_critical(0.95, 2) = 4.3027``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    lo, hi = 0.0, 1.0
    while _t_two_sided_mass(hi, df) < confidence:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _t_two_sided_mass(mid, df) < confidence:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float, int]:
    """``(mean, lo, hi, n)``: Student-t interval of the mean of the finite ``values``.

    ``n`` is the number of finite values; with ``n == 1`` the bounds are NaN, with
    ``n == 0`` everything is NaN.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(x.mean())
    if n == 1:
        return m, math.nan, math.nan, 1
    half = t_critical(confidence, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return m, m - half, m + half, n


def geomean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float, int]:
    """``(geometric mean, lo, hi, n)`` of positive ratios: :func:`mean_ci` of their logs, exponentiated."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    m, lo, hi, n = mean_ci(np.log(x), confidence)
    return (
        math.exp(m) if n else math.nan,
        math.exp(lo) if lo == lo else math.nan,
        math.exp(hi) if hi == hi else math.nan,
        n,
    )


def _is_ratio(metric: str) -> bool:
    return metric.startswith("slowdown")


def aggregate(runs: pd.DataFrame, metrics: Sequence[str] | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """One row per sweep point: swept values, label, and per metric its mean and interval.

    For each metric ``m``: columns ``m`` (mean; geometric for ``slowdown_*``),
    ``m_lo``, ``m_hi`` (interval bounds, NaN with one replication) and ``m_n``
    (finite values used).  Also ``runs`` (replications), ``status`` (counts, e.g.
    ``"completed 3"``), ``completed`` (all runs completed), ``consistent`` (all
    runs point-in-time consistent), ``complete`` (every run's target holds every
    cluster), ``good_backup`` (both) and ``pareto`` (on the front of
    ``backup_duration_s`` vs ``slowdown_p99`` among completed points whose
    every run is a good backup, within a ``setting``: the swept values other
    than the ways of running the backup, i.e. other than the policy, the
    backup mode and a mode's own knobs such as ``backup.max_workers``).
    """
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m in runs.columns]
    out = points(runs)
    rows = []
    for p in out.index:
        sub = runs[runs["point"] == p]
        row: dict[str, Any] = {}
        for m in metrics:
            vals = pd.to_numeric(sub[m], errors="coerce").to_numpy(dtype=float)
            est = geomean_ci(vals, confidence) if _is_ratio(m) else mean_ci(vals, confidence)
            row[m], row[f"{m}_lo"], row[f"{m}_hi"], row[f"{m}_n"] = est
        if "status" in sub.columns:
            counts = sub["status"].value_counts()
            row["status"] = ", ".join(f"{k} {counts[k]}" for k in sorted(counts.index))
            row["completed"] = bool((sub["status"] == "completed").all())
        else:
            row["status"], row["completed"] = "", True
        row["consistent"] = bool(sub["consistent"].all()) if "consistent" in sub.columns else True
        row["complete"] = bool(sub["complete"].all()) if "complete" in sub.columns else True
        row["good_backup"] = row["consistent"] and row["complete"]
        rows.append(row)
    agg = pd.concat([out, pd.DataFrame(rows, index=out.index)], axis=1)
    # ways of running the backup (a policy, a mode and its own knobs) compete within a setting:
    # the swept values that describe the machine, the guest and the disk
    setting = [c for c in swept_columns(runs) if not _competitor(c)]
    agg["setting"] = [
        ", ".join(f"{c.split('.')[-1]}={v}" for c, v in zip(setting, vals) if not _missing(v))
        for vals in (agg[setting].itertuples(index=False) if setting else [()] * len(agg))
    ]
    agg["pareto"] = False
    if "backup_duration_s" in agg.columns and "slowdown_p99" in agg.columns:
        for _, grp in agg[agg["completed"] & agg["good_backup"]].groupby("setting", sort=False):
            front = pareto_front(grp, "backup_duration_s", "slowdown_p99")
            agg.loc[front.index[front.to_numpy()], "pareto"] = True
    return agg


#: ``backup.*`` keys that describe the disk and the run, not how the backup is made.
_BACKUP_SETTING = frozenset(
    ("disk_size", "cluster_size", "start", "cancel_at", "sync", "allocated", "zero_fraction", "target_on_source")
)


def _competitor(key: str) -> bool:
    """Is swept ``key`` a way of running the backup (policy, mode, a mode's knob) rather than the setting?"""
    if key.startswith("policy."):
        return True
    if key.startswith("backup."):
        return key.split(".", 1)[1] not in _BACKUP_SETTING
    return False


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def paired_difference(
    runs: pd.DataFrame, a: int, b: int, metric: str, ratio: bool = False, confidence: float = 0.95
) -> dict:
    """Point ``a`` against point ``b`` on ``metric``, paired by replication.

    Replication ``r`` of every point runs with the same seed, so its guest sees
    the same requests (common random numbers): the per-replication difference
    ``a_r - b_r`` removes most of the seed-to-seed noise and its Student-t
    interval is much tighter than comparing two independent intervals.  With
    ``ratio`` (always for ``slowdown_*``), the per-replication ratios
    ``a_r / b_r`` are averaged geometrically (:func:`geomean_ci`).  Returns
    ``{"kind": "difference" | "ratio", "estimate", "lo", "hi", "n"}``; ``n``
    counts the replications present in both points with finite values.
    """
    ra = runs[runs["point"] == a].set_index("replication")[metric]
    rb = runs[runs["point"] == b].set_index("replication")[metric]
    both = pd.concat([ra.rename("a"), rb.rename("b")], axis=1, join="inner").sort_index()
    va = pd.to_numeric(both["a"], errors="coerce").to_numpy(float)
    vb = pd.to_numeric(both["b"], errors="coerce").to_numpy(float)
    if ratio or _is_ratio(metric):
        with np.errstate(divide="ignore", invalid="ignore"):
            est = geomean_ci(va / vb, confidence)
        kind = "ratio"
    else:
        est = mean_ci(va - vb, confidence)
        kind = "difference"
    return {"kind": kind, "estimate": est[0], "lo": est[1], "hi": est[2], "n": est[3]}


def find_points(pts: pd.DataFrame, where: Mapping[str, Any], like: int | None = None) -> list[int]:
    """Sweep points (rows of :func:`points`) whose columns equal ``where``.

    With ``like``, the other swept keys outside the policy table must also
    equal those of point ``like`` (so ``find_points(pts, {"policy.name":
    "none"}, like=p)`` is "the same setup as ``p``, without pacing").  A value
    of ``None`` in ``where`` matches a missing (NaN) value.
    """
    mask = pd.Series(True, index=pts.index)
    for k, v in where.items():
        if k not in pts.columns:
            if v is None:
                continue
            return []
        col = pts[k]
        mask &= col.isna() if v is None else (col.astype(str) == str(v)) & col.notna()
    if like is not None:
        for k in swept_columns(pts):
            if k in where or k.startswith("policy."):
                continue
            ref = pts.loc[like, k]
            mask &= pts[k].isna() if _missing(ref) else (pts[k].astype(str) == str(ref))
    return [int(p) for p in pts.index[mask]]


def copied_share(res: Results) -> pd.Series:
    """Per run (indexed by ``run_id``): the fraction of the disk the backup copied (1.0 when complete)."""
    from .params.units import parse_size

    out = {}
    for _, row in res.runs.iterrows():
        ds = res.setting(row["run_id"], "backup.disk_size")  # a mode may raise the cluster size
        total = parse_size(ds) if ds is not None else 0
        out[row["run_id"]] = float(row["backup_bytes"]) / total if total else math.nan
    return pd.Series(out, name="copied_share", dtype=float)


# ---------------------------------------------------------------- Pareto


def pareto_front(table: pd.DataFrame, x: str = "backup_duration_s", y: str = "slowdown_p99") -> pd.Series:
    """Boolean Series (same index): rows not dominated when minimising both ``x`` and ``y``.

    Row ``j`` dominates row ``i`` when ``x_j <= x_i`` and ``y_j <= y_i`` with at
    least one strict.  Rows with a NaN in ``x`` or ``y`` are never on the front;
    identical rows are both on it.
    """
    xs = pd.to_numeric(table[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(table[y], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    on = np.zeros(len(table), dtype=bool)
    for i in np.flatnonzero(ok):
        dom = ok & (xs <= xs[i]) & (ys <= ys[i]) & ((xs < xs[i]) | (ys < ys[i]))
        on[i] = not dom.any()
    return pd.Series(on, index=table.index, name="pareto")


# ---------------------------------------------------------------- pooled latency


def pooled_histogram(hist: pd.DataFrame, run_ids: Iterable[str], op: str | None = None) -> pd.DataFrame:
    """The summed latency histogram (``lo_ns``, ``hi_ns``, ``count``) of ``run_ids``.

    ``op`` is ``"read"``, ``"write"`` or ``None`` for both together.
    """
    ids = list(run_ids)
    h = hist[hist["run_id"].isin(ids)]
    if op is not None:
        h = h[h["op"] == op]
    out = h.groupby(["lo_ns", "hi_ns"], sort=True, as_index=False)["count"].sum()
    return out.astype({"lo_ns": np.int64, "hi_ns": np.int64, "count": np.int64})


@overload
def hist_percentile(h: pd.DataFrame, q: float) -> float: ...
@overload
def hist_percentile(h: pd.DataFrame, q: Sequence[float]) -> np.ndarray: ...
def hist_percentile(h: pd.DataFrame, q: float | Sequence[float]) -> float | np.ndarray:
    """Percentile(s) ``q`` (0-100) in microseconds of a histogram, log-interpolated within the bin.

    The rank ``q/100 * N`` falls in the first bin ``i`` whose cumulative count
    reaches it; the value is ``lo_i * (hi_i/lo_i) ** f`` with ``f`` the fraction
    of that bin's count below the rank.  NaN for an empty histogram.
    """
    qs = np.atleast_1d(np.asarray(q, dtype=float))
    lo = h["lo_ns"].to_numpy(dtype=float)
    hi = h["hi_ns"].to_numpy(dtype=float)
    cnt = h["count"].to_numpy(dtype=float)
    total = cnt.sum()
    res = np.full(qs.shape, np.nan)
    if total > 0:
        cum = np.cumsum(cnt)
        nz = np.flatnonzero(cnt > 0)
        for k, qq in enumerate(qs):
            rank = min(max(qq, 0.0), 100.0) / 100.0 * total
            i = int(np.searchsorted(cum, rank, side="left"))
            i = max(i, int(nz[0]))
            i = min(i, int(nz[-1]))
            below = cum[i] - cnt[i]
            f = min(max((rank - below) / cnt[i], 0.0), 1.0) if cnt[i] else 0.0
            res[k] = lo[i] * (hi[i] / lo[i]) ** f / 1000.0
    return float(res[0]) if np.ndim(q) == 0 else res


def hist_cdf(h: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(latency_us, fraction <= latency)`` at the bin edges, from the first to the last non-empty bin."""
    cnt = h["count"].to_numpy(dtype=float)
    total = cnt.sum()
    if total <= 0:
        return np.array([]), np.array([])
    nz = np.flatnonzero(cnt > 0)
    a, b = int(nz[0]), int(nz[-1])
    lo = h["lo_ns"].to_numpy(dtype=float)
    hi = h["hi_ns"].to_numpy(dtype=float)
    x = np.concatenate([[lo[a]], hi[a : b + 1]]) / 1000.0
    f = np.concatenate([[0.0], np.cumsum(cnt[a : b + 1]) / total])
    return x, f


def pooled_percentiles(res: Results, qs: Sequence[float] = (50, 99, 99.9)) -> pd.DataFrame:
    """Per sweep point and op (read, write): request count and pooled percentiles (us).

    Columns: ``point``, ``label``, ``op``, ``requests``, then ``p50_us``,
    ``p99_us``, ``p99.9_us`` ... for the requested ``qs``.
    """
    pts = res.points()
    rows = []
    for p in pts.index:
        ids = res.run_ids(p)
        for op in ("read", "write"):
            h = pooled_histogram(res.hist, ids, op)
            vals = hist_percentile(h, list(qs))
            row = {"point": p, "label": pts.loc[p, "label"], "op": op, "requests": int(h["count"].sum())}
            row.update({f"p{q:g}_us": float(v) for q, v in zip(qs, vals)})
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- queueing formulas


def mm1_mean_latency(service_s: float, arrivals_per_s: float) -> float:
    """M/M/1 mean sojourn time (s): ``W = 1 / (mu - lambda)``, ``mu = 1 / S``; ``inf`` when ``rho >= 1``."""
    mu = 1.0 / service_s
    return math.inf if arrivals_per_s >= mu else 1.0 / (mu - arrivals_per_s)


def md1_mean_latency(service_s: float, arrivals_per_s: float) -> float:
    """M/D/1 mean sojourn time (s), Pollaczek-Khinchine: ``W = S + rho S / (2 (1 - rho))``."""
    rho = arrivals_per_s * service_s
    return math.inf if rho >= 1 else service_s + rho * service_s / (2 * (1 - rho))
