"""Running configurations: one run with its baseline, and writing results.

:func:`run_one` is the desmod-style lifecycle for one configuration: build the
model, run it, run its baseline (same seed, no backup, same window), derive the
metrics.  :func:`write_results` is the only code that writes result files, and
writes each one atomically (a temporary file in the same folder, then rename),
so an interrupted write never leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .config import Config, build_config
from .metrics import guest_frame, latency_histogram, summarize, timeline
from .model import Model

__all__ = ["RunResult", "run_one", "write_results", "atomic_write"]

_UMASK = os.umask(0)
os.umask(_UMASK)


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


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(runs: pd.DataFrame, out: Path) -> None:
    """Write the runs table as ``runs.parquet`` and ``runs.csv`` in ``out``, atomically."""
    out = Path(out)
    atomic_write(out / "runs.parquet", lambda p: runs.to_parquet(p, index=False))
    atomic_write(out / "runs.csv", lambda p: runs.to_csv(p, index=False))
