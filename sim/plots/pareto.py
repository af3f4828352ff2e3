"""Figure (b): backup duration against guest p99 slowdown, one marker per sweep point.

Markers are the per-point means (:func:`sim.analysis.aggregate`: arithmetic
for the duration, geometric for the slowdown) with their confidence
intervals as error bars; the Pareto front (both axes minimised, completed
points only) is drawn as a staircase through the points on it.  An axis
switches to a log scale when its values span more than a factor of ten.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import analysis
from . import style

__all__ = ["tradeoff"]

X, Y = "backup_duration_s", "slowdown_p99"


def tradeoff(
    data: analysis.Results | pd.DataFrame,
    points: Sequence[int] | None = None,
    title: str | None = None,
    stamp: str | None = None,
) -> Figure:
    """Backup duration (s) vs guest p99 slowdown (x baseline) per sweep point.

    ``data`` is a :class:`sim.analysis.Results` or an already aggregated table
    (:func:`sim.analysis.aggregate`); ``points`` selects sweep points.
    ``stamp`` replaces the footer text (default: scenario name and hash).
    """
    if isinstance(data, analysis.Results):
        agg = analysis.aggregate(data.runs)
        name, h = data.name, data.scenario_hash
    else:
        agg, name, h = data, "in-process", "none"
    if points is not None:
        agg = agg.loc[list(points)]
    styles = style.point_styles(agg)
    rows = -(-(len(agg) + 2) // 2)  # legend rows (two columns)
    with style.context():
        fig, panel, ax = style.new_figure(7.5, 4.4 + 0.19 * rows)
        handles = []
        for p, row in agg.iterrows():
            st = styles[p]
            done = bool(row.get("completed", True))
            xerr = _err(row, X)
            yerr = _err(row, Y)
            ax.errorbar(
                [row[X]],
                [row[Y]],
                xerr=xerr,
                yerr=yerr,
                color=st["color"],
                marker=st["marker"],
                markersize=7,
                linestyle="none",
                capsize=3,
                elinewidth=1,
                markerfacecolor=st["color"] if done else "white",
                markeredgecolor=st["color"],
                markeredgewidth=1.5,
                zorder=3,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    color=st["color"],
                    marker=st["marker"],
                    linestyle="none",
                    markerfacecolor=st["color"] if done else "white",
                    label=str(row["label"]) + ("" if done else f" ({row.get('status', '')})"),
                )
            )
        front = agg[agg.get("pareto", pd.Series(False, index=agg.index)).astype(bool)].sort_values(X)
        if len(front):
            groups = front.groupby("setting", sort=False) if "setting" in front.columns else [("", front)]
            for _, grp in groups:  # one front per setting: policies compete within a setting
                xs, ys = grp[X].to_numpy(float), grp[Y].to_numpy(float)
                ax.step(xs, ys, where="post", color="0.25", linestyle="--", linewidth=1, zorder=2)
                ax.scatter(xs, ys, s=170, facecolors="none", edgecolors="0.25", linewidths=1, zorder=4)
            handles.append(
                Line2D(
                    [],
                    [],
                    color="0.25",
                    linestyle="--",
                    marker="o",
                    markerfacecolor="none",
                    markersize=11,
                    label="Pareto front (lower left is better)",
                )
            )
        for axis, m in (("x", X), ("y", Y)):
            _fit_axis(ax, axis, *(agg[c].to_numpy(float) for c in (m, f"{m}_lo", f"{m}_hi")))
        missing = [str(row["label"]) for _, row in agg.iterrows() if not (np.isfinite(row[Y]) and np.isfinite(row[X]))]
        if missing:  # no slowdown without guest requests (or no duration): say so rather than drop them
            text = (
                "no guest requests in the backup window, so no p99 slowdown to plot"
                if len(missing) == len(agg)
                else f"not plotted (no guest requests, so no p99 slowdown): {', '.join(missing[:6])}"
                + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
            )
            ax.text(
                0.5,
                0.5 if len(missing) == len(agg) else 0.98,
                text,
                transform=ax.transAxes,
                ha="center",
                va="center" if len(missing) == len(agg) else "top",
                color="0.4",
                wrap=True,
            )
            if len(missing) == len(agg):
                ax.set_yticks([])
        lo, hi = ax.get_ylim()
        if lo <= 1.0 <= hi:  # the no-slowdown reference, only where it does not squash the data
            ax.axhline(1.0, color="0.6", linewidth=0.8, zorder=1)
            handles.append(Line2D([], [], color="0.6", linewidth=0.8, label="no slowdown (1×)"))
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "linear":  # plain tick values, no "+6.5" offset
                axis.get_major_formatter().set_useOffset(False)
        ax.set_xlabel("backup duration (s)" + (", log scale" if ax.get_xscale() == "log" else ""))
        ax.set_ylabel(
            "guest p99 slowdown (× same guest, no backup)" + (", log scale" if ax.get_yscale() == "log" else "")
        )
        n = int(agg["runs"].max()) if "runs" in agg.columns and len(agg) else 0
        ax.set_title(
            title
            or f"Backup duration vs guest tail latency ({name}; mean of {n} replication{'s' if n != 1 else ''}, 95% CI)"
        )
        panel.legend(
            handles=handles, loc="outside lower center", ncols=2 if len(handles) > 3 else len(handles), frameon=False
        )
        style.stamp(fig, stamp or style.caption_text(name, h))
    return fig


def _err(row: pd.Series, m: str) -> np.ndarray | None:
    lo, hi, v = row.get(f"{m}_lo"), row.get(f"{m}_hi"), row[m]
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return np.array([[max(v - lo, 0.0)], [max(hi - v, 0.0)]])


def _fit_axis(ax, axis: str, means: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> None:
    """Scale and limits of one axis, fitted to the means.

    Log scale when the means span more than a factor of ten.  The limits hold
    every mean and the intervals as far as half the means' span beyond them
    (wide intervals from few replications run off the edge rather than
    squash the points); a linear axis of positive values does not go below 0.
    """
    log = bool(np.isfinite(means).any()) and np.nanmin(means) > 0 and np.nanmax(means) / np.nanmin(means) > 10
    ok = np.isfinite(means) & ((means > 0) if log else True)
    if not ok.any():
        return
    fwd = np.log10 if log else (lambda a: a)
    tm = fwd(means[ok])
    span = float(tm.max() - tm.min()) or (0.1 if log else abs(float(tm.max())) * 0.1 or 1.0)
    lo_c = lows[np.isfinite(lows) & ((lows > 0) if log else True)]
    hi_c = highs[np.isfinite(highs) & ((highs > 0) if log else True)]
    low = max(min([float(tm.min())] + list(fwd(lo_c))), float(tm.min()) - span / 2)
    high = min(max([float(tm.max())] + list(fwd(hi_c))), float(tm.max()) + span / 2)
    pad = 0.06 * (high - low) if high > low else span / 2  # one point and no interval: centre it
    low, high = low - pad, high + pad
    if not log and float(np.nanmin(means)) >= 0:
        low = max(low, 0.0)
    limits = (10**low, 10**high) if log else (low, high)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*limits)
    if log:
        style.log_axis(ax, axis)
