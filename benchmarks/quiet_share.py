"""How much of a scenario a fast-forward of the backup's quiet periods could skip, at most.

    .venv/bin/python benchmarks/quiet_share.py [scenarios/seed-review.toml]

A fast-forward copies, in one step, the clusters that land while no guest
request is in flight (issue 13).  For each point of the scenario (the seed of
replication 0) this runs the model and prints one JSON line: the policy and
loop keys, the run's CPU time, the CPU time of the same run without its guest
(``workload.kind = "none"``: the backup's own work, which no fast-forward of
the backup can go below zero on), and the share of clusters whose copy lands
with no guest request in flight.  The last line sums them: the backup's share
of the CPU times the quiet share of its clusters bounds what a fast-forward
that made quiet copies free would save.  Baselines are not run (they have no
backup to skip).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from sim.metrics import guest_frame
from sim.model import Model
from sim.scenario import load_scenario


def main(path: str) -> None:
    total = {"cpu_s": 0.0, "backup_alone_cpu_s": 0.0, "clusters": 0, "quiet_clusters": 0}
    for spec in load_scenario(path).runs():
        if spec.replication:
            continue
        cfg = spec.config.replace(**{"run.keep_requests": True})
        t = time.process_time()
        model = Model(cfg).run()
        cpu = time.process_time() - t
        frame = guest_frame(model.guest)
        submitted = np.sort(frame["t_submit_ns"].to_numpy())
        done = np.sort(frame["t_done_ns"].to_numpy())
        landed = np.array(model.job.record.copy_t if model.job is not None else [])
        in_flight = np.searchsorted(submitted, landed, side="right") - np.searchsorted(done, landed, side="right")
        quiet = int((in_flight == 0).sum())
        alone = cfg.replace(**{"workload": {"kind": "none"}, "run.keep_requests": False})
        t = time.process_time()
        Model(alone).run()
        cpu_alone = time.process_time() - t
        row = {**spec.swept, "cpu_s": round(cpu, 3), "backup_alone_cpu_s": round(cpu_alone, 3)}
        row["quiet_share"] = round(quiet / len(landed), 3) if len(landed) else None
        sys.stdout.write(json.dumps(row, default=str) + "\n")
        sys.stdout.flush()
        total["cpu_s"] += cpu
        total["backup_alone_cpu_s"] += cpu_alone
        total["clusters"] += len(landed)
        total["quiet_clusters"] += quiet
    backup_share = total["backup_alone_cpu_s"] / total["cpu_s"]
    quiet_share = total["quiet_clusters"] / max(total["clusters"], 1)
    summary = {
        **{k: round(v, 2) for k, v in total.items()},
        "backup_share": round(backup_share, 3),
        "quiet_share": round(quiet_share, 3),
        "at_most_skipped": round(backup_share * quiet_share, 3),
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "scenarios/seed-review.toml")
