"""Running configurations: one run with its baseline.

:func:`run_one` is the desmod-style lifecycle for one configuration: build the
model, run it, run its baseline (same seed, no backup, same window), derive the
metrics.  This module writes no files: results folders are written by
:mod:`sim.store` (with :func:`sim.files.atomic_write`).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from .config import Config, build_config
from .metrics import guest_frame, latency_histogram, summarize, timeline
from .model import Model

__all__ = ["RunResult", "run_one"]


@dataclasses.dataclass
class RunResult:
    """What one run produced: the summary row, its timeline, requests, histogram, trace."""

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
        baseline = Model(cfg, with_backup=False, trace=False).run(until=model.t_end)
    frame = guest_frame(model.guest)  # built once, shared by every metric
    summary = {"seed": cfg.run.seed, "replication": cfg.run.replication, **summarize(model, baseline, frame)}
    return RunResult(
        config=cfg,
        summary=summary,
        timeline=timeline(model, cfg.run.timeline_window, frame),
        requests=frame if cfg.run.keep_requests else pd.DataFrame(),
        histogram=latency_histogram(model, frame),
        trace=model.trace,
        model=model if keep_model else None,
    )
