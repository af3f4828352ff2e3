"""``backupsim calibrate``: run the cases for real and in backupsim, and write them side by side.

:func:`calibrate` measures this machine's tmpfs file first (the ``psync``
file costs) and QEMU's own copy task (:func:`sim.calibrate.real.measure_tasks`,
reported beside the model's, not used by it), and the NBD path in rounds, one
before the cases and one before each (:class:`sim.calibrate.real.PathProbe`,
pooled: the path drifts from minute to minute); runs each case ``reps`` times
for real, then ``reps`` seeds of each in backupsim with those costs, and
writes into ``out``:

* ``calibration.csv``: one row per case: real median and range (min, max over
  the repetitions) and simulated median of the backup duration and the guest's
  p50 and p99 latency, and the ratios simulated / real;
* ``calibration.md``: the same as a table, with the targets (duration within
  5%, p50 and p99 within 25%) and which cases meet them;
* ``calibration.png``: simulated against real, one point per case and metric.

With ``sim_only`` the real side is skipped (the table has the simulated column
only): that is what ``scenarios/qemu-calibration.toml`` shows without QEMU.
Files are written atomically.
"""

from __future__ import annotations

import math
import statistics
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_write
from ..host import Allocator, HostConfig
from .cases import CASES, SETUP, Case, Setup
from .simulated import REFERENCE_FILE, REFERENCE_PATH, REFERENCE_TASKS, FileCosts, handoff_ns, sim_config

__all__ = ["calibrate", "measure_file", "measure_faults", "TARGETS"]

#: The issue's targets: |sim / real - 1| at most this, per metric.
TARGETS = {"backup_s": 0.05, "p50_us": 0.25, "p99_us": 0.25}


def measure_file(workdir: str = "/dev/shm", seconds: float = 2.0) -> FileCosts:
    """fio ``psync`` on tmpfs files: 4 KiB and 1 MiB random reads and writes of a filled file, writes into a new
    sparse one; and a fresh page's fault (:func:`measure_faults`).  Medians of fio's completion latency."""
    import json
    import os
    import tempfile

    def fio(name: str, rw: str, bs: str, *extra: str) -> float:
        r = subprocess.run(
            ["fio", "--name=f", f"--filename={name}", "--ioengine=psync", f"--rw={rw}", f"--bs={bs}",
             "--output-format=json", *extra],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        job = json.loads(r.stdout)["jobs"][0]["read" if "read" in rw else "write"]
        return float(job["clat_ns"]["percentile"]["50.000000"])

    names = []
    try:
        fd, full = tempfile.mkstemp(prefix="backupsim-file-", dir=workdir)
        os.close(fd)
        names.append(full)
        with open(full, "wb") as f:
            f.write(np.random.default_rng(0).integers(0, 256, 64 << 20, dtype=np.uint8).tobytes())
        timed = ("--time_based", f"--runtime={seconds}")
        out = {f"{rw}_{bs}": fio(full, rw, bs, *timed) for rw in ("randread", "randwrite") for bs in ("4k", "1m")}
        for bs, size in (("4k", "64M"), ("1m", "256M")):
            fd, sparse = tempfile.mkstemp(prefix="backupsim-new-", dir=workdir)
            os.close(fd)
            names.append(sparse)
            os.truncate(sparse, 1 << 30)
            out[f"new_{bs}"] = fio(sparse, "write", bs, f"--size={size}")  # each write on pages not there yet
            os.unlink(sparse)
            names.remove(sparse)
        return FileCosts(
            out["randread_4k"],
            out["randread_1m"],
            measure_faults(),
            out["randwrite_4k"],
            out["randwrite_1m"],
            out["new_4k"],
            out["new_1m"],
        )
    finally:
        for name in names:
            os.unlink(name)


def measure_faults(reps: int = 41, nbytes: int = 1 << 20) -> float:
    """The fault of a fresh 4 KiB page (ns): a copy into a just-mapped buffer less the same copy into a warm one.

    What a read into block-copy's task buffer pays (``sim/host.py``): the
    buffer is fresh anonymous memory, so each page faults as the copy reaches
    it.  Medians of ``reps`` copies of ``nbytes`` each way.
    """
    import mmap
    import time

    src = np.full(nbytes, 7, dtype=np.uint8)
    warm = np.empty(nbytes, dtype=np.uint8)
    warm[:] = src
    fresh_ns, warm_ns = [], []
    for _ in range(reps):
        m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf = np.frombuffer(m, dtype=np.uint8)
        t0 = time.perf_counter_ns()
        buf[:] = src
        t1 = time.perf_counter_ns()
        warm[:] = src
        t2 = time.perf_counter_ns()
        fresh_ns.append(t1 - t0)
        warm_ns.append(t2 - t1)
        del buf
        m.close()
    pages = nbytes // 4096
    return max(statistics.median(fresh_ns) - statistics.median(warm_ns), 0.0) / pages


def _sim(case: Case, setup: Setup, seed: int, file: FileCosts, path) -> dict:
    from ..runner import run_one

    s = run_one(sim_config(case, setup, seed, file, path)).summary
    return {
        "backup_s": s["backup_duration_s"] if case.backup else math.nan,
        "p50_us": s["guest_p50_us"],
        "p99_us": s["guest_p99_us"],
    }


def _real(case: Case, setup: Setup) -> dict:
    from .real import run_real

    r = run_real(case, setup)
    p50, p99 = (np.percentile(r.lat_ns, [50, 99]) / 1e3) if len(r.lat_ns) else (math.nan, math.nan)
    return {"backup_s": r.backup_s, "p50_us": float(p50), "p99_us": float(p99)}


#: what each case reports, real and simulated
METRICS = ("backup_s", "p50_us", "p99_us")


def calibrate(
    out: Path,
    cases: Sequence[Case] = CASES,
    reps: int = 3,
    setup: Setup = SETUP,
    sim_only: bool = False,
    say: Callable[[str], None] = lambda _s: None,
) -> pd.DataFrame:
    """Run ``cases`` (real unless ``sim_only``, and simulated) and write the comparison into ``out``."""
    reals: dict[str, list[dict]] = {}
    if sim_only:
        file, path, tasks = REFERENCE_FILE, REFERENCE_PATH, REFERENCE_TASKS
    else:
        from .real import PathProbe, measure_tasks

        # the path drifts from minute to minute: a round of its probes now and one before each case, pooled
        probe = PathProbe(setup)
        probe.round()
        file, tasks = measure_file(), measure_tasks(setup)
        say(
            f"this machine: tmpfs file 4 KiB read {file.read_4k_ns / 1e3:.1f} us, {file.bytes_per_s / 1e9:.2f} GB/s, "
            f"1 MiB write {file.write_1m_ns / 1e3:.0f} us, into a new file {file.new_write_1m_ns / 1e3:.0f} us, "
            f"a fresh page's fault {file.page_fault_ns / 1e3:.2f} us; "
            f"QEMU's 1 MiB copy task {tasks.one_worker_ns / 1e3:.0f} us"
        )
        for case in cases:
            probe.round()
            reals[case.name] = [_real(case, setup) for _ in range(reps)]
            medians = (f"{m} {_fmt(_median([x[m] for x in reals[case.name]]))}" for m in METRICS)
            say(f"{case.name}: real " + ", ".join(medians))
        path = probe.costs()
        say(
            f"NBD path ({probe.rounds} rounds of probes, pooled): 4 KiB read {path.read_4k_ns / 1e3:.1f} us, "
            f"write {path.write_4k_ns / 1e3:.1f} us, paced {path.paced_4k_ns / 1e3:.1f} us "
            f"(p99 {path.paced_4k_p99_ns / 1e3:.1f})"
        )
        say(f"measured: {file!r}, {path!r}, {tasks!r}")
    rows = []
    for case in cases:
        sims = [_sim(case, setup, seed, file, path) for seed in range(reps)]
        row: dict = {"case": case.name}
        for m in METRICS:
            sv = [x[m] for x in sims]
            row[f"sim_{m}"] = _median(sv)
            if case.name in reals:
                rv = [x[m] for x in reals[case.name]]
                row[f"real_{m}"] = _median(rv)
                row[f"real_{m}_min"] = min(rv)
                row[f"real_{m}_max"] = max(rv)
                row[f"ratio_{m}"] = row[f"sim_{m}"] / row[f"real_{m}"] if row[f"real_{m}"] else math.nan
        rows.append(row)
        say(_line(row))
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "calibration.csv", lambda p: table.to_csv(p, index=False))
    atomic_write(out / "calibration.md", lambda p: p.write_text(_markdown(table, file, path, reps, sim_only, tasks)))
    if not sim_only:
        atomic_write(out / "calibration.png", lambda p: _figure(table, p))
    return table


def _median(v: list[float]) -> float:
    v = [x for x in v if not math.isnan(x)]
    return statistics.median(v) if v else math.nan


def _fmt(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.3g}"


def _line(row: dict) -> str:
    parts = [row["case"]]
    for m in ("backup_s", "p50_us", "p99_us"):
        real = row.get(f"real_{m}")
        parts.append(f"{m} sim {_fmt(row[f'sim_{m}'])}" + (f" real {_fmt(real)}" if real is not None else ""))
    return "; ".join(parts)


def _ok(row: pd.Series, m: str) -> str:
    r = row.get(f"ratio_{m}", math.nan)
    if r is None or math.isnan(r):
        return ""
    return " ✓" if abs(r - 1) <= TARGETS[m] else " ✗"


def _tasks_line(tasks, file: FileCosts, path) -> str:
    """QEMU's own copy task against the model's (a read and a write on the tmpfs devices, through the pool)."""
    # the task's buffer: a fresh mapping, as every 1 MiB buffer is (sim/host.py)
    faults = Allocator(HostConfig(page_fault_cost=int(file.page_fault_ns))).alloc(tasks.task_bytes)[0]
    n = tasks.task_bytes  # a read of the source, a write into the new target file, the faults, two handoffs
    handoffs = 2 * handoff_ns(path, file)
    model = file.request_ns(n, write=False) + file.request_ns(n, write=True, new=True) + faults + handoffs
    return (
        f"QEMU's own {tasks.task_bytes >> 20} MiB copy task (unthrottled backup of a tmpfs image to a new file, "
        f"no guest): {tasks.one_worker_ns / 1e3:.0f} µs with one worker, "
        f"{tasks.many_workers_ns / 1e3:.0f} µs a task with {tasks.workers} ({tasks.parallelism:.2f}x faster); "
        f"the model gives it {model / 1e3:.0f} µs (a read and a write on its tmpfs devices, "
        f"{faults / 1e3:.0f} µs of it the faults of the fresh buffer and {handoffs / 1e3:.0f} µs the thread "
        f"pool's two handoffs): QEMU takes {tasks.one_worker_ns / model:.2f}x as long. Every case here is bound by "
        "the throttle group, so the durations cannot show a task's cost; this line does."
    )


def _markdown(table: pd.DataFrame, file: FileCosts, path, reps: int, sim_only: bool, tasks=None) -> str:
    lines = [
        "# backupsim against a real QEMU",
        "",
        f"Costs: tmpfs file 4 KiB read {file.read_4k_ns / 1e3:.1f} µs, {file.bytes_per_s / 1e9:.2f} GB/s; "
        f"4 KiB / 1 MiB write {file.request_ns(4096, True) / 1e3:.1f} / {file.request_ns(1 << 20, True) / 1e3:.0f} µs, "
        f"into a new file {file.request_ns(4096, True, True) / 1e3:.1f} / "
        f"{file.request_ns(1 << 20, True, True) / 1e3:.0f} µs; "
        f"a fresh page's fault {file.page_fault_ns / 1e3:.2f} µs; "
        f"NBD path at queue depth 1: 4 KiB read {path.read_4k_ns / 1e3:.1f} µs, write {path.write_4k_ns / 1e3:.1f} µs "
        f"back to back, write {path.paced_4k_ns / 1e3:.1f} µs (p99 {path.paced_4k_p99_ns / 1e3:.1f}) paced"
        + (
            f"; to a null-co node 4 KiB read {path.null_read_4k_ns / 1e3:.1f} µs, write "
            f"{path.null_write_4k_ns / 1e3:.1f} µs back to back, write {path.null_paced_4k_ns / 1e3:.1f} µs "
            f"(p99 {path.null_paced_4k_p99_ns / 1e3:.1f}) paced: the loop's wake {path.idle_wake_ns / 1e3:.1f} µs "
            f"(p99 {path.idle_wake_p99_ns / 1e3:.1f}), the thread pool's handoff "
            f"{handoff_ns(path, file) / 1e3:.1f} µs and a sleeping worker's wake {path.pool_wake_ns / 1e3:.1f} µs "
            f"(p99 {path.pool_wake_p99_ns / 1e3:.1f})"
            if path.split
            else ""
        )
        + ". "
        f"{reps} repetitions (real) and {reps} seeds (simulated) per case; medians, real range in brackets.",
        "",
    ]
    if tasks is not None:
        lines += [("Reference machine: " if sim_only else "") + _tasks_line(tasks, file, path), ""]
    head = ["case"]
    for unit in ("backup (s)", "guest p50 (µs)", "guest p99 (µs)"):
        head += [f"{unit} real", f"{unit} sim", "ratio"] if not sim_only else [f"{unit} sim"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in table.iterrows():
        cells = [row["case"]]
        for m in ("backup_s", "p50_us", "p99_us"):
            if sim_only:
                cells.append(_fmt(row[f"sim_{m}"]))
            else:
                cells += [
                    f"{_fmt(row[f'real_{m}'])} [{_fmt(row[f'real_{m}_min'])}, {_fmt(row[f'real_{m}_max'])}]",
                    _fmt(row[f"sim_{m}"]),
                    _fmt(row[f"ratio_{m}"]) + _ok(row, m),
                ]
        lines.append("| " + " | ".join(cells) + " |")
    if not sim_only:
        lines += ["", "Targets: backup duration within 5%, guest p50 and p99 within 25% (✓ met, ✗ missed)."]
    return "\n".join(lines) + "\n"


def _figure(table: pd.DataFrame, p: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2))
    for ax, (m, label) in zip(
        fig.subplots(1, 3), (("backup_s", "backup (s)"), ("p50_us", "guest p50 (µs)"), ("p99_us", "guest p99 (µs)"))
    ):
        real, sim = table[f"real_{m}"].to_numpy(float), table[f"sim_{m}"].to_numpy(float)
        ok = ~(np.isnan(real) | np.isnan(sim))
        if ok.any():
            lo, hi = min(real[ok].min(), sim[ok].min()), max(real[ok].max(), sim[ok].max())
            ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
            ax.scatter(real[ok], sim[ok], s=18)
            for name, x, y in zip(table["case"][ok], real[ok], sim[ok]):
                ax.annotate(name, (x, y), fontsize=6)
            if m != "backup_s":
                ax.set_xscale("log")
                ax.set_yscale("log")
        ax.set_xlabel(f"real {label}")
        ax.set_ylabel(f"simulated {label}")
    fig.tight_layout()
    fig.savefig(p, format="png", dpi=120)
