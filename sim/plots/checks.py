"""Figures of the model checks (``docs/model.md`` section 15, notebook 03).

* :func:`queueing_check` - simulated mean latency of the disk against the
  M/M/1 and M/D/1 formulas over a range of loads.
* :func:`rate_limit_check` - clusters copied over time by a rate-limited
  backup against QEMU's arithmetic (iotests 185/219).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import style

__all__ = ["queueing_check", "rate_limit_check"]

_MODEL_COLORS = {"M/M/1": style.OKABE_ITO["blue"], "M/D/1": style.OKABE_ITO["vermillion"]}


def queueing_check(table: pd.DataFrame, stamp: str = "") -> Figure:
    """Mean latency vs load: analytic curves, simulated means with 95 % intervals, relative error.

    ``table`` has one row per (``model``, ``rho``) with ``theory_us``,
    ``sim_us`` and optionally ``sim_lo_us`` / ``sim_hi_us``.
    """
    with style.context():
        fig, panel, (ax, ax_e) = style.new_figure(9.0, 4.4, nrows=1, ncols=2, gridspec_kw={"width_ratios": [1.6, 1]})
        for i, (model, sub) in enumerate(table.groupby("model", sort=True)):
            sub = sub.sort_values("rho")
            color = _MODEL_COLORS.get(str(model), style.SEQUENCE[i % len(style.SEQUENCE)])
            rho = sub["rho"].to_numpy(float)
            ax.plot(
                rho, sub["theory_us"], color=color, linestyle="-", linewidth=1.2, label=f"{model} formula", marker=None
            )
            err = None
            if {"sim_lo_us", "sim_hi_us"} <= set(sub.columns) and np.isfinite(sub["sim_lo_us"]).all():
                err = np.vstack([sub["sim_us"] - sub["sim_lo_us"], sub["sim_hi_us"] - sub["sim_us"]])
            ax.errorbar(
                rho,
                sub["sim_us"],
                yerr=err,
                color=color,
                marker=style.MARKERS[i],
                linestyle="none",
                capsize=3,
                label=f"{model} simulated",
            )
            theory = sub["theory_us"].to_numpy(float)
            rel = 100 * (sub["sim_us"].to_numpy(float) / theory - 1)
            rel_err = None if err is None else 100 * err / theory
            ax_e.errorbar(rho, rel, yerr=rel_err, color=color, marker=style.MARKERS[i], capsize=3, label=str(model))
        style.log_axis(ax, "y")
        ax.set_xlabel("offered load ρ = λ·S")
        ax.set_ylabel("mean guest latency (µs, log scale)")
        ax.set_title("Disk model vs queueing theory")
        ax.legend(frameon=False)
        ax_e.axhline(0, color="0.4", linewidth=0.8)
        ax_e.set_xlabel("offered load ρ")
        ax_e.set_ylabel("simulated / formula − 1 (%)")
        ax_e.set_title("Relative error (95% CI over seeds)")
        ax_e.legend(frameon=False)
        style.stamp(fig, stamp or "backupsim | model check: M/M/1 and M/D/1")
    return fig


def rate_limit_check(curves: pd.DataFrame, stamp: str = "") -> Figure:
    """Clusters copied vs time since the backup started, per ``speed``, with QEMU's expected count.

    ``curves`` has columns ``speed`` (a label such as ``"64KiB/s"``), ``t_s``
    (seconds since the backup started), ``clusters`` (copied so far) and
    ``expected_per_s`` (clusters per second that QEMU's iotests expect).  The
    expected count after ``t`` seconds is ``1 + expected_per_s * t``: QEMU's
    limiter lets the first cluster through at once.
    """
    with style.context():
        fig, panel, ax = style.new_figure(7.5, 4.6)
        for i, (speed, sub) in enumerate(curves.groupby("speed", sort=False)):
            sub = sub.sort_values("t_s")
            color = style.SEQUENCE[i % len(style.SEQUENCE)]
            t = sub["t_s"].to_numpy(float)
            ax.step(t, sub["clusters"], where="post", color=color, label=f"{speed}: simulated")
            rate = float(sub["expected_per_s"].iloc[0])
            ax.plot(
                t,
                1 + rate * t,
                color=color,
                linestyle="--",
                linewidth=1,
                label=f"{speed}: expected {rate:g} cluster{'s' if rate != 1 else ''}/s",
            )
        ax.set_xlabel("time since the backup started (s)")
        ax.set_ylabel("clusters copied")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_title("Rate limiter vs QEMU iotests 185/219 (64 KiB clusters)")
        ax.legend(frameon=False, loc="upper left")
        style.stamp(fig, stamp or "backupsim | model check: rate limiter")
    return fig
