"""The backup job contract: what every backup mode is, and what the rest of the model sees of it.

A backup mode (``backup.mode``) is a class registered in :data:`sim.params.MODES`
by the module that defines it, with a ``Config`` (a
:class:`~sim.jobs.config.BackupConfig` subclass: the keys of ``backup.*`` it
accepts) and this surface:

* ``Job(cfg, ctx)``: built from its config slice and a :class:`JobContext`
  (the clock, the block layer, the devices, the policy, faults, the content
  oracle, the disk layout and the trace list);
* :meth:`BackupJob.start` (called once the block layer has drained),
  :meth:`BackupJob.cancel`, and ``done``, a SimPy event fired with the final
  status;
* :meth:`BackupJob.before_io`, the one hook the block layer calls on a guest
  write, discard or write-zeroes (and on reads when :attr:`BackupJob.cow_on_read`):
  copy-before-write, as QEMU's ``before_write`` notifier (2013) or the
  ``copy-before-write`` filter (QEMU 6.2+) does;
* :attr:`BackupJob.record`, a :class:`JobRecord` that :mod:`sim.metrics` reads;
* :attr:`BackupJob.view`, a read-only :class:`JobProgress` that pacing
  policies read.

Parallel background copies (a policy's ``depth``, QEMU's ``max-workers``) go
through the one shared :class:`sim.jobs.pool.CopyPool`.  To add a mode, see
``docs/extending.md``: one module in this package (or a plug-in module named
``module:Class``) and its tests.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from mypy_extensions import mypyc_attr

from ..bitmap import CopyBitmap
from ..coroutine import Coroutine
from ..host import Allocator, HostConfig
from ..params import MODES
from .config import BackupConfig, backup_config
from .pool import CopyPool

if TYPE_CHECKING:
    from ..block import BlockLayer
    from ..clock import Environment
    from ..coroutine import Body
    from ..devices import Device
    from ..faults import Faults
    from ..layout import DiskLayout
    from ..oracle import ContentOracle
    from ..policies import Policy
    from ..request import Request

__all__ = ["BackupConfig", "BackupJob", "JobContext", "JobProgress", "JobRecord", "NoBackup", "backup_config"]


class JobContext:
    """What a job is built from: the clock, the block layer and devices, and its collaborators."""

    def __init__(
        self,
        env: Environment,
        blk: BlockLayer,
        target: Device,
        loop_cfg: Any,
        policy: Policy,
        faults: Faults,
        oracle: ContentOracle,
        serialize: bool = True,
        layout: DiskLayout | None = None,
        trace: list | None = None,
        fleece: Device | None = None,
        target_base: int = 0,
        host: HostConfig | None = None,
        heap: Allocator | None = None,
    ):
        self.env = env
        self.blk = blk
        self.target = target
        self.loop_cfg = loop_cfg
        self.policy = policy
        self.faults = faults
        self.oracle = oracle
        self.serialize = serialize  # block.serialize_overlaps
        self.layout = layout
        self.trace = trace
        self.fleece = fleece  # the fleecing image's device, when the mode uses one
        self.target_base = target_base  # byte offset of the target region on its device
        self.host = host if host is not None else HostConfig()  # the host's memory costs (sim/host.py)
        self.heap = heap if heap is not None else Allocator(self.host)  # QEMU's heap, shared with the NBD server


class JobRecord:
    """What a run's metrics read of the job (``runs.parquet``, timelines).

    ``copies`` counts the clusters copied; ``copies_per_window`` /
    ``cow_per_window`` count them per window of ``window`` ns (the run's
    ``run.timeline_window``) by the time they landed on the target, all of
    them and those a guest write's copy-before-write made.  Only with
    ``run.keep_requests`` (:meth:`configure`) are ``copy_t`` / ``copy_cow``
    kept, one entry per cluster copied (when it landed, whether by
    copy-before-write); else they are None.
    """

    __slots__ = (
        "status",
        "error",
        "t_start",
        "t_end",
        "n",
        "cluster_size",
        "progress",
        "copies",
        "window",
        "copies_per_window",
        "cow_per_window",
        "copy_t",
        "copy_cow",
        "cow_count",
        "cow_errors",
        "target_bytes",
        "zero_clusters",
        "skipped_clusters",
        "tasks",
        "retries",
        "fleece_bytes",
        "fleece_peak_bytes",
        "peak_in_flight_bytes",
        "snapshot_broken",
    )

    def __init__(self, n: int, cluster_size: int):
        self.status = "pending"
        self.error: str | None = None
        self.t_start = -1
        self.t_end = -1
        self.n = n  # clusters of the disk
        self.cluster_size = cluster_size
        self.progress = 0  # bytes copied to the target (background and copy-before-write)
        self.copies = 0  # clusters copied to the target
        self.window = 100 * 10**6  # ns per entry of copies_per_window (the run's timeline window)
        self.copies_per_window = array("q")
        self.cow_per_window = array("q")
        self.copy_t: array | None = None  # per cluster, with run.keep_requests only
        self.copy_cow: array | None = None
        self.cow_count = 0  # clusters copied before a guest write
        self.cow_errors = 0  # copy-before-writes that failed
        self.target_bytes = 0  # data written to the target
        self.zero_clusters = 0  # copied as write-zeroes (no data to the target)
        self.skipped_clusters = 0  # unallocated, skipped by sync=top
        self.tasks = 0  # copy tasks created (block-copy; one per cluster for the 2013 job)
        self.retries = 0  # tasks dropped or failed and copied again (block-copy)
        self.fleece_bytes = 0  # bytes held in the fleecing image now
        self.fleece_peak_bytes = 0  # the most it held
        self.peak_in_flight_bytes = 0  # the most bytes in copy tasks at once (block-copy's buffer)
        self.snapshot_broken = False  # break-snapshot happened

    def configure(self, window: int, keep: bool = False) -> None:
        """Count copies per ``window`` ns; with ``keep``, also keep one entry per cluster copied."""
        if self.copies:
            raise RuntimeError("JobRecord.configure: copies were already recorded")
        self.window = window
        self.copy_t = array("q") if keep else None
        self.copy_cow = array("b") if keep else None

    def copied(self, c: int, t: int, cow: bool) -> None:
        """Cluster ``c`` landed on the target at ``t``."""
        self.progress += self.cluster_size
        self.copies += 1
        w = t // self.window
        per = self.copies_per_window
        if w >= len(per):
            per.extend([0] * (w + 1 - len(per)))
            self.cow_per_window.extend([0] * (w + 1 - len(self.cow_per_window)))
        per[w] += 1
        if cow:
            self.cow_per_window[w] += 1
        if self.copy_t is not None:
            self.copy_t.append(t)
            self.copy_cow.append(cow)  # type: ignore[union-attr]


class JobProgress:
    """A read-only view of a job's progress, for pacing policies."""

    __slots__ = ("_job",)

    def __init__(self, job: BackupJob):
        self._job = job

    @property
    def t_start(self) -> int:
        """When the job started (ns; -1 before)."""
        return self._job.record.t_start

    @property
    def cluster_size(self) -> int:
        """Bytes per cluster of the copy bitmap."""
        return self._job.record.cluster_size

    @property
    def unit(self) -> int:
        """Bytes one background step copies (a cluster; a chunk in block-copy)."""
        return self._job.unit

    @property
    def total_bytes(self) -> int:
        """The disk's size."""
        return self._job.record.n * self._job.record.cluster_size

    @property
    def copied_bytes(self) -> int:
        """Bytes on the target so far."""
        return self._job.record.progress

    @property
    def remaining_bytes(self) -> int:
        """Bytes not yet claimed by a copy (neither copied nor in flight)."""
        return self._job.remaining_clusters() * self._job.record.cluster_size

    @property
    def status(self) -> str:
        return self._job.record.status

    @property
    def charges_on_create(self) -> bool:
        """The job reports a task's bytes when it creates the task (block-copy), not after the copy."""
        return self._job.charges_on_create


@mypyc_attr(allow_interpreted_subclasses=True)
class BackupJob:
    """Base of every backup mode: the control surface, the record and the progress view.

    Subclasses set ``Config`` and implement :meth:`_run` (the job's coroutine,
    which ends by calling :meth:`_finish`) and :meth:`before_io`.  Compiled
    (a regular install, ``docs/kernel.md``) this is a native class that
    interpreted modes, built-in or plug-in, may still subclass.
    """

    mode: ClassVar[str] = ""
    Config: ClassVar[type[BackupConfig]] = BackupConfig
    #: Guest requests are tracked and serialized against each other while this job
    #: runs (the block layer's ``wait_for_overlapping_requests`` of 2013); modes
    #: that serialize through their own request list (block-copy) set False.
    tracks_guest: ClassVar[bool] = True
    cow_on_read = False
    #: :meth:`~sim.policies.Policy.on_copy` comes when a task is created (block-copy's
    #: limiter charges then) rather than when a cluster has been copied (2013).
    charges_on_create: ClassVar[bool] = False

    def __init__(self, cfg: BackupConfig, ctx: JobContext):
        self.cfg = cfg
        self.ctx = ctx
        self.env = ctx.env
        self.trace = ctx.trace
        self.policy = ctx.policy
        self.blk = ctx.blk
        self.loop = ctx.blk.loop
        self.source = ctx.blk.disk
        self.target = ctx.target
        self.loop_cfg = ctx.loop_cfg
        self.faults = ctx.faults
        self.host = ctx.host
        self.heap = ctx.heap
        self.oracle = ctx.oracle
        self.layout = ctx.layout
        self.serialize = ctx.serialize
        self.target_base = ctx.target_base
        self.cluster_size = cfg.cluster
        self.n = cfg.disk_size // self.cluster_size
        self.unit = self.cluster_size
        self.bitmap = CopyBitmap(self.n)  # set: copied, claimed by a copy in flight, or not to copy
        self.record = JobRecord(self.n, self.cluster_size)
        self.view = JobProgress(self)
        self.done = ctx.env.event()
        self.cancelled = False
        self.active = False  # the write hook is installed
        self.stream = cfg.target_layout == "stream"
        self.target_pos = 0  # next offset on a stream target
        self.co: Coroutine | None = None  # the job's own coroutine (its run loop)
        zero_yields = ctx.loop_cfg.zero_sleep == "yield"
        self.pool = CopyPool(self.loop, ctx.loop_cfg.backup_step_cost, zero_yields)

    # -- the contract ---------------------------------------------------------

    def start(self) -> None:
        """Start now (the block layer has drained): snapshot the oracle, install the hook, run :meth:`_run`.

        With ``sync = "top"`` the unallocated clusters are marked as not to copy first.
        """
        rec = self.record
        rec.t_start = self.env.now
        rec.status = "running"
        self.active = True
        self.oracle.snapshot()
        if self.layout is not None and self.cfg.sync == "top":
            before = self.bitmap.count()
            self.bitmap.set_all_clear_of(self.layout.allocated)
            rec.skipped_clusters = self.bitmap.count() - before
        self._starting()
        self.blk.job = self
        self.co = Coroutine(
            self.loop,
            self._run(),
            self.loop_cfg.backup_step_cost,
            zero_sleep_yields=self.pool.zero_sleep_yields,
        )
        self._trace("start", None)
        self.policy.start()
        self.co.start()

    def cancel(self) -> None:
        """``block-job-cancel``: stop as soon as the copies in flight allow; before the start, end as it starts."""
        if self.status == "pending":
            self.cancelled = True
            return
        if self.status != "running":
            return
        self.cancelled = True
        assert self.co is not None  # set by start()
        self.co.interrupt()

    def fail(self, why: str) -> None:
        """End the job with an error at its next check."""
        if self.record.error is None:
            self.record.error = why
            self._trace("error", why)
        if self.co is not None:
            self.co.interrupt()

    def before_io(self, req: Request, co: Coroutine) -> Body[bool]:
        """Copy-before-write for guest request ``req``; False when the request must fail."""
        raise NotImplementedError

    def io_is_clean(self, req: Request) -> bool:
        """True if :meth:`before_io` for ``req`` would return True at once, with no effect.

        The block layer then takes its fast path and does not run the hook
        (``sim/block.py``).  It must have no side effect and be exact: a mode
        that cannot tell cheaply returns False (the default), and the hook runs.
        """
        return False

    def remaining_clusters(self) -> int:
        """Clusters not yet claimed by a copy."""
        return self.n - self.bitmap.count()

    def _run(self) -> Body[None]:
        """The job's own coroutine: copy, then end with :meth:`_finish`."""
        raise NotImplementedError

    def _starting(self) -> None:
        """A mode's own step at the start, before the hook is installed."""

    def _stopping(self) -> bool:
        return self.cancelled or self.record.error is not None

    # -- shared helpers -------------------------------------------------------

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def error(self) -> str | None:
        return self.record.error

    def _finish(self) -> None:
        """End the job: status from error / cancel, end time, the policy told, ``done`` fired."""
        rec = self.record
        rec.status = "failed" if rec.error else "cancelled" if self.cancelled else "completed"
        rec.t_end = self.env.now
        self._trace("end", rec.status)
        self.policy.stop()
        self.done.succeed(rec.status)

    def _trace(self, what: str, detail: Any) -> None:
        if self.trace is not None:
            self.trace.append((self.env.now, "job", what, detail))


class NoBackup:
    """``backup.mode = "none"``: no job (the guest alone, for baselines and model checks)."""

    Config: ClassVar[type[BackupConfig]] = BackupConfig


# registered after the class, not by a decorator, so that compiled (docs/kernel.md) it stays a native class
MODES.register("none")(NoBackup)


def interrupter(co: Coroutine, token: int) -> Callable[[object], None]:
    """A SimPy event callback that interrupts ``co``'s park armed with ``token`` (and no later one)."""

    def callback(_event: object) -> None:
        co.interrupt(token)

    return callback
