"""Shared helpers: small, exactly computable configurations."""

from __future__ import annotations

import pytest


def fixed_device(base: str = "100us", bw: int = 655_360_000, qd: int = 1, **extra) -> dict:
    """A device whose every base cost is ``base``; 64 KiB moves in 100 us at the default ``bw``."""
    return {
        "profile": "custom",
        "queue_depth": qd,
        "read_seq_base": base,
        "read_rand_base": base,
        "write_seq_base": base,
        "write_rand_base": base,
        "read_bw": bw,
        "write_bw": bw,
        **extra,
    }


def unit_loop(era: str = "modern", cost: str = "1us", iteration_cost: str = "0ns") -> dict:
    """Every handler costs ``cost``; no CPU between an iteration's handlers and its timers unless asked."""
    return {
        "era": era,
        "submit_cost": cost,
        "complete_cost": cost,
        "backup_step_cost": cost,
        "wake_cost": cost,
        "iteration_cost": iteration_cost,
    }


def free_loop(era: str = "modern") -> dict:
    return unit_loop(era, "0ns")


@pytest.fixture
def tiny() -> dict:
    """Two 64 KiB clusters, fixed 100 us devices, 1 us loop costs, no guest."""
    return {
        "backup": {"disk_size": "128KiB", "cluster_size": "64KiB", "start": "1ms"},
        "disk": fixed_device(),
        "target": fixed_device(),
        "loop": unit_loop(),
        "policy": {"name": "none"},
        "workload": {"kind": "none"},
        "run": {"baseline": False},
    }


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden files from the model")


def tiny_batch(name: str, root_seed: int, sweep: str = "", description: str = "") -> str:
    """A small scenario (8 MiB disk, fio guest) for batch, analysis and report tests."""
    desc = f'description = "{description}"\n' if description else ""
    return f"""
name = "{name}"
{desc}root_seed = {root_seed}
replications = 2
[base.disk]
profile = "sata-ssd"
[base.target]
profile = "hdd"
[base.backup]
disk_size = "8MiB"
cluster_size = "64KiB"
start = "50ms"
[base.workload]
kind = "fio"
rw = "randrw"
rwmixread = 70
bs = "4KiB"
iodepth = 4
[base.run]
max_time = "20s"
[sweep]
policy = [{{ name = "none" }}, {{ name = "fixed-sleep", sleep = "1us" }}]
{sweep}"""


FIO_BATCH = """
name = "{name}"
root_seed = 9
replications = 2
[base.backup]
disk_size = "{size}"
start = "10ms"
[base.workload]
kind = "fio"
iodepth = 8
[sweep]
policy = [{{ name = "none" }}, {{ name = "fixed-sleep", sleep = "1us" }}]
"""


def fio_batch_file(tmp_path, name: str, size: str):
    """A two-policy, two-replication fio batch scenario written to ``tmp_path``; returns its path."""
    f = tmp_path / f"{name}-{size}.toml"
    f.write_text(FIO_BATCH.format(name=name, size=size))
    return f
