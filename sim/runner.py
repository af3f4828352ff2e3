"""Running configurations: one run with its baseline.

:func:`run_one` is the desmod-style lifecycle for one configuration: build the
model, run it, run its baseline (same seed, no backup, its statistics split
by the backup run's window), derive the metrics from what they recorded
(:mod:`sim.recording`).  With ``run.keep_requests`` the result also carries
the table of every guest request; the summary does not depend on it.  This
module writes no files: results folders are written by :mod:`sim.store`
(with :func:`sim.files.atomic_write`).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from .config import Config, build_config
from .metrics import backup_window, guest_frame, latency_histogram, summarize, timeline
from .model import Model

__all__ = ["RunResult", "run_one"]


@dataclasses.dataclass
class RunResult:
    """What one run produced: the summary row, its timeline, requests, histogram, trace.

    ``requests`` is one row per guest request with ``run.keep_requests``, else empty.
    """

    config: Config
    summary: dict
    timeline: pd.DataFrame
    requests: pd.DataFrame
    histogram: pd.DataFrame
    trace: list | None = None
    model: Model | None = dataclasses.field(default=None, repr=False)


def run_one(config: Config | dict | None = None, keep_model: bool = False) -> RunResult:
    """Run one configuration (and its baseline unless ``run.baseline`` is false)."""
    cfg = config if isinstance(config, Config) else build_config(config or {})
    model = Model(cfg, with_backup=True).run()
    baseline = None
    if cfg.run.baseline and model.job is not None:
        window = backup_window(model)
        baseline = Model(cfg, with_backup=False, trace=False, window=window).run(until=model.t_end)
    summary = {"seed": cfg.run.seed, "replication": cfg.run.replication, **summarize(model, baseline)}
    return RunResult(
        config=cfg,
        summary=summary,
        timeline=timeline(model, cfg.run.timeline_window),
        requests=guest_frame(model.guest) if cfg.run.keep_requests else pd.DataFrame(),
        histogram=latency_histogram(model),
        trace=model.trace,
        model=model if keep_model else None,
    )
