"""The simulated side of a calibration case: the same setup as a backupsim configuration.

:func:`sim_config` turns a :class:`~sim.calibrate.cases.Case` into a run of
backupsim that mirrors :mod:`sim.calibrate.real`:

* the source and target are tmpfs files behind QEMU's ``file`` driver:
  ``memory`` devices whose per-request costs and rates are those of tmpfs
  files (:class:`FileCosts`, measured with fio's ``psync`` engine on
  ``/dev/shm``: reads and writes of a filled file for the source, writes into
  a new sparse file for the target), with up to 64 requests at once (QEMU's
  thread pool, ``max_threads`` 64);
* each request to them goes through QEMU's thread pool (``aio = "threads"``,
  ``[thread_pool]``): the handoff to a worker and back, and a sleeping
  worker's wake (:class:`~sim.calibrate.real.PathCosts`: the file path against
  the null path);
* block-copy's task buffers fault their fresh pages (``host.page_fault_cost``, ``sim.host.Allocator``);
* the loop pays its wake only after a sleep longer than KVM's halt polling
  (``loop.halt_poll``);
* the source carries the case's throttle group (``disk.throttle.bps_total``);
* the guest reaches the block layer through QEMU's NBD export (``[nbd]``), whose
  per-request cost is what fio measures over the unthrottled NBD path to a
  ``null-co`` node at queue depth 1 beyond the loop's completion handler
  (:class:`~sim.calibrate.real.PathCosts`);
* the guest is the ``fio-rate`` workload with the case's fio options;
* the backup is ``block-copy`` with the case's ``max_workers`` and, for a speed
  limit, the ``rate-limit`` policy (block-copy's limiter).

No value here is fitted to a case: every cost comes from the measurements
made before the cases run (or the defaults below, measured on
the reference machine and stated where they are defined).
"""

from __future__ import annotations

from dataclasses import dataclass

from .cases import SETUP, Case, Setup
from .real import PathCosts, TaskCosts

__all__ = ["FileCosts", "sim_config", "handoff_ns", "REFERENCE_FILE", "REFERENCE_PATH", "REFERENCE_TASKS"]


@dataclass(frozen=True)
class FileCosts:
    """This machine's memory, measured with fio ``psync`` on tmpfs files (medians of a 4 KiB and a 1 MiB request).

    * ``read_*``: random reads of a file whose pages all exist (the source image);
    * ``write_*``: random writes into such a file (the guest's writes to the source);
    * ``new_write_*``: writes into a new sparse file (the target image: a backup writes each of its
      clusters once, so every write lands on pages tmpfs must allocate and zero first);
    * ``page_fault_ns``: the fault of a fresh anonymous page (:func:`sim.calibrate.compare.measure_faults`).

    A write left at 0 costs what a read does (the model before writes were measured).
    """

    read_4k_ns: float
    read_1m_ns: float
    page_fault_ns: float = 0.0
    write_4k_ns: float = 0.0
    write_1m_ns: float = 0.0
    new_write_4k_ns: float = 0.0
    new_write_1m_ns: float = 0.0

    @property
    def bytes_per_s(self) -> float:
        return _rate(self.read_4k_ns, self.read_1m_ns)

    def costs(self, new: bool) -> tuple[float, float, float, float]:
        """``(read 4 KiB, read bytes/s, write 4 KiB, write bytes/s)`` of the source (``new`` False) or the target."""
        w4, w1 = (self.new_write_4k_ns, self.new_write_1m_ns) if new else (self.write_4k_ns, self.write_1m_ns)
        if not (w4 and w1):
            w4, w1 = self.read_4k_ns, self.read_1m_ns
        return self.read_4k_ns, self.bytes_per_s, w4, _rate(w4, w1)

    def request_ns(self, nbytes: int, write: bool, new: bool = False) -> float:
        """What the model's device takes for one request of ``nbytes`` (its 4 KiB cost, the rest at its rate)."""
        r4, rbw, w4, wbw = self.costs(new)
        t4, rate = (w4, wbw) if write else (r4, rbw)
        return t4 + (nbytes - 4096) / rate * 1e9


def _rate(t_4k: float, t_1m: float) -> float:
    """Bytes per second beyond the per-request cost: (1 MiB - 4 KiB) over the latency difference."""
    return ((1 << 20) - 4096) / max(t_1m - t_4k, 1.0) * 1e9


#: Every ``REFERENCE_*`` figure comes from one run of ``backupsim calibrate`` on the reference machine (2 vCPUs,
#: 24 GiB, Debian 12, QEMU 7.2.22, fio 3.33, 2026-11-30 13:03, quiet), the run whose table docs/calibration.md
#: shows: the machine's costs vary through the day (a 1 MiB tmpfs read took 514-990 us that day, the paced NBD
#: path's p99 503-696 us), so they are taken together.
#:
#: fio psync on /dev/shm (``measure_file``), and a page fault (``measure_faults``: a 1 MiB copy into fresh memory
#: against one into warm memory; 2401-2796 ns in five earlier runs, 2470 ns from QEMU's null-co backups).
REFERENCE_FILE = FileCosts(
    read_4k_ns=1_640,
    read_1m_ns=585_728,
    page_fault_ns=2_569.8,
    write_4k_ns=1_816,
    write_1m_ns=252_928,
    new_write_4k_ns=3_728,
    new_write_1m_ns=602_112,
)
#: fio over NBD to qemu-storage-daemon, queue depth 1, back to back and paced at 200 IOPS (Poisson), to a tmpfs
#: ``file`` node and to a ``null-co`` node: 10 rounds of 4 s per probe through the run, pooled (``PathProbe``).
REFERENCE_PATH = PathCosts(
    read_4k_ns=57_628,
    write_4k_ns=54_953,
    read_1m_ns=1_604_609,
    paced_4k_ns=225_312,
    paced_4k_p99_ns=503_198.8,
    null_read_4k_ns=25_919,
    null_write_4k_ns=27_521,
    null_paced_4k_ns=136_010,
    null_paced_4k_p99_ns=334_340.5,
)

#: Unthrottled backups of 256 MiB, tmpfs to a new tmpfs file, no guest, medians of 3 (``measure_tasks``).
#: Reported beside the model's task, not used by it.
REFERENCE_TASKS = TaskCosts(task_bytes=1 << 20, one_worker_ns=1_967_743, many_workers_ns=1_382_110)

#: The loop's handler costs of the configuration (``loop.submit_cost`` is replaced by the NBD cost).
COMPLETE_COST_NS = 3_000

#: A virtual CPU idle for less than this is still polling and wakes at once (KVM's ``halt_poll_ns``
#: default, Documentation/virt/kvm/halt-polling.rst).  Measured on the reference machine (2026-11-30,
#: a thread on one vCPU woken through an eventfd from the other after the given idle time, medians of
#: 300): 5-150 us idle, woken in 8-10 us; 200 us, 22 us; 300 us to 5 ms, 70-200 us (docs/calibration.md).
HALT_POLL_NS = 200_000


def handoff_ns(path: PathCosts, file: FileCosts) -> float:
    """The thread pool's handoff: the file path's back-to-back latency less the null path's and the file's own.

    The mean of a 4 KiB read's and a 4 KiB write's; 0 without the null path.
    """
    if not path.split:
        return 0.0
    r4, _, w4, _ = file.costs(new=False)
    read = path.read_4k_ns - path.null_read_4k_ns - r4
    write = path.write_4k_ns - path.null_write_4k_ns - w4
    return max((read + write) / 2, 0.0)


def sim_config(
    case: Case,
    setup: Setup = SETUP,
    seed: int = 0,
    file: FileCosts = REFERENCE_FILE,
    path: PathCosts = REFERENCE_PATH,
) -> dict:
    """The backupsim configuration of ``case`` (a plain dict, as a scenario's base would be)."""

    def tmpfs(new: bool) -> dict:
        r4, rbw, w4, wbw = file.costs(new)
        return {
            "profile": "custom",
            "memory": True,  # a tmpfs file: its reads and writes are the CPU's copies (sim/host.py)
            "aio": "threads",  # the file driver's default: each request through the thread pool
            "queue_depth": 64,
            "read_seq_base": f"{int(r4)}ns",
            "read_rand_base": f"{int(r4)}ns",
            "write_seq_base": f"{int(w4)}ns",
            "write_rand_base": f"{int(w4)}ns",
            "read_bw": int(rbw),
            "write_bw": int(wbw),
        }

    if path.split:
        # the null path's round trip at queue depth 1 = NBD request + completion handler
        nbd_cost = max(int(min(path.null_read_4k_ns, path.null_write_4k_ns) - COMPLETE_COST_NS), 0)
    else:
        # fio's round trip at queue depth 1 = NBD request + file + completion handler
        r4, _, w4, _ = file.costs(new=False)
        nbd_cost = max(int(min(path.read_4k_ns - r4, path.write_4k_ns - w4) - COMPLETE_COST_NS), 0)
    handoff = handoff_ns(path, file)
    start_ns = int(setup.warmup_s * 1e9)
    cfg: dict = {
        "disk": {**tmpfs(new=False), "throttle": {"bps_total": setup.bps_total}},
        "target": tmpfs(new=True),  # a new sparse image
        "loop": {
            "era": "modern",
            "complete_cost": f"{COMPLETE_COST_NS}ns",
            "idle_wake": f"{int(path.idle_wake_ns)}ns",
            "idle_wake_p99": f"{int(path.idle_wake_p99_ns)}ns",
            "halt_poll": f"{HALT_POLL_NS}ns",
        },
        "nbd": {"enabled": True, "request_cost": f"{nbd_cost}ns"},
        # QEMU's file driver hands each request to a worker thread (aio=threads, sim/threadpool.py)
        "thread_pool": {
            "handoff": f"{int(handoff)}ns",
            "wake": f"{int(path.pool_wake_ns)}ns",
            "wake_p99": f"{int(path.pool_wake_p99_ns)}ns",
        },
        # block-copy's task buffers: fresh pages, faulted in by the read, when glibc maps them (sim/host.py)
        "host": {"page_fault_cost": f"{int(file.page_fault_ns)}ns"},
        "workload": {
            "kind": "fio-rate",
            "rw": case.rw,
            "bs": setup.bs,
            "iodepth": setup.iodepth,
            "rate_iops": setup.rate_iops,
            "rate_process": "poisson",
        },
        "run": {"seed": seed, "baseline": False, "max_time": "10min"},
    }
    if case.backup:
        cfg["backup"] = {
            "mode": "block-copy",
            "disk_size": setup.disk_size,
            "start": f"{start_ns}ns",
            "max_workers": case.max_workers,
        }
        cfg["workload"]["duration"] = "backup"
        speed = case.speed(setup)
        cfg["policy"] = {"name": "rate-limit", "speed": speed} if speed else {"name": "none"}
    else:
        cfg["backup"] = {"mode": "none", "disk_size": setup.disk_size, "start": f"{start_ns}ns"}
        cfg["workload"]["duration"] = f"{start_ns + int(setup.no_backup_s * 1e9)}ns"
    return cfg
