"""The host's memory (sim/host.py): a fresh buffer's page faults, on memory devices and others, and in block-copy."""

import pytest
from conftest import fixed_device, unit_loop
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.clock import Environment
from sim.devices import Device, device_config
from sim.host import NO_BUFFER, Allocator, HostConfig
from sim.request import BACKUP, GUEST, READ, WRITE, Request

US = 1_000


MIB = 1 << 20
#: glibc's padded request for a page-aligned buffer of 1 MiB: request2size(request2size(1 MiB) + 4096 + 32)
PADDED_1M = ((MIB + 8 + 15) & ~15) + 4096 + 32 + 8 + 15 & ~15
#: its mapping: the padded size and a header rounded up to pages, less the 4080-byte lead that aligns the buffer
CHUNK_1M = -(-(PADDED_1M + 8) // 4096) * 4096 - 4080


def test_a_mapped_buffer_faults_each_page_and_its_headers_page():
    heap = Allocator(HostConfig(page_fault_cost=2500))
    ns, handle = heap.alloc(MIB)  # 1 MiB + 4 KiB + 64 padded: past the 128 KiB threshold
    assert (ns, handle) == (257 * 2500, (0, CHUNK_1M, True))
    assert PADDED_1M == 1052736 and CHUNK_1M == 1052688
    heap.free(handle)
    # the dynamic threshold: freeing the mapping raises it to the chunk's size, the trim threshold to twice that
    assert (heap.threshold, heap.trim) == (CHUNK_1M, 2 * CHUNK_1M)
    # a 1 MiB buffer pads to more than the chunk it got: mapped afresh every time (a C loop measured 257.0 faults)
    assert heap.alloc(MIB)[0] == 257 * 2500
    assert heap.faulted_pages == 514


def test_below_the_raised_threshold_buffers_come_from_the_heap_and_fault_once():
    heap = Allocator(HostConfig(page_fault_cost=1))
    heap.free(heap.alloc(MIB)[1])
    # 512 KiB: the heap grows by it plus M_TOP_PAD; its pages, from the heap's start, fault as it fills them
    ns, handle = heap.alloc(512 << 10)
    padded = ((512 << 10) + 23 & ~15) + 4096 + 55 & ~15
    assert heap.brk == -(-(padded + (128 << 10) + 32) // 4096) * 4096
    assert ns == -(-(4096 + (512 << 10)) // 4096)  # from address 0 to the buffer's end (data at 4096)
    heap.free(handle)
    # freed into the top, which keeps its pages (less than the 2 MiB trim threshold): the next one faults nothing
    assert (heap.top, heap.free_at) == (0, {})
    assert heap.alloc(512 << 10)[0] == 0


def test_a_large_top_serves_a_1mib_buffer_and_a_trim_gives_its_pages_back():
    heap = Allocator(HostConfig(page_fault_cost=1))
    heap.free(heap.alloc(MIB)[1])  # threshold raised to CHUNK_1M
    first = heap.alloc(1000 << 10)
    heap.free(first[1])
    assert heap.brk - heap.top >= PADDED_1M + 32  # the top now holds a 1 MiB buffer's padded request
    ns, big = heap.alloc(MIB)
    # from the top: only the pages past the last buffer's end (4 KiB + 1000 KiB, 251 pages) to this one's
    # (4 KiB + 1 MiB, 257 pages) are new
    assert not big[2] and ns == 257 - 251
    heap.free(big)
    # two buffers at once grow the top past the 2 MiB trim threshold when both are freed: the heap shrinks
    a, b = heap.alloc(1000 << 10)[1], heap.alloc(1000 << 10)[1]
    heap.free(a)
    heap.free(b)
    assert heap.brk - heap.top < heap.trim
    assert heap.resident == heap.brk  # the pages beyond are gone: the next growth faults them again


def test_faults_are_left_out_by_default():
    heap = Allocator(HostConfig())
    assert heap.alloc(MIB) == (0, NO_BUFFER)
    assert heap.faulted_pages == 0


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
    # one worker copies 8 tasks of 1 MiB one after another: each buffer is mapped afresh (sim/host.py), so each
    # read pays 257 faults of 2 us (its 256 pages and its mapping's header page)
    base = _block_copy("0ns")
    faulted = _block_copy("2us")
    assert faulted["copy_tasks"] == base["copy_tasks"] == 8
    assert faulted["backup_duration_s"] - base["backup_duration_s"] == pytest.approx(8 * 257 * 2e-6, abs=1e-9)
    # 64 KiB tasks come from the heap: the first grows it and faults its 16 pages and its header's page, the
    # others reuse them
    small = _block_copy("2us", chunk="64KiB")["backup_duration_s"]
    assert small - _block_copy("0ns", chunk="64KiB")["backup_duration_s"] == pytest.approx(17 * 2e-6, abs=1e-9)


def test_the_host_section_is_validated():
    with pytest.raises(sim.ConfigError, match="host.page_fault_cost"):
        sim.build_config({"host": {"page_fault_cost": "fast"}})
    with pytest.raises(sim.ConfigError, match="host.mmap_threshold"):
        sim.build_config({"host": {"mmap_threshold": "1KiB"}})
    with pytest.raises(sim.ConfigError, match="disk.memory"):
        sim.build_config({"disk": {"memory": "yes"}})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 40)), max_size=60))
def test_the_heap_stays_tiled_by_its_chunks(steps):
    """After any sequence of allocations and frees, live chunks, free chunks and the top tile the heap
    exactly, no two free chunks touch (coalescing is complete), and none touches the top."""
    heap = Allocator(HostConfig(page_fault_cost=1))
    live: list[tuple[int, int, bool]] = []
    for alloc, size in steps:
        if alloc or not live:
            ns, handle = heap.alloc(size * (48 << 10))  # 48 KiB to 1.9 MiB: either side of every threshold
            assert ns >= 0
            live.append(handle)
        else:
            heap.free(live.pop(size % len(live)))
        pieces = sorted([(a, n) for a, n, mapped in live if not mapped] + list(heap.free_at.items()))
        pos = 0
        for at, n in pieces:
            assert at == pos  # no gap, no overlap
            pos = at + n
        assert pos == heap.top <= heap.brk
        ends = {at + n for at, n in heap.free_at.items()}
        assert not ends & set(heap.free_at) and heap.top not in ends
        assert heap.resident <= heap.brk  # what is in memory lies in the heap


def test_zero_tasks_have_no_buffer():
    # a task of zeroes is written as write-zeroes without a read: no buffer, nothing to free
    cfg = {
        "backup": {"mode": "block-copy", "disk_size": "8MiB", "start": "0ns", "zero_fraction": 0.5, "max_workers": 1},
        "disk": fixed_device(base="10us", qd=64),
        "target": fixed_device(base="10us", qd=64),
        "loop": unit_loop(cost="0ns"),
        "host": {"page_fault_cost": "2us"},
        "workload": {"kind": "none"},
        "run": {"baseline": False},
    }
    summary = sim.run_one(cfg).summary
    assert summary["complete"] and summary["zero_clusters"] > 0
