"""Running a scenario's runs: in this process, on local worker processes, or on Dask.

:func:`run_batch` expands a :class:`sim.scenario.Scenario`, skips the runs
whose results are already in the folder, computes the rest with the chosen
executor, stores each one as it finishes (:class:`sim.store.ResultStore`) and
merges.  Every run is independent and deterministic, so the merged files are
the same whatever the executor or number of workers.

* ``local`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` with
  ``jobs`` workers (all cores by default); ``jobs=1`` runs in this process.
* ``dask``: Dask distributed.  With ``scheduler`` (``tcp://host:8786``) it
  uses that cluster; without, it starts a ``LocalCluster`` of ``jobs`` workers.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import pandas as pd

from .config import Config
from .runner import run_one
from .scenario import RunSpec, Scenario
from .store import ResultStore, git_commit, now_iso, versions

__all__ = ["run_batch", "execute"]


def execute(config: Config) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """One run in a worker: its summary, timeline and latency histogram."""
    cfg = config.replace(**{"run.keep_requests": False})
    res = run_one(cfg)
    return res.summary, res.timeline, res.histogram


def _local(todo: list[RunSpec], jobs: int) -> Iterator[tuple[RunSpec, tuple]]:
    if jobs <= 1 or len(todo) <= 1:
        for spec in todo:
            yield spec, execute(spec.config)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(execute, spec.config): spec for spec in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _dask(todo: list[RunSpec], jobs: int, scheduler: str | None) -> Iterator[tuple[RunSpec, tuple]]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("--executor dask needs Dask distributed: pip install 'backupsim[dask]'") from e
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(execute, [s.config for s in todo], pure=False)
        by_key = {f.key: spec for f, spec in zip(futures, todo)}
        for fut in dask_completed(futures):
            yield by_key[fut.key], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_batch(scn: Scenario, out: Path, jobs: int | None = None, executor: str = "local",
              scheduler: str | None = None, progress: bool | None = None,
              command: str | None = None, on_run: Callable[[RunSpec], None] | None = None) -> pd.DataFrame:
    """Run every missing run of ``scn`` into ``out`` and merge; returns the runs table."""
    started = now_iso()
    t0 = time.monotonic()
    specs = scn.runs()
    store = ResultStore(out)
    todo = [s for s in specs if not store.has(s.run_id)]
    jobs = jobs or os.cpu_count() or 1
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(specs), initial=len(specs) - len(todo), unit="run", desc=scn.name,
                   dynamic_ncols=True)
    results = _dask(todo, jobs, scheduler) if executor == "dask" else _local(todo, jobs)
    try:
        for spec, (summary, tl, hist) in results:
            store.put(spec.run_id, summary, tl, hist)
            if on_run is not None:
                on_run(spec)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    manifest = {
        "scenario": scn.resolved(),
        "scenario_hash": scn.hash(),
        "scenario_file": scn.source,
        "root_seed": scn.root_seed,
        "runs": len(specs),
        "runs_computed": len(todo),
        "runs_reused": len(specs) - len(todo),
        "executor": executor if executor == "local" or not scheduler else f"dask {scheduler}",
        "jobs": jobs,
        "versions": versions(),
        "git_commit": git_commit(),
        "command": command or "",
        "started": started,
        "finished": now_iso(),
        "wall_s": round(time.monotonic() - t0, 3),
    }
    return store.merge(specs, manifest)
