"""Figure (d): what copy-before-write costs the guest, per sweep point.

Left: the share of guest writes (in the backup window) that waited for a
copy-before-write.  Right: how long those writes waited extra, mean and p99
(run columns ``cow_delayed_share``, ``cow_extra_mean_us``,
``cow_extra_p99_us``).  Bars are means over replications, whiskers their 95 %
confidence intervals (:func:`sim.analysis.aggregate`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .. import analysis
from . import style

__all__ = ["cow_cost"]


def cow_cost(res: analysis.Results, points: Sequence[int] | None = None) -> Figure:
    """Horizontal bars per sweep point: share of writes delayed by COW, and their extra latency (µs)."""
    agg = analysis.aggregate(res.runs, ["cow_delayed_share", "cow_extra_mean_us", "cow_extra_p99_us"])
    if points is not None:
        agg = agg.loc[list(points)]
    styles = style.point_styles(agg)
    y = np.arange(len(agg))[::-1]
    colors = [styles[p]["color"] for p in agg.index]
    height = max(3.2, 0.42 * len(agg) + 2.0)
    with style.context():
        fig, panel, (ax_s, ax_l) = style.new_figure(9.0, height, nrows=1, ncols=2, sharey=True)
        share = 100 * agg["cow_delayed_share"].to_numpy(float)
        ax_s.barh(
            y, share, color=colors, xerr=_xerr(agg, "cow_delayed_share", 100), capsize=3, error_kw={"elinewidth": 1}
        )
        ax_s.set_xlabel("guest writes delayed by copy-before-write (%)")
        ax_s.set_yticks(y, agg["label"].astype(str).tolist())
        reach = 100 * agg[["cow_delayed_share", "cow_delayed_share_hi"]].to_numpy(float)
        ax_s.set_xlim(0, min(100.0, max(5.0, float(np.nanmax(reach, initial=0.0)) * 1.05)))
        h = 0.38
        ax_l.barh(
            y + h / 2,
            agg["cow_extra_mean_us"].to_numpy(float),
            height=h,
            color=colors,
            xerr=_xerr(agg, "cow_extra_mean_us"),
            capsize=3,
            error_kw={"elinewidth": 1},
        )
        ax_l.barh(
            y - h / 2,
            agg["cow_extra_p99_us"].to_numpy(float),
            height=h,
            color=colors,
            alpha=0.45,
            hatch="///",
            edgecolor=colors,
            xerr=_xerr(agg, "cow_extra_p99_us"),
            capsize=3,
            error_kw={"elinewidth": 1},
        )
        ax_l.set_xlabel("extra latency of a delayed write (µs)")
        top = np.nanmax(
            agg[["cow_extra_mean_us", "cow_extra_p99_us", "cow_extra_p99_us_hi"]].to_numpy(float), initial=0.0
        )
        ax_l.set_xlim(0, max(1.0, float(top) * 1.1))
        ax_l.legend(
            handles=[
                Patch(facecolor="0.4", label="mean"),
                Patch(facecolor="0.4", alpha=0.45, hatch="///", edgecolor="0.4", label="p99"),
            ],
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncols=2,
            frameon=False,
        )
        for ax in (ax_s, ax_l):
            ax.grid(axis="y", visible=False)
            ax.xaxis.set_major_formatter(style.thousands)
        panel.suptitle(f"Copy-before-write cost to the guest ({res.name}; mean and 95% CI over replications)")
        style.stamp(fig, style.caption_text(res.name, res.scenario_hash))
    return fig


def _xerr(agg, m: str, scale: float = 1.0) -> np.ndarray | None:
    v = agg[m].to_numpy(float)
    lo, hi = agg[f"{m}_lo"].to_numpy(float), agg[f"{m}_hi"].to_numpy(float)
    if not (np.isfinite(lo).any() and np.isfinite(hi).any()):
        return None
    err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
    return scale * np.nan_to_num(err, nan=0.0)
