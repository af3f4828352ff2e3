"""Running a scenario's runs: in this process, on local worker processes, or on Dask.

:func:`run_batch` expands a :class:`sim.scenario.Scenario`, takes the results
folder's lock, skips the runs whose results are already stored, computes the
rest with the chosen executor, stores each one as it finishes
(:class:`sim.store.ResultStore`) and publishes the merged files as one set.
Every run is independent and deterministic, so the merged files are the same
whatever the executor or number of workers.  A worker's task is a group of
runs that share a baseline (:func:`groups`, :func:`sim.runner.run_group`: one
baseline run for the group, each result the same as alone); its runs are
stored when the task finishes, so an interrupted batch keeps whole tasks.

* ``local`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` with
  ``jobs`` workers (all cores by default, never more than there are runs to
  compute); ``jobs=1`` runs in this process.  Workers ignore Ctrl-C (the
  batch stops them) and die with the batch, even when it is killed
  (``PR_SET_PDEATHSIG`` on Linux, and a thread watching the parent).
* ``dask``: Dask distributed.  With ``scheduler`` (``tcp://host:8786``) it
  uses that cluster (connecting within :data:`DASK_CONNECT_TIMEOUT` seconds);
  without, it starts a ``LocalCluster`` of ``jobs`` workers.

**Run identity.**  A stored run is found again by its identity: a hash of its
resolved configuration, the SHA-256 of every input file the configuration
names (trace files: any ``path`` key) and the model version
(``sim.__version__``, defined in :mod:`sim._version`).  Editing a trace or upgrading backupsim therefore
recomputes; the ``run_id`` column of the runs table stays the hash of the
configuration alone.

**Interruptions.**  Ctrl-C raises :class:`BatchInterrupted` (a
``KeyboardInterrupt``) once the workers are stopped; every run stored so far
is kept, so the same call resumes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from . import _version
from .config import Config, ConfigError
from .runner import baseline_key, run_group
from .scenario import RunSpec, Scenario
from .store import ResultsError, ResultStore, git_commit, now_iso, versions

__all__ = [
    "run_batch",
    "execute",
    "execute_group",
    "groups",
    "BatchInterrupted",
    "check_out",
    "check_scheduler",
    "run_identity",
    "input_digests",
    "DASK_CONNECT_TIMEOUT",
    "DASK_CONFIG",
]

#: Seconds to wait for a Dask scheduler to answer.
DASK_CONNECT_TIMEOUT = 5.0

#: Dask settings of the ``LocalCluster`` a batch starts (README, "Batches on a Dask cluster", gives them
#: for a cluster of your own).  A run is one CPU-bound pure-Python task, so each worker is a process
#: with one thread, and what else wakes up in the worker, its nanny or the scheduler takes CPU and the
#: GIL from the runs: Dask's statistical profiler samples the running task's stack every 10 ms, the
#: event-loop health check ticks every 20 ms, the system monitor polls every 0.5 s and the nanny polls
#: the worker's memory every 0.1 s.  (Dask already starts workers with OMP/MKL/OpenBLAS at one thread.)
DASK_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch: the workers are stopped and the runs stored so far are kept."""

    def __init__(self, stored: int, total: int, out: Path):
        super().__init__(stored, total, str(out))
        self.stored, self.total, self.out = stored, total, out

    def __str__(self) -> str:
        return f"{self.stored} of {self.total} runs stored in {self.out}, rerun the same command to resume"


def execute(config: Config) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """One run in a worker: its summary, timeline and latency histogram."""
    return execute_group([config])[0]


def execute_group(configs: list[Config]) -> list[tuple[dict, pd.DataFrame, pd.DataFrame]]:
    """Runs sharing a baseline (:func:`sim.runner.run_group`) in a worker: each one's summary, timeline, histogram."""
    cfgs = [c.replace(**{"run.keep_requests": False}) for c in configs]
    return [(res.summary, res.timeline, res.histogram) for res in run_group(cfgs)]


def groups(todo: list[RunSpec], jobs: int) -> list[list[RunSpec]]:
    """The runs of ``todo`` in tasks: runs sharing a baseline together, largest tasks first.

    A group larger than its share of the batch (``len(todo) / jobs`` runs) is
    split, so that a small batch still keeps every worker busy: that costs
    one more baseline, never a different result (:mod:`sim.runner`).
    """
    by_key: dict[str, list[RunSpec]] = {}
    out: list[list[RunSpec]] = []
    for spec in todo:
        key = baseline_key(spec.config)
        if key is None:
            out.append([spec])
        else:
            by_key.setdefault(key, []).append(spec)
    for group in by_key.values():
        # pieces of at most len(todo) / jobs runs (at least one run each), as even as can be
        n = min(len(group), -(-len(group) * max(jobs, 1) // len(todo)))
        out.extend(group[i * len(group) // n : (i + 1) * len(group) // n] for i in range(n))
    return sorted(out, key=len, reverse=True)


def _execute_on_worker(configs: list[Config], version: str) -> list[tuple[dict, pd.DataFrame, pd.DataFrame]]:
    """:func:`execute_group` on a Dask worker, which must run the batch's backupsim version.

    A stored run's identity names the model version of the batch, so a worker
    with another version installed would store its results under the wrong one.
    """
    if _version.__version__ != version:
        raise RuntimeError(
            f"a Dask worker runs backupsim {_version.__version__} and this batch {version}: "
            "install the same version on every worker"
        )
    return execute_group(configs)


# ---------------------------------------------------------------- checks before anything runs


def check_out(out: str | os.PathLike, key: str = "out", source: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``out`` is, or can be created as, a writable folder.

    Writes nothing: an existing folder is probed with an anonymous temporary
    file, a missing one by the permissions of its nearest existing parent.
    """
    shown = str(out)

    def bad(expected: str):
        raise ConfigError(key, shown, expected, source)

    if "\0" in shown:
        bad("a path without NUL characters")
    try:
        out = Path(out)
        if out.exists():
            if not out.is_dir():
                bad("a folder for the results (this is a file)")
            if not os.access(out, os.W_OK | os.X_OK):
                bad("a writable folder (this one is read-only)")
            try:
                with tempfile.TemporaryFile(dir=out):
                    pass
            except OSError as e:
                bad(f"a writable folder ({e.strerror})")
            return
        if out.is_symlink():
            bad("a folder for the results (this is a broken symlink)")
        anc = out.parent
        while not anc.exists() and anc != anc.parent:
            if anc.is_symlink():
                bad(f"a folder path ({anc} is a broken symlink)")
            anc = anc.parent
        if not anc.is_dir():
            bad(f"a folder path (its parent {anc} is a file)")
        if not os.access(anc, os.W_OK | os.X_OK):
            bad(f"a folder that can be created ({anc} is read-only)")
    except ConfigError:
        raise
    except ValueError:
        bad("a path without NUL characters")
    except OSError as e:
        bad(f"a usable folder path ({e.strerror})")


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
_ADDRESS = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>[^/]*))?/?"
)


def check_scheduler(address: Any, key: str = "scheduler", source: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``address`` looks like a Dask scheduler address.

    ``protocol://host[:port]`` (protocol ``tcp``, ``tls``, ``ws``, ``wss`` or
    ``ucx``; Dask's default port 8786 when none is given) or ``host:port``.
    """
    expected = (
        "a Dask scheduler address protocol://host:port, e.g. tcp://10.0.0.5:8786 "
        f"(protocol {', '.join(_SCHEMES)}; port 1-65535)"
    )
    m = _ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if m is None:
        raise ConfigError(key, address, expected, source)
    scheme, port = m["scheme"], m["port"]
    if scheme is not None and scheme.lower() not in _SCHEMES:
        raise ConfigError(key, address, expected, source)
    if port is None and scheme is None:
        raise ConfigError(key, address, expected, source)
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ConfigError(key, address, expected, source)


# ---------------------------------------------------------------- identity


def _paths(node: Any) -> Iterator[str]:
    """Every input file a configuration names: string values of keys called ``path``."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "path" and isinstance(v, str) and v:
                yield v
            else:
                yield from _paths(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _paths(v)


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as e:
        raise ConfigError("path", path, f"a readable input file ({e.strerror})") from None
    return h.hexdigest()


def _plugin_files(config: Config) -> list[str]:
    """The source files of the plug-ins a configuration uses (components defined outside ``sim``)."""
    from .params import FORMATS, MODES

    objs: list[Any] = [type(config.policy), type(config.workload), type(config.disk), type(config.target)]
    if config.backup.mode != "none":
        objs.append(MODES.get(config.backup.mode))
    fmt = getattr(config.workload, "format", None)
    if isinstance(fmt, str):
        objs.append(FORMATS.get(fmt))
    files = []
    for obj in objs:
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        if module is None or module.__name__ == "sim" or module.__name__.startswith("sim."):
            continue
        path = getattr(module, "__file__", None)
        if path:
            files.append("plugin:" + os.path.abspath(path))
    return files


def input_digests(configs) -> dict[str, str]:
    """``{path: SHA-256}`` of every input file the configurations name (each file read once), and of the
    source file of every plug-in they use (``plugin:<file>``), so that editing either recomputes."""
    out: dict[str, str] = {}
    for cfg in configs:
        for p in [*_paths(cfg.to_dict()), *_plugin_files(cfg)]:
            if p not in out:
                out[p] = _file_sha256(p.removeprefix("plugin:"))
    return out


def run_identity(config: Config, version: str, digests: dict[str, str]) -> str:
    """The identity of a stored run: configuration, input files and plug-in sources, model version."""
    cfg = config.to_dict()
    names = sorted(set(_paths(cfg)) | set(_plugin_files(config)))
    doc = {"config": cfg, "model_version": version, "inputs": {p: digests[p] for p in names}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


# ---------------------------------------------------------------- executors

_PR_SET_PDEATHSIG = 1


def _worker_init(parent: int) -> None:
    """In each pool worker: leave Ctrl-C to the batch, and die when the batch does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the batch died before prctl
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="backupsim-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what has not started and kill the workers (no waiting for runs).

    The pool's call queue feeds its workers from a thread of its own, which may be
    blocked writing a task into a pipe that no killed worker will read; the pool's
    manager thread joins that thread when it cleans up, and the interpreter joins the
    manager thread at exit, so the batch could hang after Ctrl-C.  The queue is told not
    to be joined (``multiprocessing.Queue.cancel_join_thread``): what it still holds
    is dropped, as it is anyway.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    call_queue = getattr(pool, "_call_queue", None)
    if call_queue is not None:
        with contextlib.suppress(Exception):
            call_queue.cancel_join_thread()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.kill()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=5)


def _local(todo: list[RunSpec], jobs: int) -> Generator[tuple[RunSpec, tuple], None, None]:
    tasks = groups(todo, jobs)
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield from zip(task, execute_group([s.config for s in task]))
        return
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_worker_init, initargs=(os.getpid(),))
    finished = False
    try:
        futures = {pool.submit(execute_group, [s.config for s in task]): task for task in tasks}
        for fut in as_completed(futures):
            yield from zip(futures[fut], fut.result())
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # an error, Ctrl-C or the caller stopped early: do not wait for the other runs
            _stop(pool)


def _connect(scheduler: str, timeout: float):
    try:
        from distributed import Client
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("--executor dask needs Dask distributed: pip install 'backupsim[dask]'") from e
    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(
            "scheduler", scheduler, f"a reachable Dask scheduler (none answered within {timeout:g} s: {why})"
        ) from None


def _dask(todo: list[RunSpec], jobs: int, client) -> Generator[tuple[RunSpec, tuple], None, None]:
    if not todo:
        return
    try:
        import dask
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("--executor dask needs Dask distributed: pip install 'backupsim[dask]'") from e
    tasks = groups(todo, jobs)
    cluster = own = None
    if client is None:
        # one single-threaded worker process per task in flight; the nannies hand the settings to the workers
        with dask.config.set(DASK_CONFIG):
            cluster = LocalCluster(
                n_workers=max(1, min(jobs, len(tasks))), threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = own = Client(cluster)
    futures = []
    try:
        futures = client.map(
            _execute_on_worker, [[s.config for s in t] for t in tasks], version=_version.__version__, pure=False
        )
        by_key = {f.key: task for f, task in zip(futures, tasks)}
        for fut in dask_completed(futures):
            yield from zip(by_key[fut.key], fut.result())
    finally:
        with contextlib.suppress(Exception):
            client.cancel(futures)
        if own is not None:
            own.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------- the batch


def run_batch(
    scn: Scenario,
    out: str | os.PathLike,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool | None = None,
    command: str | None = None,
    on_run: Callable[[RunSpec], None] | None = None,
    wait: float | None = 0,
    report: bool = False,
) -> pd.DataFrame:
    """Run every missing run of ``scn`` into ``out`` and publish the merged set; returns the runs table.

    ``wait``: seconds to wait when another batch holds the folder (0: refuse
    at once, ``None``: wait as long as it takes).  ``report``: also write
    ``report.md`` and ``figures/`` into the new set before it is published.
    Raises :class:`ConfigError` for a bad ``out`` or ``scheduler``,
    :class:`sim.store.ResultsError` for a busy folder or a failed write (the
    previous set stays published), :class:`BatchInterrupted` on Ctrl-C.
    """
    out = Path(out)
    check_out(out)
    if executor == "dask" and scheduler:
        check_scheduler(scheduler)
    started = now_iso()
    t0 = time.monotonic()
    specs = scn.runs()
    digests = input_digests(s.config for s in specs)
    keys = [run_identity(s.config, _version.__version__, digests) for s in specs]
    batch_id = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    jobs = jobs or os.cpu_count() or 1
    if progress is None:
        progress = sys.stderr.isatty()
    store = ResultStore(out)

    def writing(what: Callable[[], Any]) -> Any:
        try:
            return what()
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            raise ResultsError(
                f"{out}: cannot write the results: {e.strerror or e}{where}; the previous results there are "
                f"intact and {store.stored(keys)} of {len(specs)} runs are stored in {out}/.parts: "
                "free space (or fix the folder) and rerun the same command to resume",
                1,
            ) from None

    with contextlib.ExitStack() as stack:
        try:
            client = None
            if executor == "dask" and scheduler:  # before the folder is touched
                client = stack.enter_context(_connect(scheduler, DASK_CONNECT_TIMEOUT))
            writing(lambda: stack.enter_context(store.locked(wait, command or "")))
            todo = [(s, k) for s, k in zip(specs, keys) if not store.has(k)]
            key_of = {id(s): k for s, k in todo}
            bar = None
            if progress:
                from tqdm import tqdm

                bar = stack.enter_context(
                    tqdm(
                        total=len(specs), initial=len(specs) - len(todo), unit="run", desc=scn.name, dynamic_ncols=True
                    )
                )
            todo_specs = [s for s, _ in todo]
            results = _dask(todo_specs, jobs, client) if executor == "dask" else _local(todo_specs, jobs)
            stack.callback(results.close)
            for spec, (summary, tl, hist) in results:
                writing(functools.partial(store.put, key_of[id(spec)], summary, tl, hist))
                if on_run is not None:
                    on_run(spec)
                if bar is not None:
                    bar.update(1)
            results.close()
            manifest = {
                "scenario": scn.resolved(),
                "scenario_hash": scn.hash(),
                "scenario_file": scn.source,
                "root_seed": scn.root_seed,
                "batch_id": batch_id,
                "model_version": _version.__version__,
                "inputs": digests,
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
            runs, staging = writing(lambda: store.merge(specs, keys, manifest, batch_id))
            failure = None
            if report:
                from .review import write_report

                try:
                    # the figures on this machine's cores: the batch's own number of them when it ran here
                    figure_jobs = jobs if executor == "local" else None
                    writing(lambda: write_report(staging, lock=False, shown_as=out, jobs=figure_jobs))
                except ResultsError:
                    import shutil

                    shutil.rmtree(staging, ignore_errors=True)
                    raise
                except Exception as e:  # a bug in the report: publish the results, then report it
                    failure = e
            writing(lambda: store.publish(staging, batch_id))
            if failure is not None:
                raise failure
        except KeyboardInterrupt:
            raise BatchInterrupted(store.stored(keys), len(specs), out) from None
    return runs
