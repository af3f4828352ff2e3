"""How much of a scenario the fast-forward of quiet periods skips, and what it saves.

    .venv/bin/python benchmarks/fast_forward.py [scenarios/seed-review.toml] [--ceiling]

The fast-forward (``sim/loop.py``, issue 13) runs the backup's waits in one
step while nothing else can happen before they end.  For each point of the
scenario (the seed of replication 0; baselines are not run) this runs the
model with and without it, in alternating order, checks that the two give the
same summary, and prints one JSON line: the point's keys, the CPU time of
each run, the loop's iterations, the share of them the fast-forward ran
(``skipped_share``: iterations it computed instead of stepping through),
the waits it skipped, and the clusters copied.  With ``--ceiling`` it also
runs the point without its guest (``workload.kind = "none"``): the backup's
own work, the most any fast-forward of the backup could save.  The last line
sums the points.
"""

from __future__ import annotations

import json
import math
import sys
import time

from sim.metrics import summarize
from sim.model import Model
from sim.scenario import load_scenario


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def _cpu(cfg, fast_forward: bool) -> tuple[float, Model]:
    t = time.process_time()
    model = Model(cfg, fast_forward=fast_forward).run()
    return time.process_time() - t, model


def main(path: str, ceiling: bool) -> None:
    total = {"cpu_on_s": 0.0, "cpu_off_s": 0.0, "iterations": 0, "skipped_iterations": 0, "skipped_waits": 0}
    total["clusters"] = 0
    if ceiling:
        total["alone_cpu_s"] = 0.0
    for i, spec in enumerate(load_scenario(path).runs()):
        if spec.replication:
            continue
        order = (True, False) if i % 2 == 0 else (False, True)
        runs = {ff: _cpu(spec.config, ff) for ff in order}
        (cpu_on, on), (cpu_off, off) = runs[True], runs[False]
        if not _same(summarize(on), summarize(off)):
            raise SystemExit(f"{spec.swept}: the fast-forward changed the summary")
        loop = on.loop
        clusters = on.job.record.copies if on.job is not None else 0
        row = {
            **spec.swept,
            "cpu_on_s": round(cpu_on, 3),
            "cpu_off_s": round(cpu_off, 3),
            "iterations": loop.iterations,
            "skipped_share": round(loop.skipped_iterations / max(loop.iterations, 1), 3),
            "skipped_waits": loop.skipped,
            "clusters": clusters,
        }
        if ceiling:
            alone = spec.config.replace(workload={"kind": "none"})
            row["alone_cpu_s"] = round(_cpu(alone, True)[0], 3)
            total["alone_cpu_s"] += row["alone_cpu_s"]
        sys.stdout.write(json.dumps(row, default=str) + "\n")
        sys.stdout.flush()
        total["cpu_on_s"] += cpu_on
        total["cpu_off_s"] += cpu_off
        total["iterations"] += loop.iterations
        total["skipped_iterations"] += loop.skipped_iterations
        total["skipped_waits"] += loop.skipped
        total["clusters"] += clusters
    summary = {k: round(v, 2) if isinstance(v, float) else v for k, v in total.items()}
    summary["skipped_share"] = round(total["skipped_iterations"] / max(total["iterations"], 1), 3)
    summary["cpu_saved_share"] = round(1 - total["cpu_on_s"] / total["cpu_off_s"], 3)
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else "scenarios/seed-review.toml", "--ceiling" in sys.argv[1:])
