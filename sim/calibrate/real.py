"""The real side of a calibration case: qemu-storage-daemon, a throttle group, NBD, fio, QMP.

:func:`run_real` runs one :class:`~sim.calibrate.cases.Case` on this machine:

1. source and target raw images on a tmpfs (``/dev/shm``), the source filled
   with random data (every extent allocated, so NBD reads are real reads);
2. ``qemu-storage-daemon`` with a throttle group of ``bps_total`` on the
   source (``--object throttle-group``, a ``throttle`` filter node), the
   throttle node exported over NBD on a Unix socket, QMP on another;
3. fio as the guest (``ioengine=nbd``, 4 KiB random I/O, ``rate_iops`` with
   ``rate_process=poisson``, ``iodepth``), writing its ``lat`` log with Unix
   epoch times (``log_unix_epoch``);
4. after the warm-up, ``blockdev-backup`` of the throttle node (``sync=full``,
   the case's ``speed`` and ``x-perf.max-workers``) over QMP; the backup window
   runs from the job's ``running`` status event to ``BLOCK_JOB_COMPLETED``
   (QEMU's own event timestamps);
5. the guest latency percentiles of the requests fio *started* in that window
   (start = log time - latency; the log time is the reap time, in whole ms).

:class:`PathProbe` measures the NBD path at queue depth 1 (to the file and
to a ``null-co`` node, which tells the thread pool's cost apart), a round
before the cases and one before each, and :func:`measure_tasks` QEMU's own
copy task (unthrottled backups without a guest, one worker and 64), before
the cases.

The QMP client is QEMU's own ``qemu.qmp`` package (optional dependency
``backupsim[calibrate]``).  Nothing here is imported by the model.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cases import SETUP, Case, Setup

__all__ = [
    "RealResult",
    "PathCosts",
    "TaskCosts",
    "run_real",
    "PathProbe",
    "measure_tasks",
    "missing_tools",
    "INSTALL_HINT",
]

TOOLS = ("qemu-storage-daemon", "qemu-img", "fio")
INSTALL_HINT = (
    "install them with: apt-get update && apt-get install -y qemu-system-common qemu-utils fio "
    "(and pip install 'backupsim[calibrate]' for the QMP client, qemu.qmp)"
)


@dataclass
class RealResult:
    """What one real run measured."""

    case: str
    backup_s: float  # the backup's duration (NaN without a backup)
    lat_ns: np.ndarray  # fio lat of the requests started in the window
    window_s: float
    qemu_version: str
    fio_version: str


def missing_tools() -> list[str]:
    """The programs (and the QMP package) this machine lacks."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    try:
        import qemu.qmp  # noqa: F401
    except ImportError:
        missing.append("python package qemu.qmp")
    return missing


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def _fill(path: Path, size: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        step = 1 << 20
        for _ in range(size // step):
            f.write(rng.integers(0, 256, step, dtype=np.uint8).tobytes())


def _daemon_args(d: Path, setup: Setup, throttle: bool = True) -> list[str]:
    if throttle:
        source = [
            "--object",
            f"throttle-group,id=tg0,x-bps-total={setup.bps_total}",
            "--blockdev",
            f"driver=file,node-name=src-file,filename={d / 'src.raw'}",
            "--blockdev",
            "driver=raw,node-name=src-raw,file=src-file",
            "--blockdev",
            "driver=throttle,node-name=src,throttle-group=tg0,file=src-raw",
        ]
    else:
        source = [
            "--blockdev",
            f"driver=file,node-name=src-file,filename={d / 'src.raw'}",
            "--blockdev",
            "driver=raw,node-name=src,file=src-file",
        ]
    return [
        "qemu-storage-daemon",
        "--chardev",
        f"socket,path={d / 'qmp.sock'},server=on,wait=off,id=qmp0",
        "--monitor",
        "chardev=qmp0",
        *source,
        "--blockdev",
        f"driver=file,node-name=tgt-file,filename={d / 'tgt.raw'}",
        "--blockdev",
        "driver=raw,node-name=tgt,file=tgt-file",
        "--nbd-server",
        f"addr.type=unix,addr.path={d / 'nbd.sock'}",
        "--export",
        "type=nbd,id=exp0,node-name=src,name=src,writable=on",
    ]


def _fio_args(d: Path, case: Case, setup: Setup) -> list[str]:
    return [
        "fio",
        "--name=guest",
        "--ioengine=nbd",
        f"--uri=nbd+unix:///src?socket={d / 'nbd.sock'}",
        f"--rw={case.rw}",
        f"--bs={setup.bs}",
        f"--iodepth={setup.iodepth}",
        f"--rate_iops={setup.rate_iops}",
        "--rate_process=poisson",
        "--norandommap",
        "--randrepeat=1",
        "--time_based",
        "--runtime=600",
        f"--write_lat_log={d / 'fio'}",
        "--log_unix_epoch=1",
        "--output-format=terse",
    ]


def _wait_for(path: Path, timeout: float = 10.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


def _event_time(ev: Any) -> float:
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


async def _backup(qmp_path: Path, case: Case, setup: Setup) -> tuple[float, float]:
    from qemu.qmp import EventListener, QMPClient

    qmp = QMPClient("backupsim-calibrate")
    await qmp.connect(str(qmp_path))
    try:
        args: dict = {"job-id": "bk", "device": "src", "target": "tgt", "sync": "full"}
        if case.speed(setup):
            args["speed"] = case.speed(setup)
        args["x-perf"] = {"max-workers": case.max_workers}
        t_start = t_end = None
        listener = EventListener()
        with qmp.listen(listener):
            await qmp.execute("blockdev-backup", args)
            async for msg in listener:
                ev: Any = msg
                name = ev["event"]
                data = ev.get("data", {})
                if name == "JOB_STATUS_CHANGE" and data.get("status") == "running" and t_start is None:
                    t_start = _event_time(ev)
                if name in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED") and data.get("device") == "bk":
                    if data.get("error"):
                        raise RuntimeError(f"backup failed: {data['error']}")
                    t_end = _event_time(ev)
                    break
        assert t_start is not None and t_end is not None
        return t_start, t_end
    finally:
        await qmp.disconnect()


async def _quit(qmp_path: Path) -> None:
    from qemu.qmp import QMPClient

    qmp = QMPClient("backupsim-calibrate")
    await qmp.connect(str(qmp_path))
    await _send_quit(qmp)


async def _send_quit(qmp) -> None:
    """``quit``; the daemon closes the socket as it goes, which the client reports as an error."""
    try:
        await qmp.execute("quit")
    except Exception:
        pass
    try:
        await qmp.disconnect()
    except Exception:
        pass


def _lat_log(d: Path) -> np.ndarray:
    """fio's lat log: (start_s, lat_ns) per request; start = reap time - latency."""
    rows = []
    for p in sorted(d.glob("fio_lat*.log")):
        for line in p.read_text().splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) >= 2:
                t_ms, lat = int(parts[0]), int(parts[1])
                rows.append((t_ms / 1e3 - lat / 1e9, lat))
    return np.array(rows, dtype=float).reshape(-1, 2)


def run_real(
    case: Case, setup: Setup = SETUP, workdir: str | None = None, daemon_prefix: Sequence[str] = ()
) -> RealResult:
    """Run ``case`` for real; raises ``RuntimeError`` when a tool fails.

    ``daemon_prefix`` runs the daemon under another command (``perf stat ...``).
    """
    tmpfs = "/dev/shm" if Path("/dev/shm").is_dir() else None
    d = Path(tempfile.mkdtemp(prefix="backupsim-cal-", dir=workdir or tmpfs))
    daemon = fio = None
    try:
        _fill(d / "src.raw", setup.disk_size)
        with open(d / "tgt.raw", "wb") as f:
            f.truncate(setup.disk_size)
        daemon = subprocess.Popen(
            [*daemon_prefix, *_daemon_args(d, setup)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _wait_for(d / "nbd.sock")
        _wait_for(d / "qmp.sock")
        fio = subprocess.Popen(_fio_args(d, case, setup), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=d)
        time.sleep(setup.warmup_s)
        if case.backup:
            t0, t1 = asyncio.run(_backup(d / "qmp.sock", case, setup))
        else:
            t0 = time.time()
            time.sleep(setup.no_backup_s)
            t1 = time.time()
        time.sleep(setup.tail_s)
        fio.send_signal(signal.SIGINT)
        _, err = fio.communicate(timeout=30)
        if not list(d.glob("fio_lat*.log")):  # fio exits non-zero on SIGINT; its log is what counts
            raise RuntimeError(f"fio wrote no latency log (exit {fio.returncode}): {err.decode()[-400:]}")
        asyncio.run(_quit(d / "qmp.sock"))
        daemon.wait(timeout=30)
        log = _lat_log(d)
        inside = (log[:, 0] >= t0) & (log[:, 0] <= t1)
        return RealResult(
            case=case.name,
            backup_s=(t1 - t0) if case.backup else float("nan"),
            lat_ns=log[inside, 1],
            window_s=t1 - t0,
            qemu_version=_version(["qemu-storage-daemon", "--version"]),
            fio_version=_version(["fio", "--version"]),
        )
    finally:
        for p in (fio, daemon):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)


@dataclass
class PathCosts:
    """The unthrottled NBD path of this machine, measured with fio at queue depth 1.

    The ``null_*`` figures are the same path to a ``null-co`` node, which completes
    in the request's coroutine: no file, no thread pool (0: not measured).
    """

    read_4k_ns: float  # median fio lat of a 4 KiB read, back to back
    write_4k_ns: float
    read_1m_ns: float  # median fio lat of a 1 MiB read
    paced_4k_ns: float = 0.0  # median fio lat of a 4 KiB write paced at 200 IOPS (every thread asleep between)
    paced_4k_p99_ns: float = 0.0  # its 99th percentile
    null_read_4k_ns: float = 0.0
    null_write_4k_ns: float = 0.0
    null_paced_4k_ns: float = 0.0
    null_paced_4k_p99_ns: float = 0.0

    @property
    def split(self) -> bool:
        """Whether the null path was measured, so the loop's wake and the thread pool's can be told apart."""
        return bool(self.null_write_4k_ns and self.null_paced_4k_ns)

    @property
    def idle_wake_ns(self) -> float:
        """What the loop's wake costs a request: paced minus back to back, on the null path.

        The model's loop sleeps twice per request on an idle path (until the
        request arrives, and until the device completes it), but only the first
        sleep is long enough for its CPU to stop polling (``loop.halt_poll``).
        Without the null path, the file path's difference stands for all of it
        (the thread pool's wake included).
        """
        if self.split:
            return max(self.null_paced_4k_ns - self.null_write_4k_ns, 0.0)
        return max(self.paced_4k_ns - self.write_4k_ns, 0.0)

    @property
    def idle_wake_p99_ns(self) -> float:
        """The 99th percentile of that wake, the same way."""
        if self.split:
            return max(self.null_paced_4k_p99_ns - self.null_write_4k_ns, 0.0)
        return max(self.paced_4k_p99_ns - self.write_4k_ns, 0.0)

    @property
    def pool_wake_ns(self) -> float:
        """What a sleeping thread-pool worker costs: the file path's paced excess beyond the null path's."""
        if not self.split:
            return 0.0
        return max((self.paced_4k_ns - self.write_4k_ns) - self.idle_wake_ns, 0.0)

    @property
    def pool_wake_p99_ns(self) -> float:
        """The 99th percentile of that wake, from the 99th percentiles the same way (at least the median)."""
        if not self.split:
            return 0.0
        return max((self.paced_4k_p99_ns - self.write_4k_ns) - self.idle_wake_p99_ns, self.pool_wake_ns)

    @property
    def bytes_per_s(self) -> float:
        """The path's rate beyond its per-request cost: (1 MiB - 4 KiB) over the latency difference."""
        return ((1 << 20) - 4096) / max(self.read_1m_ns - self.read_4k_ns, 1.0) * 1e9


def _fio_qd1(d: Path, key: str, rw: str, bs: str, seconds: float, extra: list[str]) -> list[int]:
    """fio at queue depth 1 over the export on ``d``: every request's ``lat`` in ns."""
    prefix = d / f"p-{key}"
    subprocess.run(
        [
            "fio",
            f"--name={key}",
            "--ioengine=nbd",
            f"--uri=nbd+unix:///src?socket={d / 'nbd.sock'}",
            f"--rw={rw}",
            f"--bs={bs}",
            "--iodepth=1",
            "--time_based",
            f"--runtime={seconds}",
            f"--write_lat_log={prefix}",
            "--output-format=terse",
            *extra,
        ],
        capture_output=True,
        check=True,
        cwd=d,
        timeout=60,
    )
    return [int(line.split(",")[1]) for p in d.glob(f"p-{key}_lat*.log") for line in p.read_text().splitlines()]


class PathProbe:
    """The NBD path at queue depth 1, probed in rounds spread over a calibration and pooled.

    A round runs fio over NBD to an unthrottled export of a tmpfs image, then of a
    ``null-co`` node: 4 KiB reads and writes back to back, 4 KiB writes paced at the
    guest's rate (``rate_iops``, Poisson), and 1 MiB reads of the file.  Each probe
    is ``seconds`` long.  :meth:`costs` gives each figure over the requests of every
    round so far: a paced probe's 99th percentile is its 8th-slowest request of
    800 in one round, and this machine's path drifts from minute to minute, so a
    calibration probes before each case (:func:`sim.calibrate.compare.calibrate`)
    and the model gets the path of the whole run, not of the minute before it.
    """

    def __init__(self, setup: Setup = SETUP, workdir: str | None = None, seconds: float = 4.0):
        self.setup = setup
        self.workdir = workdir
        self.seconds = seconds
        self.lat: dict[str, list[np.ndarray]] = {}  # probe -> one array of fio lat (ns) per round
        self.rounds = 0

    def round(self) -> None:
        """One round: both nodes, every probe."""
        tmpfs = "/dev/shm" if Path("/dev/shm").is_dir() else None
        d = Path(tempfile.mkdtemp(prefix="backupsim-path-", dir=self.workdir or tmpfs))
        daemon = None
        paced = [f"--rate_iops={self.setup.rate_iops}", "--rate_process=poisson"]
        nodes = {
            "": [
                "--blockdev",
                f"driver=file,node-name=src-file,filename={d / 'src.raw'}",
                "--blockdev",
                "driver=raw,node-name=src,file=src-file",
            ],
            # completes in the request's coroutine (block/null.c): the NBD path and the loop, nothing else
            "null-": ["--blockdev", f"driver=null-co,node-name=src,size={64 << 20},read-zeroes=on"],
        }
        try:
            _fill(d / "src.raw", 64 << 20)
            for node, blockdev in nodes.items():
                for sock in ("qmp.sock", "nbd.sock"):
                    (d / sock).unlink(missing_ok=True)
                args = [
                    "qemu-storage-daemon",
                    "--chardev",
                    f"socket,path={d / 'qmp.sock'},server=on,wait=off,id=qmp0",
                    "--monitor",
                    "chardev=qmp0",
                    *blockdev,
                    "--nbd-server",
                    f"addr.type=unix,addr.path={d / 'nbd.sock'}",
                    "--export",
                    "type=nbd,id=exp0,node-name=src,name=src,writable=on",
                ]
                daemon = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                _wait_for(d / "nbd.sock")
                _wait_for(d / "qmp.sock")
                probes = [
                    ("r4", "randread", "4k", []),
                    ("w4", "randwrite", "4k", []),
                    ("paced", "randwrite", "4k", paced),
                ]
                if not node:
                    probes.append(("r1m", "randread", "1m", []))
                for key, rw, bs, extra in probes:
                    lat = _fio_qd1(d, node + key, rw, bs, self.seconds, extra)
                    self.lat.setdefault(node + key, []).append(np.asarray(lat, dtype=float))
                    for log in d.glob(f"p-{node}{key}_lat*.log"):
                        log.unlink()  # the next probe of this name writes its own
                asyncio.run(_quit(d / "qmp.sock"))
                daemon.wait(timeout=30)
            self.rounds += 1
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            shutil.rmtree(d, ignore_errors=True)

    def costs(self) -> PathCosts:
        """Every figure over the requests of all rounds: medians, and the paced probes' 99th percentiles."""
        pooled = {k: np.concatenate(v) for k, v in self.lat.items()}

        def med(k: str) -> float:
            return float(np.median(pooled[k]))

        return PathCosts(
            med("r4"),
            med("w4"),
            med("r1m"),
            med("paced"),
            float(np.percentile(pooled["paced"], 99)),
            med("null-r4"),
            med("null-w4"),
            med("null-paced"),
            float(np.percentile(pooled["null-paced"], 99)),
        )


@dataclass
class TaskCosts:
    """QEMU's own copy on this machine: unthrottled backups of a tmpfs image to a new one, no guest.

    The calibration cases are all bound by the throttle group, so their durations
    say nothing of what one block-copy task costs; this does.  A task is
    ``task_bytes`` (block-copy's 1 MiB buffer): a read into a fresh buffer and a
    write to a file that has no pages yet.
    """

    task_bytes: int
    one_worker_ns: float  # backup duration per task with one worker (median of the repetitions)
    many_workers_ns: float  # the same with 64 workers
    workers: int = 64

    @property
    def parallelism(self) -> float:
        """How much faster the copy runs with many workers than with one."""
        return self.one_worker_ns / self.many_workers_ns if self.many_workers_ns else float("nan")


def measure_tasks(setup: Setup = SETUP, workdir: str | None = None, reps: int = 3) -> TaskCosts:
    """Back up ``setup.disk_size`` of tmpfs without a throttle and without a guest, with 1 and 64 workers."""
    tmpfs = "/dev/shm" if Path("/dev/shm").is_dir() else None
    task = 1 << 20  # BLOCK_COPY_MAX_BUFFER: block-copy's read/write chunk
    per_task: dict[int, list[float]] = {1: [], 64: []}
    for _ in range(reps):
        for workers in per_task:
            d = Path(tempfile.mkdtemp(prefix="backupsim-task-", dir=workdir or tmpfs))
            daemon = None
            try:
                _fill(d / "src.raw", setup.disk_size)
                with open(d / "tgt.raw", "wb") as f:
                    f.truncate(setup.disk_size)
                # the export stays, idle: no guest connects
                args = _daemon_args(d, setup, throttle=False)
                daemon = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                _wait_for(d / "qmp.sock")
                t0, t1 = asyncio.run(_backup(d / "qmp.sock", Case("tasks", max_workers=workers), setup))
                per_task[workers].append((t1 - t0) * 1e9 / (setup.disk_size / task))
                asyncio.run(_quit(d / "qmp.sock"))
                daemon.wait(timeout=30)
            finally:
                if daemon is not None and daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
                shutil.rmtree(d, ignore_errors=True)
    return TaskCosts(task, float(np.median(per_task[1])), float(np.median(per_task[64])))
