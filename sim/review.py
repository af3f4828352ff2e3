"""The design-review page of a results folder: ``report.md`` and ``figures/*.png``.

(The short summary ``backupsim run`` prints on the console is :mod:`sim.console`.)

:func:`write_report` reads a results folder (:func:`sim.analysis.load`) and
writes, next to its tables:

* ``figures/tradeoff.png``, ``figures/latency_cdf.png``, ``figures/cow.png``
  and ``figures/timeline-pNN.png`` (one run of sweep point ``NN``), each
  captioned with the scenario hash;
* ``report.md``: the question, the setup, tables per sweep point (means with
  95 % Student-t intervals over replications, see :mod:`sim.analysis`), the
  figures, and a citation line with the backupsim version, git commit,
  scenario hash and the command that reproduces the batch.

Every file is written atomically (temporary file, then rename), figures
first, so a reader never finds a report pointing at a missing figure.  The
output depends only on the results folder: the only times in ``report.md``
are the batch's own start and end from ``manifest.json``.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from . import analysis, plots
from .files import atomic_write
from .params.units import format_size, format_time, parse_time
from .review_modes import QUESTION_TODAY, modern_batch, modes_section
from .review_tables import ci as _ci
from .review_tables import num as _num
from .review_tables import one_line as _one_line
from .review_tables import ratio as _ratio
from .review_tables import table as _table
from .scenario import merged_sweep
from .store import ResultStore, generation

__all__ = ["write_report", "render_report", "QUESTION"]

#: The question (``docs/model.md`` section 1), as the report states it.
QUESTION = (
    "A live backup of a running VM's disk (QEMU's backup block job, as proposed in the 2013 patch) "
    "copies every cluster of the disk to a backup target while the guest keeps reading and writing; "
    "a guest write to a cluster not yet copied must first copy the old cluster out "
    "(copy-before-write). The patch's reviewers argued about how the background copy should be "
    "paced so that the guest does not suffer - a fixed 1 µs sleep per cluster (the patch), no delay "
    "(what QEMU merged), a rate limit, copying only while the guest is idle, a hybrid of those two, "
    "or an idle I/O class - and nobody could measure it. This report measures it: for each pacing "
    "policy, the guest's latency percentiles against the same guest without a backup (same seed), "
    "and the backup's duration."
)

#: More sweep points than this: the CDF and the timelines show a selection (see ``_shown_points``).
MAX_POINTS_SHOWN = 12


def write_report(
    results_dir: str | Path, *, lock: bool = True, shown_as: str | Path | None = None, jobs: int | None = None
) -> Path:
    """Write ``report.md`` and ``figures/*.png`` into ``results_dir``; returns the report's path.

    In a results folder the report goes into its current set (``current/``,
    :mod:`sim.store`), beside the tables it describes, under the folder's lock
    (``lock=False``: the caller holds it, or ``results_dir`` is a staging
    folder).  ``shown_as``: the folder's name in the report (default
    ``results_dir``).  Raises :class:`FileNotFoundError` when the folder has no
    ``runs.parquet``, :class:`sim.store.ResultsError` when a batch is writing it
    or a file is damaged.  ``jobs``: processes that render the figures
    (default: the machine's cores; the figures are the same files whatever
    the number, :func:`_render`).
    """
    root = Path(results_dir)
    if not lock:
        return _write_report(root, root, shown_as, jobs)
    if not root.is_dir() or not (root / "runs.parquet").exists():
        raise FileNotFoundError(f"{root}: no runs.parquet here; run `backupsim run` first")
    with ResultStore(root).locked(0, "backupsim report", hint="its report is written when it finishes"):
        return _write_report(generation(root), root, shown_as, jobs)  # under the lock `current` stays put


def _write_report(where: Path, root: Path, shown_as: str | Path | None, jobs: int | None = None) -> Path:
    res = analysis.load(root)
    res.path = Path(shown_as) if shown_as is not None else root
    figures = _write_figures(res, where / "figures", jobs)
    text = render_report(res, figures)
    atomic_write(where / "report.md", lambda p: p.write_text(text, encoding="utf-8"))
    return root / "report.md"


# ---------------------------------------------------------------- figures


def _shown_points(agg: pd.DataFrame) -> tuple[list[int], bool]:
    """The points for per-point figures; ``True`` when they are a selection.

    Up to :data:`MAX_POINTS_SHOWN` points: all of them; beyond, the Pareto-front
    points and the first point of every policy not on the front, in point order,
    at most :data:`MAX_POINTS_SHOWN`.
    """
    if len(agg) <= MAX_POINTS_SHOWN:
        return [int(p) for p in agg.index], False
    chosen = [int(p) for p in agg.index[agg["pareto"]]]
    if "policy.name" in agg.columns:
        have = set(agg.loc[chosen, "policy.name"])
        for p, name in agg["policy.name"].items():
            if name not in have:
                chosen.append(int(p))
                have.add(name)
    return sorted(chosen)[:MAX_POINTS_SHOWN], True


def _write_figures(res: analysis.Results, figdir: Path, jobs: int | None = None) -> list[tuple[str, str]]:
    """Render and save every figure; returns ``(file name, caption)`` in report order."""
    todo = _figures(res)
    _render(todo, figdir, jobs)
    keep = {name for name, _, _ in todo}
    for old in sorted(figdir.glob("timeline-p*.png")):
        if old.name not in keep:  # the timeline of a point no longer shown
            old.unlink()
    return [(name, caption) for name, caption, _ in todo]


def _figures(res: analysis.Results) -> list[tuple[str, str, Callable[[], Figure]]]:
    """The report's figures, in report order: ``(file name, caption, make)``; they depend only on ``res``."""
    agg = analysis.aggregate(res.runs)
    shown, limited = _shown_points(agg)
    n = int(agg["runs"].max()) if len(agg) else 0
    h = res.scenario_hash
    reps = f"{n} replication{'s' if n != 1 else ''}"
    todo: list[tuple[str, str, Callable[[], Figure]]] = [
        (
            "tradeoff.png",
            f"Backup duration against guest p99 latency slowdown (p99 with the backup over p99 of the same guest "
            f"without it), per sweep point: mean over {reps} (geometric for the slowdown) with 95% confidence "
            f"intervals; the dashed staircase is the Pareto front (both minimised, completed points only); "
            f"hollow markers: not every run completed. Scenario hash {h}.",
            lambda: plots.tradeoff(res),
        )
    ]
    if not res.hist.empty:
        which = "the Pareto-front points and one point of every other policy" if limited else "each sweep point"
        todo.append(
            (
                "latency_cdf.png",
                f"Guest latency CDF during the backup for {which}, reads and writes apart, the {reps} of a point "
                f"pooled (log-binned histograms, 20 bins per decade). Scenario hash {h}.",
                lambda: plots.latency_cdf(res, shown),
            )
        )
    if "cow_delayed_share" in res.runs.columns:
        todo.append(
            (
                "cow.png",
                f"Copy-before-write cost: share of guest writes in the backup window that waited for a "
                f"copy-before-write, and the extra latency of those writes (mean and p99); mean over {reps} with "
                f"95% confidence intervals. Scenario hash {h}.",
                lambda: plots.cow_cost(res),
            )
        )
    if not res.timeline.empty:
        for p in shown:
            run_id = plots.pick_run(res, p)
            window = res.setting(run_id, "run.timeline_window")
            per = f"per {_fmt_time(window)} window" if isinstance(window, int) else "per timeline window"
            todo.append(
                (
                    f"timeline-p{p:02d}.png",
                    f"One run over time ({res.label(p)}, replication 0, run {run_id}): guest p50/p99 latency and "
                    f"IOPS {per}, and backup progress; the dotted and dash-dotted lines mark the backup's start "
                    f"and end. Scenario hash {h}.",
                    functools.partial(plots.timeline, res, point=p),
                )
            )
    return todo


def _render(todo: list[tuple[str, str, Callable[[], Figure]]], figdir: Path, jobs: int | None) -> None:
    """Draw and save the figures ``todo`` (from :func:`_figures`) into ``figdir``, on ``jobs`` processes.

    Matplotlib draws one figure at a time in one process, and the default
    experiment's fifteen take about 20 s of CPU: on more than one core, forked
    workers draw them (each with the parent's ``todo``, inherited rather than
    pickled or read again) and each saves its figures atomically.  A figure is
    the same file whichever process draws it; ``tests/test_review.py``
    compares the two ways.  Where fork is not available (Windows), or with one
    job, they are drawn here.  ``jobs`` None: as many as the batch's default,
    the machine's cores.
    """
    jobs = min(jobs or os.cpu_count() or 1, len(todo))
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for name, _, make in todo:
            plots.save(make(), figdir / name)
        return
    with ProcessPoolExecutor(jobs, multiprocessing.get_context("fork"), _worker_init, (todo, figdir)) as pool:
        for _ in pool.map(_save_figure, range(len(todo))):  # in order; re-raises a worker's error
            pass


#: In a worker of :func:`_render`: the figures to draw and their folder, from the parent's memory.
_worker: dict[str, Any] = {}


def _worker_init(todo: list[tuple[str, str, Callable[[], Figure]]], figdir: Path) -> None:
    _worker.update(todo=todo, figdir=figdir)


def _save_figure(i: int) -> None:
    name, _, make = _worker["todo"][i]
    plots.save(make(), _worker["figdir"] / name)


# ---------------------------------------------------------------- text


def render_report(res: analysis.Results, figures: Sequence[tuple[str, str]] = ()) -> str:
    """The Markdown text of the report (``figures``: ``(file name, caption)`` under ``figures/``)."""
    mf = res.manifest
    scn = mf.get("scenario", {})
    agg = analysis.aggregate(res.runs)
    n = int(agg["runs"].max()) if len(agg) else 0
    lines = [f"# Backup pacing: {res.name}", ""]
    if scn.get("description"):
        lines += [_one_line(scn["description"]), ""]
    lines += ["## The question", "", QUESTION, ""]
    if modern_batch(agg):
        lines += [QUESTION_TODAY, ""]
    lines += ["## Setup", "", setup_paragraph(res), ""]
    lines += ["## Results", ""]
    lines += [
        f"Means over the {n} replication{'s' if n != 1 else ''} of each sweep point with 95% Student-t "
        "confidence intervals in brackets (slowdown: geometric mean, interval on the log scale; "
        "no interval with one replication). Latency percentiles are over the requests submitted "
        "during the backup; the baseline is the same guest, same seed, without a backup. A run is a "
        "good backup when it is both consistent (every cluster on the target holds the disk's data as "
        "at the backup's start, and no backup read overlapped a guest write of its cluster) and "
        "complete (every cluster is on the target, or was skipped as unallocated).",
        "",
    ]
    lines += ["**Backup and guest latency**", ""]
    lines += _table(
        [
            "sweep point",
            "runs",
            "status",
            "backup duration (s)",
            "guest p50 (µs)",
            "guest p99 (µs)",
            "guest p99.9 (µs)",
            "baseline p99 (µs)",
            "p99 slowdown (×)",
            "good backup",
        ],
        [
            [
                row["label"],
                str(int(row["runs"])),
                row["status"],
                _ci(row, "backup_duration_s"),
                _ci(row, "guest_p50_us"),
                _ci(row, "guest_p99_us"),
                _ci(row, "guest_p999_us"),
                _ci(row, "baseline_guest_p99_us"),
                _ci(row, "slowdown_p99"),
                _good_backup(res, p, row),
            ]
            for p, row in agg.iterrows()
        ],
    )
    lines += ["", "**Copy-before-write and event loop**", ""]
    lines += _table(
        [
            "sweep point",
            "copy-before-writes",
            "guest writes delayed (%)",
            "extra latency mean (µs)",
            "extra latency p99 (µs)",
            "loop wait max (µs)",
            "backup throughput (MiB/s)",
        ],
        [
            [
                row["label"],
                _ci(row, "cow_clusters"),
                _ci(row, "cow_delayed_share", 100.0),
                _ci(row, "cow_extra_mean_us"),
                _ci(row, "cow_extra_p99_us"),
                _ci(row, "loop_wait_max_us"),
                _ci(row, "backup_throughput_mib_s"),
            ]
            for _, row in agg.iterrows()
        ],
    )
    if not res.hist.empty:
        pooled = analysis.pooled_percentiles(res, (50, 99, 99.9))
        lines += [
            "",
            "**Guest latency, replications pooled** (from the latency histograms; exact to one log bin, about 12%)",
            "",
        ]
        lines += _table(
            ["sweep point", "op", "requests", "p50 (µs)", "p99 (µs)", "p99.9 (µs)"],
            [
                [
                    r["label"],
                    r["op"],
                    f"{int(r['requests']):,}",
                    _num(r["p50_us"]),
                    _num(r["p99_us"]),
                    _num(r["p99.9_us"]),
                ]
                for _, r in pooled.iterrows()
            ],
        )
    lines += timer_phase_section(res, agg)
    lines += modes_section(res, agg)
    front = agg[agg["pareto"]].sort_values("backup_duration_s")
    lines += [""]
    if len(front):
        lines += [
            "Pareto front of backup duration vs guest p99 slowdown, among the policies and backup jobs of each "
            "setting (no other completed point of that setting is at least as good on both and "
            "better on one):",
            "",
        ]
        for setting, grp in front.groupby("setting", sort=False):
            lines += [f"- {setting + ': ' if setting else ''}" + "; ".join(grp["label"].astype(str))]
    else:
        lines += ["No sweep point has every run completed, so there is no Pareto front."]
    lines += [""]
    if figures:
        lines += ["## Figures", ""]
        for i, (name, caption) in enumerate(figures, 1):
            lines += [f"![Figure {i}: {name}](figures/{name})", "", f"*Figure {i}.* {caption}", ""]
    lines += ["## Reproduce and cite", "", citation(res), ""]
    return "\n".join(lines)


#: Why the model's per-iteration cost has the value it has (see :class:`sim.config.LoopConfig`).
ITERATION_COST_WHY = (
    "the CPU that QEMU 1.4's `main_loop_wait` spends after dispatching the ready handlers and before "
    "it checks the timers (the rest of the glib dispatch, `qemu_iohandler_poll`, `slirp_pollfds_poll`, "
    "the clock reads of `qemu_run_all_timers`) plus what is left of the coroutine's step after it armed "
    "its timer; no published measurement exists, so the value is an estimate of the same order as the "
    "model's per-handler costs, and the table shows how the answer depends on it"
)


def timer_phase_section(res: analysis.Results, agg: pd.DataFrame) -> list[str]:
    """ "Does the patch's 1 µs sleep help?": the 2013 loop, per ``loop.iteration_cost``.

    Shown when the batch has ``fixed-sleep`` and ``none`` points in the 2013
    loop at two or more iteration costs (``scenarios/seed-review.toml``).
    Each row pairs the two policies replication by replication
    (:func:`sim.analysis.paired_difference`).
    """
    if "policy.name" not in agg.columns:
        return []
    by_cost: dict[int, dict[str, int]] = {}
    for p, row in agg.iterrows():
        name = row["policy.name"]
        rid = res.run_ids(int(p))[0]
        if name not in ("none", "fixed-sleep") or str(res.setting(rid, "loop.era")) != "2013":
            continue
        sleep = res.setting(rid, "policy.sleep")
        if name == "fixed-sleep" and _as_ns(sleep) != 1_000:
            continue
        cost = _as_ns(res.setting(rid, "loop.iteration_cost"))
        if cost is None:
            continue
        by_cost.setdefault(cost, {}).setdefault(name, int(p))
    costs = sorted(c for c, d in by_cost.items() if len(d) == 2)
    if len(costs) < 2:
        return []
    base = _as_ns((res.manifest.get("scenario", {}).get("base", {}).get("loop") or {}).get("iteration_cost"))
    rows = []
    for c in costs:
        none, sleep = by_cost[c]["none"], by_cost[c]["fixed-sleep"]
        dur = analysis.paired_difference(res.runs, sleep, none, "backup_duration_s", ratio=True)
        p99 = analysis.paired_difference(res.runs, sleep, none, "guest_p99_us", ratio=True)
        mark = " (assumed)" if c == base else ""
        rows.append(
            [
                _fmt_time(c) + mark,
                _ci(agg.loc[none], "backup_duration_s"),
                _ci(agg.loc[sleep], "backup_duration_s"),
                _ratio(dur),
                _ci(agg.loc[none], "guest_p99_us"),
                _ci(agg.loc[sleep], "guest_p99_us"),
                _ratio(p99),
            ]
        )
    lines = [
        "",
        "**Does the patch's 1 µs sleep help? The 2013 loop's timer phase**",
        "",
        "In the 2013 loop a timer waits for the host alarm's 250 µs floor only when the loop reaches "
        "its timer check before the timer's deadline. QEMU of 2013 checked the timers after dispatching "
        "the ready handlers, so a 1 µs sleep armed by a ready handler (the job re-entered by its copy's "
        "completion) is already due at that check when the CPU time between the two "
        "(`loop.iteration_cost`) is at least 1 µs; a sleep armed from the timer phase itself (the job "
        "skipping a cluster that copy-before-write already copied) is not checked again in that "
        "iteration and waits for the alarm whatever that cost. "
        f"This batch assumes {_fmt_time(base) if base is not None else 'the default'}: "
        f"{ITERATION_COST_WHY}. Ratios are fixed-sleep over none, paired by replication, "
        "geometric mean with 95% interval.",
        "",
    ]
    lines += _table(
        [
            "iteration cost",
            "backup s, none",
            "backup s, 1 µs sleep",
            "duration ratio",
            "guest p99 µs, none",
            "guest p99 µs, 1 µs sleep",
            "p99 ratio",
        ],
        rows,
    )
    return lines


def _as_ns(v: Any) -> int | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
        return int(v)
    if isinstance(v, str):
        try:
            return parse_time(v)
        except ValueError:
            return None
    return None


def citation(res: analysis.Results) -> str:
    """The citation line: version, commit, scenario hash, seed, batch times, reproducing command."""
    mf = res.manifest
    version = mf.get("versions", {}).get("backupsim", "unknown")
    commit = mf.get("git_commit", "unknown")
    command = mf.get("command") or ""
    if not command:
        src = mf.get("scenario_file") or "<scenario file>"
        where = f" --out {res.path}" if res.path is not None else ""
        command = f"backupsim run {src}{where}"
        note = (
            " (no command was recorded, the batch was run from Python: this command reproduces it when "
            f"the scenario file still resolves to hash {res.scenario_hash} with the same replications)"
        )
    else:
        note = ""
    when = ""
    if mf.get("started") and mf.get("finished"):
        when = f" Batch of {mf.get('runs', len(res.runs))} runs, {mf['started']} to {mf['finished']}."
    return (
        f"backupsim {version}, git commit `{commit}`, scenario `{res.name}` hash `{res.scenario_hash}`, "
        f"root seed {mf.get('root_seed', 'unknown')}.{when} Reproduce with `{command}`{note}."
    )


class _Setup:
    """The resolved scenario of a manifest: base values, swept values, and which keys were described."""

    def __init__(self, scenario: dict):
        self.base = scenario.get("base", {})
        self.sweep = merged_sweep(scenario.get("sweep", {}))
        self.described: set[str] = set()

    def value(self, key: str) -> Any:
        node: Any = self.base
        for part in key.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def swept(self, key: str, fmt: Callable[[Any], str] = str) -> list[str] | None:
        """The formatted values of a swept key (or of a key inside a swept table), else ``None``."""
        for k, values in self.sweep.items():
            if k == key:
                self.described.add(k)
                return [fmt(v) for v in values]
            if key.startswith(k + ".") and isinstance(values, list):
                vs = [v.get(key[len(k) + 1 :]) for v in values if isinstance(v, dict)]
                if any(v is not None for v in vs):
                    self.described.add(k)
                    return ["-" if v is None else fmt(v) for v in vs]
        return None

    def show(self, key: str, fmt: Callable[[Any], str] = str) -> str:
        """``value`` or ``a, b and c (swept)``."""
        vs = self.swept(key, fmt)
        if vs is None:
            return fmt(self.value(key))
        vs = list(dict.fromkeys(vs))
        return (", ".join(vs[:-1]) + " and " + vs[-1] if len(vs) > 1 else vs[0]) + " (swept)"


def setup_paragraph(res: analysis.Results) -> str:
    """One paragraph: devices, guest, backup size and cluster, loop era(s), policies, replications."""
    scn = res.manifest.get("scenario", {})
    st = _Setup(scn)
    parts = [
        f"Source disk `{st.show('disk.profile')}` (queue depth {st.show('disk.queue_depth')}), backup "
        f"target `{st.show('target.profile')}` (queue depth {st.show('target.queue_depth')})."
    ]
    parts.append(f"Guest: {_workload_text(st)}.")
    ds, cs = st.value("backup.disk_size"), st.value("backup.cluster_size")
    fixed = all(st.swept(k) is None for k in ("backup.disk_size", "backup.cluster_size", "backup.mode"))
    clusters = f" ({ds // cs:,} clusters)" if fixed and isinstance(ds, int) and isinstance(cs, int) else ""
    serialize = st.value("block.serialize_overlaps")
    on_off = "on" if serialize in (True, None) else "off"
    if st.swept("block.serialize_overlaps") is not None:
        on_off = st.show("block.serialize_overlaps")
    parts.append(
        f"Backup: mode `{st.show('backup.mode')}`, {st.show('backup.disk_size', _fmt_size)} disk in "
        f"{st.show('backup.cluster_size', _fmt_size)} clusters{clusters}"
        f"{' (block-copy raises it to at least 64 KiB, Proxmox to 4 MiB for PBS)' if not fixed else ''}, starting "
        f"{st.show('backup.start', _fmt_time)} into the run (the guest warms up first); request "
        f"serialization {on_off}."
    )
    parts.append(
        f"Event loop era: {st.show('loop.era')}; QEMU's timer floor is 250 µs in the 2013 loop and "
        f"none in the modern one."
    )
    if isinstance(st.sweep.get("policy"), list):
        st.described.add("policy")
        pols = "; ".join(
            analysis.point_label({f"policy.{k}": v for k, v in d.items()})
            for d in st.sweep["policy"]
            if isinstance(d, dict)
        )
        parts.append(f"Policies (swept): {pols}.")
    elif st.swept("policy.name") is not None:
        parts.append(f"Policies: {st.show('policy.name')}.")
    else:
        pol = {f"policy.{k}": v for k, v in (st.value("policy") or {}).items()}
        parts.append(f"Policy: {analysis.point_label(pol)}.")
    others = [k for k in st.sweep if k not in st.described]
    if others:
        parts.append(
            "Also swept: " + "; ".join(f"`{k}` = " + ", ".join(str(v) for v in st.sweep[k]) for k in others) + "."
        )
    reps = scn.get("replications", "?")
    npts = len(res.points())
    cap = st.value("run.max_time")
    seed = res.manifest.get("root_seed", scn.get("root_seed", "?"))
    parts.append(
        f"{reps} replication{'s' if reps != 1 else ''} of each of the {npts} sweep "
        f"point{'s' if npts != 1 else ''} ({len(res.runs)} runs, root seed {seed}); replication r "
        f"of every point has the same seed, so every policy sees the same guest requests"
        + (
            f"; a run still going after {_fmt_time(cap)} of simulated time ends as `timeout`."
            if isinstance(cap, int)
            else "."
        )
    )
    return " ".join(parts)


def _workload_text(st: _Setup) -> str:
    """The guest workload in words (fio-like guests spelled out, others as key/value pairs)."""
    w = st.value("workload") or {}
    if isinstance(st.sweep.get("workload"), list):
        st.described.add("workload")
        return "swept: " + "; ".join(", ".join(f"{k}={v}" for k, v in d.items()) for d in st.sweep["workload"])
    kind = st.show("workload.kind")
    if kind == "none":
        return "none (an idle VM)"
    if kind == "fio":
        txt = (
            f"fio-like closed loop, {st.show('workload.rw')}, {st.show('workload.rwmixread')}% reads, "
            f"{st.show('workload.bs', _fmt_size)} blocks, iodepth {st.show('workload.iodepth')}"
        )
        if w.get("think_time") or st.swept("workload.think_time"):
            txt += f", think time {st.show('workload.think_time', _fmt_time)}"
        return txt
    from .config import describe_value
    from .params import WORKLOADS

    fields = WORKLOADS.get(kind).Config.model_fields if kind in WORKLOADS else {}

    def fmt(k):
        f = fields.get(k)
        return (lambda v: describe_value(v, f)) if f is not None else str

    rest = ", ".join(
        f"{k} {st.show('workload.' + k, fmt(k))}"
        for k, v in sorted(w.items())
        if k != "kind" and v not in (None, "", [])
    )
    return f"`{kind}`" + (f" ({rest})" if rest else "")


def _fmt_size(v: Any) -> str:
    return format_size(v) if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _fmt_time(v: Any) -> str:
    return format_time(v) if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _good_backup(res: analysis.Results, point: int, row: pd.Series) -> str:
    """``yes`` when every run is consistent and complete, else which runs are not and why."""
    if row["consistent"] and row.get("complete", True):
        return "yes"
    runs = res.runs[res.runs["point"] == point]
    why = []
    for col, word in (("consistent", "inconsistent"), ("complete", "incomplete")):
        if col in runs.columns:
            bad = int((~runs[col].astype(bool)).sum())
            if bad:
                why.append(f"{word} {bad} of {len(runs)}")
    return "no (" + ", ".join(why) + ")"
