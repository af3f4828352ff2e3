"""The console summary: the text ``backupsim run`` and ``backupsim batch`` print.

(The design-review page, ``report.md`` and its figures, is :mod:`sim.review`.)
"""

from __future__ import annotations

from .config import Config
from .params.units import format_size

__all__ = ["format_summary", "format_batch"]


def _f(x: float, nd: int = 1) -> str:
    return "n/a" if x != x else f"{x:,.{nd}f}"


def format_summary(row: dict, cfg: Config) -> str:
    """A short readable block: setup, backup outcome, guest latency vs baseline, loop."""
    pol = cfg.policy.model_dump()
    pol_s = pol.pop("name") + "".join(f" {k}={v}" for k, v in pol.items())
    lines = [
        f"backupsim run: {format_size(cfg.backup.disk_size)} disk ({cfg.disk.profile}) -> "
        f"{cfg.target.profile} target, {format_size(cfg.backup.cluster_size)} clusters, "
        f"policy {pol_s}, loop era {cfg.loop.era}, seed {cfg.run.seed}",
        "",
        f"backup   status {row['status']}{' (' + row['error'] + ')' if row['error'] else ''}, "
        f"consistent {row['consistent']}, complete {row['complete']}",
        f"         duration {_f(row['backup_duration_s'], 3)} s, {format_size(int(row['backup_bytes']))} "
        f"at {_f(row['backup_throughput_mib_s'])} MiB/s, {row['cow_clusters']:,} copy-before-write",
        f"guest    {row['guest_ops']:,} ops ({row['guest_read_ops']:,} reads, {row['guest_write_ops']:,} writes), "
        f"{_f(row['guest_iops'], 0)} IOPS during the backup (baseline {_f(row['baseline_guest_iops'], 0)})",
        f"latency  p50 {_f(row['guest_p50_us'])} us, p99 {_f(row['guest_p99_us'])} us, "
        f"p99.9 {_f(row['guest_p999_us'])} us; baseline p99 {_f(row['baseline_guest_p99_us'])} us; "
        f"slowdown p99 x{_f(row['slowdown_p99'], 2)}",
        f"         reads p99 {_f(row['guest_read_p99_us'])} us, writes p99 {_f(row['guest_write_p99_us'])} us; "
        f"{_f(100 * row['cow_delayed_share'])}% of writes delayed by copy-before-write "
        f"(+{_f(row['cow_extra_mean_us'])} us mean)",
        f"loop     guest wait max {_f(row['loop_wait_max_us'])} us, p99 {_f(row['loop_wait_p99_us'])} us, "
        f"busy {_f(100 * row['loop_busy_share'])}%",
    ]
    return "\n".join(lines)


def format_batch(runs, scn) -> str:
    """One line per sweep point: means over replications of the headline metrics."""
    import pandas as pd

    from .analysis import points

    metrics = {
        "backup_duration_s": "backup s",
        "guest_p99_us": "p99 us",
        "baseline_guest_p99_us": "base p99 us",
        "slowdown_p99": "slowdown",
        "cow_clusters": "COW",
        "loop_wait_max_us": "loop wait us",
    }
    g = runs.groupby("point", sort=True)
    table = g[list(metrics)].mean()
    table.columns = list(metrics.values())
    labels = points(runs)["label"].astype(str)
    table.insert(0, "sweep point", labels.str.ljust(int(labels.str.len().max())))
    table["runs"] = g.size()
    table["status"] = g["status"].agg(lambda s: ",".join(f"{k}:{v}" for k, v in s.value_counts().items()))
    table["good backup"] = g["good_backup"].all() if "good_backup" in runs.columns else g["consistent"].all()
    with pd.option_context(
        "display.width",
        250,
        "display.max_columns",
        50,
        "display.max_colwidth",
        60,
        "display.float_format",
        "{:,.2f}".format,
    ):
        body = table.reset_index(drop=True).to_string(index=False, justify="left")
    return f"{scn.name}: {len(runs)} runs, scenario hash {scn.hash()}\n\n{body}"
