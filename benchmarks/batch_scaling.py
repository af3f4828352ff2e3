"""Runs per second per worker of a batch, at 1 and 2 workers, on Dask or the local process pool.

    .venv/bin/python benchmarks/batch_scaling.py --executor dask --jobs 1,2 --repeat 2
    .venv/bin/python benchmarks/batch_scaling.py --executor local --jobs 1,2
    .venv/bin/python benchmarks/batch_scaling.py --executor dask --scheduler tcp://host:8786 --jobs 4

Each measurement runs ``benchmarks/dask-scaling.toml`` (equal-sized runs that
differ only by their seed; ``--runs`` sets how many) into a fresh temporary
folder with :func:`sim.batch.run_batch` (no report), and prints one JSON line:

* ``runs_per_s``: runs stored per wall second, from the call (so cluster
  start-up counts) to the last run stored (merging the tables is left out: it
  does not depend on the workers);
* ``steady_runs_per_s``: the same from the ``jobs``-th run stored to the last
  (start-up and the first import of the model left out);
* ``client_main_cpu_s``: CPU seconds of this process's main thread (the batch:
  receiving results, writing each run's parts);
* ``client_other_cpu_s``: CPU seconds of its other threads (a ``LocalCluster``'s
  scheduler and nannies and the Dask client's event loop; the process pool's
  result thread);
* ``workers_cpu_s``: CPU seconds of the worker processes (sampled while they
  live; for an existing cluster, not measured);
* ``batch_cpu_s``: all of the above; ``others_cpu_s``: the CPU seconds the
  rest of the machine used meanwhile (``/proc/stat``): a measurement with
  more than a few is not a per-core efficiency, the workers did not have the
  cores to themselves.

Then, per executor, the per-core efficiency of each worker count against one
worker: ``(runs_per_s(N) / N) / runs_per_s(1)``, from the median of the
repeats.  ``pytest -m slow tests/test_bench.py`` runs a shorter version and
checks it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sim.batch import run_batch  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402

SCENARIO = HERE / "dask-scaling.toml"


class _CpuWatch:
    """Samples the CPU time of this process's descendants while they live (workers die before we can ask)."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-watch", daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every):
            for p in me.children(recursive=True):
                try:
                    t = p.cpu_times()
                    self.last[p.pid] = t.user + t.system
                except psutil.Error:
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return sum(self.last.values())


def _cpu() -> tuple[float, float]:
    """CPU seconds so far of (this process, its main thread); threads that ended still count in the first."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, time.thread_time()


def _machine_busy() -> float | None:
    """CPU seconds every process on this machine has used since boot (Linux ``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(executor: str, jobs: int, runs: int, scheduler: str | None = None, scenario: Path = SCENARIO) -> dict:
    """One batch of ``runs`` equal runs with ``jobs`` workers; its rates and CPU times."""
    scn = load_scenario(scenario).with_overrides({}, runs)
    stored: list[float] = []
    proc0, main0 = _cpu()
    busy0 = _machine_busy()
    with tempfile.TemporaryDirectory(prefix="backupsim-scaling-") as tmp, _CpuWatch() as watch:
        t0 = time.perf_counter()
        run_batch(
            scn,
            Path(tmp) / "out",
            jobs=jobs,
            executor=executor,
            scheduler=scheduler,
            progress=False,
            on_run=lambda _spec: stored.append(time.perf_counter()),
        )
        t_end = time.perf_counter()
    proc1, main1 = _cpu()
    busy1 = _machine_busy()
    n = len(stored)
    elapsed = stored[-1] - t0
    k = min(jobs, n - 1)
    steady = (n - k) / (stored[-1] - stored[k - 1]) if k >= 1 and stored[-1] > stored[k - 1] else float("nan")
    batch_cpu = (proc1 - proc0) + watch.total
    others = None if busy0 is None or busy1 is None or scheduler else max(0.0, busy1 - busy0 - batch_cpu)
    return {
        "executor": executor if not scheduler else f"dask {scheduler}",
        "jobs": jobs,
        "runs": n,
        "wall_s": round(t_end - t0, 2),
        "runs_per_s": round(n / elapsed, 4),
        "steady_runs_per_s": round(steady, 4),
        "client_main_cpu_s": round(main1 - main0, 2),
        "client_other_cpu_s": round((proc1 - proc0) - (main1 - main0), 2),
        "workers_cpu_s": round(watch.total, 2) if not scheduler else None,
        "batch_cpu_s": round(batch_cpu, 2),
        "others_cpu_s": None if others is None else round(others, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }


def efficiency(results: list[dict]) -> dict[int, float]:
    """Per-core efficiency of each worker count against one worker, from the median rates."""
    rate = {
        j: statistics.median(r["runs_per_s"] for r in results if r["jobs"] == j) for j in {r["jobs"] for r in results}
    }
    if 1 not in rate:
        return {}
    return {j: round(rate[j] / j / rate[1], 3) for j in sorted(rate) if j != 1}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executor", choices=["local", "dask"], default="dask")
    p.add_argument("--scheduler", default=None, help="an existing Dask cluster, tcp://host:8786")
    p.add_argument("--jobs", default="1,2", help="worker counts, comma-separated (default 1,2)")
    p.add_argument("--runs", type=int, default=24, help="runs per batch (default 24, about 2 s each)")
    p.add_argument("--repeat", type=int, default=2, help="measurements per worker count, interleaved")
    p.add_argument("--scenario", type=Path, default=SCENARIO)
    p.add_argument(
        "--dask-defaults",
        action="store_true",
        help="start the LocalCluster with Dask's default settings, not sim.batch.DASK_CONFIG (for comparison)",
    )
    args = p.parse_args(argv)
    if args.dask_defaults:
        import sim.batch

        sim.batch.DASK_CONFIG = {}
    counts = [int(j) for j in args.jobs.split(",")]
    results = []
    for _ in range(args.repeat):
        for jobs in counts:
            r = measure(args.executor, jobs, args.runs, args.scheduler, args.scenario)
            if args.dask_defaults:
                r["executor"] += " (Dask defaults)"
            print(json.dumps(r), flush=True)  # noqa: T201
            results.append(r)
    print(json.dumps({"executor": args.executor, "per_core_efficiency": efficiency(results)}))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
