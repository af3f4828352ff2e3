"""The results folder of a batch: per-run parts, merged tables, manifest.

Layout (INTERFACE.md): ``runs.parquet`` and ``runs.csv`` (one row per run),
``timeline.parquet`` (per run, per window), ``latency_hist.parquet`` (per run
and op), ``manifest.json``.  While a batch runs, each finished run is written
to ``.parts/<run_id>.*`` (timeline and histogram first, the summary last, each
atomically), so a batch killed at any moment keeps every run it finished and
never leaves a half-written file; rerunning the same command computes only the
runs whose summary part is missing, then merges.  The merged files depend only
on the parts and the run order, so they are byte-identical however many
workers made them and however often the batch was interrupted.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from .runner import atomic_write

__all__ = ["ResultStore", "load_results"]


class ResultStore:
    """Reads and writes one results folder."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.parts = self.root / ".parts"

    def has(self, run_id: str) -> bool:
        """Is this run's summary part (written last) on disk?"""
        return (self.parts / f"{run_id}.summary.json").exists()

    def put(self, run_id: str, summary: dict, timeline: pd.DataFrame, hist: pd.DataFrame) -> None:
        """Store one finished run, atomically, summary last."""
        self.parts.mkdir(parents=True, exist_ok=True)
        atomic_write(self.parts / f"{run_id}.timeline.parquet", lambda p: timeline.to_parquet(p, index=False))
        atomic_write(self.parts / f"{run_id}.hist.parquet", lambda p: hist.to_parquet(p, index=False))
        atomic_write(self.parts / f"{run_id}.summary.json",
                     lambda p: p.write_text(json.dumps(summary, sort_keys=True, allow_nan=True)))

    def summary(self, run_id: str) -> dict:
        return json.loads((self.parts / f"{run_id}.summary.json").read_text())

    def merge(self, specs, manifest: dict) -> pd.DataFrame:
        """Write the merged tables and manifest for ``specs`` (in their order); returns the runs table."""
        rows, timelines, hists = [], [], []
        for spec in specs:
            s = self.summary(spec.run_id)
            rows.append({"run_id": spec.run_id, "point": spec.point, "replication": spec.replication,
                         "seed": s["seed"], **spec.swept,
                         **{k: v for k, v in s.items() if k not in ("seed", "replication")}})
            tl = pd.read_parquet(self.parts / f"{spec.run_id}.timeline.parquet")
            tl.insert(0, "run_id", spec.run_id)
            timelines.append(tl)
            h = pd.read_parquet(self.parts / f"{spec.run_id}.hist.parquet")
            h.insert(0, "run_id", spec.run_id)
            hists.append(h)
        runs = pd.DataFrame(rows)
        atomic_write(self.root / "timeline.parquet",
                     lambda p: pd.concat(timelines, ignore_index=True).to_parquet(p, index=False))
        atomic_write(self.root / "latency_hist.parquet",
                     lambda p: pd.concat(hists, ignore_index=True).to_parquet(p, index=False))
        atomic_write(self.root / "runs.parquet", lambda p: runs.to_parquet(p, index=False))
        atomic_write(self.root / "runs.csv", lambda p: runs.to_csv(p, index=False))
        atomic_write(self.root / "manifest.json",
                     lambda p: p.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n"))
        return runs


def versions() -> dict:
    """Versions of backupsim, Python and the libraries whose behaviour the results depend on."""
    out = {"python": platform.python_version()}
    for dist in ("backupsim", "simpy", "numpy", "pandas", "pyarrow", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def git_commit() -> str:
    """The commit of the backupsim source tree, with ``-dirty`` if it has changes, or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """The runs table of a results folder (``runs.parquet``) as a DataFrame."""
    path = Path(path)
    f = path / "runs.parquet" if path.is_dir() else path
    if not f.exists():
        raise FileNotFoundError(f"{f}: no runs.parquet here; run `backupsim run` first")
    return pd.read_parquet(f)
