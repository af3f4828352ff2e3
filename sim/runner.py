"""Running configurations: one run with its baseline, or several runs sharing one baseline.

:func:`run_one` is the desmod-style lifecycle for one configuration: build the
model, run it, run its baseline (same seed, no backup, its statistics split
by the backup run's window), derive the metrics from what they recorded
(:mod:`sim.recording`).  With ``run.keep_requests`` the result also carries
the table of every guest request; the summary does not depend on it.  This
module writes no files: results folders are written by :mod:`sim.store`
(with :func:`sim.files.atomic_write`).

**Shared baselines.**  A run's baseline is the same guest on the same devices
with the same seed and no backup, so it does not depend on the pacing policy:
the runs of a sweep over policies have, seed by seed, one baseline between
them.  :func:`baseline_key` says which runs share one and :func:`run_group`
runs such a group: each backup run, then one baseline to the latest of their
ends, recording every run's window.  Each run gets the statistics
its own baseline would have given (a baseline's guest goes on past its end
until the requests of its window are counted, :mod:`sim.model`), so a result
does not depend on the other runs of its batch; ``tests/test_shared_baseline.py``
compares the two.  A batch (:mod:`sim.batch`) groups its runs this way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence

import pandas as pd

from .config import Config, build_config
from .metrics import add_baseline, backup_window, guest_frame, latency_histogram, summarize, timeline
from .model import Model
from .params import WORKLOADS

__all__ = ["RunResult", "run_one", "run_group", "baseline_key"]


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


def baseline_key(config: Config) -> str | None:
    """Which baseline a run has: runs with the same key have the same baseline; None for a run without one.

    The key hashes the configuration without its ``policy``: a run without a
    backup job builds no policy.  A paced guest's baseline is never shared
    (:mod:`sim.model`), so its key is the whole configuration's.
    """
    if not config.run.baseline or config.backup.mode == "none":
        return None
    data = config.to_dict()
    if not WORKLOADS.get(config.workload.kind).paced:
        del data["policy"]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def run_one(config: Config | dict | None = None, keep_model: bool = False) -> RunResult:
    """Run one configuration (and its baseline unless ``run.baseline`` is false)."""
    return run_group([config if isinstance(config, Config) else build_config(config or {})], keep_model)[0]


def run_group(configs: Sequence[Config], keep_model: bool = False) -> list[RunResult]:
    """Run configurations of one :func:`baseline_key`: each run, then one baseline for all of them.

    Each result is the one :func:`run_one` gives its configuration alone.
    """
    if len(configs) > 1:
        keys = {baseline_key(c) for c in configs}
        if len(keys) > 1 or None in keys:
            raise ValueError("run_group: these configurations do not share a baseline (sim.runner.baseline_key)")
    results: list[RunResult] = []
    windows: list[tuple[int, int] | None] = []
    t_end = 0
    for cfg in configs:
        model = Model(cfg, with_backup=True).run()
        windows.append(backup_window(model) if cfg.run.baseline and model.job is not None else None)
        t_end = max(t_end, model.t_end)
        results.append(
            RunResult(
                config=cfg,
                summary={"seed": cfg.run.seed, "replication": cfg.run.replication, **summarize(model)},
                timeline=timeline(model, cfg.run.timeline_window),
                requests=guest_frame(model.guest) if cfg.run.keep_requests else pd.DataFrame(),
                histogram=latency_histogram(model),
                trace=model.trace,
                model=model if keep_model else None,
            )
        )
        del model  # a group of large runs keeps their results, not their models
    wanted = list(dict.fromkeys(w for w in windows if w is not None))
    if wanted:
        # one baseline to the latest run's end (its guest goes on until the requests before it are counted)
        baseline = Model(configs[0], with_backup=False, trace=False, window=wanted).run(until=t_end)
        for res, w in zip(results, windows):
            if w is not None:
                add_baseline(res.summary, baseline, *w)
    return results
