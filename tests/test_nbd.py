"""The NBD export (``[nbd]``): 16 requests in service per connection, the rest wait in the socket."""

from conftest import fixed_device, free_loop

import sim

MS = 1_000_000


def _cfg(n: int, **nbd) -> dict:
    # n 4 KiB reads sent at once at 1 ms; a device that serves 64 at once in exactly 1 ms
    # (no transfer time), loop costs 0 and a request cost of 0 unless given
    return {
        "disk": fixed_device(base="1ms", bw=2 * 10**18, qd=64),
        "loop": free_loop(),
        "nbd": {"enabled": True, "request_cost": "0ns", **nbd},
        "backup": {"mode": "none", "disk_size": "4MiB"},
        "workload": {"kind": "script", "requests": [["1ms", "r", f"{i * 4}KiB", "4KiB"] for i in range(n)]},
        "run": {"baseline": False, "keep_requests": True},
    }


def _latencies(cfg: dict) -> list[int]:
    res = sim.run_one(cfg, keep_model=True)
    frame = res.requests
    return sorted((frame["t_done_ns"] - frame["t_submit_ns"]).tolist())


def test_the_seventeenth_request_waits_in_the_socket_for_a_reply():
    lat = _latencies(_cfg(17))
    # 16 in service finish after 1 ms; the 17th is read when the first reply is sent, then takes 1 ms,
    # and its latency counts from its send (1 ms), socket wait included
    assert lat == [MS] * 16 + [2 * MS]


def test_a_second_connection_has_its_own_sixteen():
    assert _latencies(_cfg(17, max_requests=8)) == [MS] * 8 + [2 * MS] * 8 + [3 * MS]


def test_the_request_cost_is_loop_cpu_before_the_block_layer():
    # 2 requests, 10 us each on the one loop: the second is read after the first
    lat = _latencies(_cfg(2, request_cost="10us"))
    assert lat == [10_000 + MS, 20_000 + MS]


def test_request_buffers_come_from_the_heap_and_only_the_first_faults():
    # Each request's 4 KiB buffer (page-aligned, sim/host.py) pads to 8256 bytes: below the mmap threshold, so
    # the first grows the empty heap and its fill faults 2 pages (the lead's and the buffer's); freed, it goes
    # back to the top, whose pages stay in memory, and the next request's buffer is those pages again.
    # A write's payload is read into it by the loop, so the faults add to the request's loop cost; a read's
    # data is the device's, so they come before the device moves it (a device that is not memory)
    for op in ("r", "w"):
        cfg = _cfg(1)
        cfg["workload"]["requests"] = [["1ms", op, "0KiB", "4KiB"], ["5ms", op, "4KiB", "4KiB"]]
        cfg["host"] = {"page_fault_cost": "3us"}
        assert _latencies(cfg) == [MS, MS + 2 * 3_000], op
        cfg["host"] = {"page_fault_cost": "0ns"}
        assert _latencies(cfg) == [MS, MS], op
