"""Guest workloads, one module each.

Each workload registers itself in :data:`sim.params.WORKLOADS` under its
``workload.kind`` (``@WORKLOADS.register("fio")``) and carries its ``Config``;
a kind that is not built in is looked up among installed plug-ins and as a
``module:Class`` reference.  See :mod:`sim.workloads.base` for what every
guest shares and ``docs/extending.md`` for how to add one.
"""

from __future__ import annotations

import importlib

from ..params import WORKLOADS
from ..recording import Recording
from .base import Guest, RequestStream, WorkloadConfig, workload_config

for _module in (
    "idle",
    "fio",
    "fio_rate",
    "poisson",
    "script",
    "bursty",
    "diurnal",
    "trace",
    "multi",
):  # registered in this order, as `backupsim list` shows them
    importlib.import_module(f".{_module}", __name__)

__all__ = ["WORKLOADS", "Guest", "WorkloadConfig", "RequestStream", "workload_config", "make_guest"]


def make_guest(env, cfg: WorkloadConfig, blk, disk_size: int, draws, recording: Recording | None = None) -> Guest:
    """The guest object for a validated config, recording as ``recording`` says (default: no window, no log)."""
    guest = WORKLOADS.get(cfg.kind)(env, cfg, blk, disk_size, draws)
    if recording is not None:
        guest.stats = recording.guest_stats(guest.paced)
    return guest
