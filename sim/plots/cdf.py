"""Figure (a): the guest latency CDF of each sweep point, reads and writes side by side.

Each curve pools the latency histograms of a point's replications
(:func:`sim.analysis.pooled_histogram`) over the backup window; the latency
axis is logarithmic because latencies span decades (a 4 KiB read in a few
hundred microseconds, a write behind a copy-before-write to a hard disk in
milliseconds).  By default the fraction axis is a logit scale, so the median
and the p99/p99.9 tail are both readable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

from .. import analysis
from . import style

__all__ = ["latency_cdf"]

_LOGIT_TICKS = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999]
_LOGIT_LIM = (0.004, 0.99995)


def latency_cdf(res: analysis.Results, points: Sequence[int] | None = None, tail: bool = True) -> Figure:
    """Guest latency CDF per sweep point; panels for reads and writes (log latency axis).

    ``points`` selects sweep points (default: all).  With ``tail`` the fraction
    axis is a logit scale (ticks at 1 %, 10 %, 50 %, 90 %, 99 %, 99.9 %,
    99.99 %); with ``tail=False`` it is linear.
    """
    pts = res.points()
    sel = list(pts.index if points is None else points)
    styles = style.point_styles(pts)
    with style.context():
        fig, panel, axes = style.new_figure(9.0, 4.8, nrows=1, ncols=2, sharey=True)
        for ax, op in zip(axes, ("read", "write")):
            any_data = False
            for p in sel:
                x, f = analysis.hist_cdf(analysis.pooled_histogram(res.hist, res.run_ids(p), op))
                if x.size == 0:
                    continue
                any_data = True
                if tail:  # the logit scale cannot show 0 and 1: pin them to the axis ends
                    f = np.clip(f, *_LOGIT_LIM)
                st = styles[p]
                ax.plot(x, f, color=st["color"], linestyle=st["linestyle"], label=str(pts.loc[p, "label"]))
            ax.set_title(f"guest {op}s")
            if any_data:
                ax.set_xlabel(f"{op} latency (µs, log scale)")
                style.log_axis(ax, "x")
            else:
                ax.set_xlabel(f"{op} latency (µs)")
                ax.set_xticks([])
                ax.text(
                    0.5,
                    0.5,
                    f"no guest {op}s in the backup window",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    color="0.4",
                )
        if tail:
            axes[0].set_yscale("logit")
            axes[0].set_ylim(*_LOGIT_LIM)
            axes[0].yaxis.set_major_locator(FixedLocator(_LOGIT_TICKS))
            axes[0].yaxis.set_minor_locator(NullLocator())
            axes[0].yaxis.set_minor_formatter(NullFormatter())
            axes[0].set_yticklabels([_pct_label(t) for t in _LOGIT_TICKS])
            axes[0].set_ylabel("requests with latency ≤ x (logit scale)")
        else:
            axes[0].set_ylim(0, 1.01)
            axes[0].set_ylabel("fraction of requests with latency ≤ x")
        handles, labels = axes[0].get_legend_handles_labels()
        if not handles:
            handles, labels = axes[1].get_legend_handles_labels()
        if handles:
            panel.legend(
                handles,
                labels,
                loc="outside lower center",
                ncols=min(3, len(handles)),
                title="sweep point",
                frameon=False,
            )
        panel.suptitle(f"Guest latency during the backup ({res.name}; replications pooled)")
        style.stamp(fig, style.caption_text(res.name, res.scenario_hash))
    return fig


def _pct_label(t: float) -> str:
    s = f"{100 * t:.4f}".rstrip("0").rstrip(".")
    return f"{s}%"
