"""Figure (c): one run over time - guest latency, guest IOPS and backup progress.

Three panels share the time axis (per timeline window, 100 ms by default):
guest p50 and p99 latency of the requests completed in the window (log
scale) with the baseline's p99 for reference; guest IOPS; and the backup's
progress as a percentage of the disk.  Dotted vertical lines mark the
backup's start and end (``backup_start_s`` / ``backup_end_s`` of the run).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import analysis
from ..params.units import parse_size
from . import style

__all__ = ["timeline", "pick_run"]


def pick_run(res: analysis.Results, point: int | None = None, replication: int = 0) -> str:
    """The run id of ``replication`` (or the first one) of sweep ``point`` (default: the first point)."""
    runs = res.runs
    if point is None:
        point = int(runs["point"].min())
    sub = runs[runs["point"] == point].sort_values("replication")
    if sub.empty:
        raise KeyError(f"no runs for sweep point {point}")
    exact = sub[sub["replication"] == replication]
    return str((exact if len(exact) else sub)["run_id"].iloc[0])


def timeline(
    res: analysis.Results, run_id: str | None = None, point: int | None = None, replication: int = 0
) -> Figure:
    """The timeline of one run: ``run_id``, or ``replication`` of sweep ``point``."""
    if run_id is None:
        run_id = pick_run(res, point, replication)
    row = res.runs[res.runs["run_id"] == run_id]
    if row.empty:
        raise KeyError(f"run {run_id!r} is not in these results")
    row = row.iloc[0]
    tl = res.timeline[res.timeline["run_id"] == run_id].sort_values("t_s")
    label = res.label(int(row["point"]))
    color = style.point_styles(res.points())[int(row["point"])]["color"]
    window = float(np.median(np.diff(tl["t_s"]))) if len(tl) > 1 else 0.1
    t0 = tl["t_s"].to_numpy(float)
    end_of_run = float(row.get("sim_time_s", np.nan))
    last = t0[-1] + window if len(t0) else 0.0
    if np.isfinite(end_of_run) and len(t0) and t0[-1] < end_of_run < last:
        last = end_of_run  # the last window is cut short by the end of the run
    edges = np.append(t0, last) if len(t0) else t0

    def steps(col: str) -> np.ndarray:  # a per-window value held over its window
        v = tl[col].to_numpy(float)
        return np.append(v, v[-1]) if len(v) else v

    with style.context():
        fig, panel, (ax_l, ax_i, ax_b) = style.new_figure(
            8.0, 7.0, nrows=3, ncols=1, sharex=True, gridspec_kw={"height_ratios": [1.5, 1, 1]}
        )
        ax_l.step(edges, steps("guest_p99_us"), where="post", color=color, label="guest p99")
        ax_l.step(edges, steps("guest_p50_us"), where="post", color=color, linestyle=":", label="guest p50")
        base = row.get("baseline_guest_p99_us", np.nan)
        if np.isfinite(base):
            ax_l.axhline(base, color="0.45", linewidth=1, linestyle="--", label="baseline p99 (no backup)")
        lat = tl[["guest_p50_us", "guest_p99_us"]].to_numpy(float)
        if (np.isfinite(lat) & (lat > 0)).any() or (np.isfinite(base) and base > 0):
            style.log_axis(ax_l, "y")
            ax_l.set_ylabel("latency (µs, log)")
        else:  # nothing to put on a log scale: say why the panel is empty
            ax_l.text(
                0.5,
                0.5,
                "no guest requests completed in this run",
                transform=ax_l.transAxes,
                ha="center",
                va="center",
                color="0.4",
            )
            ax_l.set_yticks([])
            ax_l.set_ylabel("latency (µs)")
        ax_i.step(edges, steps("guest_iops"), where="post", color=color)
        ax_i.set_ylabel("guest IOPS")
        ax_i.set_ylim(bottom=0)
        ax_i.yaxis.set_major_formatter(style.thousands)
        total = _disk_bytes(res, run_id, row)
        # backup_bytes counts the copies finished by the end of each window
        copied = np.concatenate([[0.0], tl["backup_bytes"].to_numpy(float)])
        if total:
            ax_b.plot(edges, 100 * copied / total, color=color)
            ax_b.set_ylabel("backup copied (% of disk)")
            ax_b.set_ylim(0, 105)
        else:
            ax_b.plot(edges, copied / 2**20, color=color)
            ax_b.set_ylabel("backup copied (MiB)")
        ax_b.set_xlabel("simulated time (s)")
        start, end = float(row["backup_start_s"]), float(row["backup_end_s"])
        for ax in (ax_l, ax_i, ax_b):
            ax.axvline(start, color="0.2", linestyle=":", linewidth=1)
            ax.axvline(end, color="0.2", linestyle="-.", linewidth=1)
        ax_l.plot([], [], color="0.2", linestyle=":", linewidth=1, label=f"backup start ({start:.2f} s)")
        ax_l.plot(
            [], [], color="0.2", linestyle="-.", linewidth=1, label=f"backup end ({end:.2f} s, {row.get('status', '')})"
        )
        ax_l.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        panel.suptitle(f"One run over time: {label} (replication {int(row['replication'])})")
        style.stamp(fig, style.caption_text(res.name, res.scenario_hash, f"run {run_id}"))
    return fig


def _disk_bytes(res: analysis.Results, run_id: str, row) -> int:
    ds = res.setting(run_id, "backup.disk_size")  # a mode may raise the cluster size
    try:
        return parse_size(ds) if ds is not None else 0
    except (TypeError, ValueError):
        return 0
