"""Wall time and peak memory of one backup against the disk's size, through ``backupsim run``.

    .venv/bin/python benchmarks/scale.py 1GiB 16GiB 64GiB 1TiB

For each size, runs ``backupsim run benchmarks/scale.toml --set backup.disk_size=SIZE
--jobs 1`` in a fresh process (into a temporary folder, report included) and prints one
JSON line: the size, the wall time of the whole command, the CPU time of all its processes
(user and system: what other work on the machine moves least), the peak resident memory of the
largest process it ran (``getrusage(RUSAGE_CHILDREN).ru_maxrss``, the batch runs its run
in a worker process), the kernel that ran (``python`` or ``mypyc``: the installed one; the
command runs from its results folder, so that a checkout's ``sim/`` cannot shadow it), and
from the stored ``runs.parquet`` the simulated time, the guest requests and clusters copied,
and simulated operations per wall second.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
_WRAP = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); print(u.ru_utime + u.ru_stime, u.ru_maxrss)"
)


def measure(size: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="backupsim-scale-") as tmp:
        cmd = [
            sys.executable, "-m", "sim", "run", str(HERE / "scale.toml"),
            "--set", f"backup.disk_size={size}", "--jobs", "1", "--out", tmp,
        ]  # fmt: skip
        t0 = time.perf_counter()
        # a fresh parent per size, so that the peak is this size's alone
        # from the results folder, not from this checkout: `python -m sim` there would import the
        # checkout's sources, not the installed (possibly compiled) kernel
        out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], check=True, capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - t0
        cpu, peak = out.stdout.split()[-2:]
        row = pd.read_parquet(Path(tmp) / "runs.parquet").iloc[0]
        kernel = json.loads((Path(tmp) / "manifest.json").read_text())["versions"]["kernel"]
    ops = int(row["guest_ops"]) + int(row["backup_clusters"])
    return {
        "disk_size": size,
        "kernel": kernel,
        "status": row["status"],
        "wall_s": round(wall, 1),
        "cpu_s": round(float(cpu), 1),
        "peak_rss_mib": round(int(peak) / 1024, 1),
        "simulated_s": round(float(row["sim_time_s"]), 1),
        "guest_ops": int(row["guest_ops"]),
        "cluster_copies": int(row["backup_clusters"]),
        "ops_per_wall_s": round(ops / wall),
    }


if __name__ == "__main__":
    for size in sys.argv[1:] or ["1GiB"]:
        sys.stdout.write(json.dumps(measure(size)) + "\n")
        sys.stdout.flush()
