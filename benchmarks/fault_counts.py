"""The page faults of block-copy's task buffers: QEMU's daemon, counted, against the model's allocator.

    .venv/bin/python benchmarks/fault_counts.py [--reps 2] [CASE ...]

For each calibration case with a backup (``sim.calibrate.cases``; all of them by
default) this runs the real setup with ``qemu-storage-daemon`` under
``perf stat -e minor-faults`` (package ``linux-perf``), ``--reps`` times, less
the faults of the same daemon in the case without a backup (start-up, the
guest's own requests); and the simulated case at seeds 0, 1 and 2 with the
reference costs, counting the pages :class:`sim.host.Allocator` faults in.
One JSON line per case: real counts, simulated counts, and their medians.

What it checks: whether a task's buffer is fresh memory is glibc's choice
(``sim/host.py``): 1 MiB buffers are mapped afresh each time, shorter ones come
from the heap, which glibc trims when its top grows past twice the largest
mapping freed.  The cases differ in exactly that: many tasks in flight grow
the heap (workers-64, workers-8), a speed limit releases a few per time slice
(speed-50), and copy-before-write splits what is left to copy into short runs
(speed-20, speed-10).  Needs the calibration tools (``backupsim calibrate``
says which) and ``perf``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from sim.calibrate.cases import CASES
from sim.calibrate.real import missing_tools, run_real
from sim.calibrate.simulated import sim_config
from sim.runner import run_one


def real_faults(case, reps: int) -> list[int]:
    """The daemon's minor faults in ``reps`` real runs of ``case``."""
    counts = []
    for _ in range(reps):
        out = Path(tempfile.mkdtemp(prefix="backupsim-faults-")) / "perf.csv"
        try:
            run_real(case, daemon_prefix=["perf", "stat", "-x,", "-e", "minor-faults", "-o", str(out)])
            line = next(row for row in out.read_text().splitlines() if "minor-faults" in row)
            counts.append(int(line.split(",")[0]))
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
    return counts


def sim_faults(case, seeds: int = 3) -> list[int]:
    """The pages the model's allocator faults in, at seeds 0 .. seeds-1."""
    return [run_one(sim_config(case, seed=seed), keep_model=True).model.heap.faulted_pages for seed in range(seeds)]


def say(row: dict) -> None:
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", help="case names (default: every case with a backup)")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    if missing_tools() or shutil.which("perf") is None:
        raise SystemExit("needs qemu-storage-daemon, qemu-img, fio and perf (apt-get install linux-perf)")
    by_name = {c.name: c for c in CASES}
    cases = [by_name[n] for n in args.cases] if args.cases else [c for c in CASES if c.backup]
    idle = statistics.median(real_faults(by_name["no-backup"], args.reps))
    say({"case": "no-backup", "daemon_faults": idle})
    for case in cases:
        real = [n - idle for n in real_faults(case, args.reps)]
        sim = sim_faults(case)
        say(
            {
                "case": case.name,
                "real": real,
                "sim": sim,
                "real_median": statistics.median(real),
                "sim_median": statistics.median(sim),
            }
        )


if __name__ == "__main__":
    main()
