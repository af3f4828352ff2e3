"""The host's memory (sim/host.py): a fresh buffer's page faults, on memory devices and others, and in block-copy."""

import pytest
from conftest import fixed_device, unit_loop

import sim
from sim.clock import Environment
from sim.devices import Device, device_config
from sim.host import HostConfig, fresh_buffer_ns
from sim.request import BACKUP, GUEST, READ, WRITE, Request

US = 1_000


def test_a_fresh_buffer_faults_each_page_from_the_mmap_threshold_up():
    host = HostConfig(page_fault_cost=2500)
    assert fresh_buffer_ns(host, 64 << 10) == 0  # from the heap's reused memory
    assert fresh_buffer_ns(host, (128 << 10) - 1) == 0
    assert fresh_buffer_ns(host, 128 << 10) == 32 * 2500
    assert fresh_buffer_ns(host, 1 << 20) == 256 * 2500
    assert fresh_buffer_ns(host, (1 << 20) + 1) == 257 * 2500  # a partial page is a page
    assert fresh_buffer_ns(HostConfig(), 1 << 20) == 0  # left out by default
    assert fresh_buffer_ns(HostConfig(page_fault_cost=1000, mmap_threshold="1MiB"), 512 << 10) == 0


def _run(memory: bool):
    # 64 KiB moves in 100 us (fixed_device's bandwidth); every base cost 10 us; two slots
    env = Environment()
    dev = Device(env, device_config({**fixed_device(base="10us", qd=2), "memory": memory}))
    done: dict[str, int] = {}
    task = Request(READ, 0, 64 << 10, BACKUP)
    task.cpu_ns = 300 * US
    dev.submit(task, lambda r: done.setdefault("task", env.now))
    env.call_in(
        50 * US,
        lambda _a: dev.submit(Request(WRITE, 1 << 30, 64 << 10, GUEST, 0), lambda r: done.setdefault("guest", env.now)),
    )
    env.run()
    return done


def test_on_a_memory_device_the_faults_are_part_of_the_copy():
    # the task: base 10 us, then its copy holds the transfer path for 100 + 300 us: done at 410 us.
    # The guest write at 50 us: base to 60 us, its copy waits for the path until 410 us: done at 510 us
    assert _run(memory=True) == {"task": 410 * US, "guest": 510 * US}


def test_elsewhere_the_faults_delay_the_read_but_not_the_device():
    # the task: base 10 us and its faults 300 us before it moves data, 310 to 410 us.
    # The guest write: base 50-60 us, path free: 60-160 us
    assert _run(memory=False) == {"guest": 160 * US, "task": 410 * US}


def _block_copy(page_fault_cost: str, chunk: str = "1MiB", workers: int = 1):
    cfg = {
        "backup": {
            "mode": "block-copy",
            "disk_size": "8MiB",
            "start": "0ns",
            "max_workers": workers,
            "max_chunk": chunk,
        },
        "disk": {**fixed_device(base="10us", qd=64), "memory": True},
        "target": {**fixed_device(base="10us", qd=64), "memory": True},
        "loop": unit_loop(cost="0ns"),
        "host": {"page_fault_cost": page_fault_cost},
        "workload": {"kind": "none"},
        "run": {"baseline": False},
    }
    return sim.run_one(cfg).summary


def test_block_copy_tasks_pay_their_buffers_faults():
    # one worker copies 8 tasks of 1 MiB one after another: each read pays 256 faults of 2 us
    base = _block_copy("0ns")
    faulted = _block_copy("2us")
    assert faulted["copy_tasks"] == base["copy_tasks"] == 8
    assert faulted["backup_duration_s"] - base["backup_duration_s"] == pytest.approx(8 * 256 * 2e-6, abs=1e-9)
    # 64 KiB tasks come from the heap: no faults
    assert (
        _block_copy("2us", chunk="64KiB")["backup_duration_s"] == _block_copy("0ns", chunk="64KiB")["backup_duration_s"]
    )


def test_the_host_section_is_validated():
    with pytest.raises(sim.ConfigError, match="host.page_fault_cost"):
        sim.build_config({"host": {"page_fault_cost": "fast"}})
    with pytest.raises(sim.ConfigError, match="host.mmap_threshold"):
        sim.build_config({"host": {"mmap_threshold": "1KiB"}})
    with pytest.raises(sim.ConfigError, match="disk.memory"):
        sim.build_config({"disk": {"memory": "yes"}})
