"""QEMU's backup since 6.0: one asynchronous block-copy call under a copy-before-write filter.

``backup.mode = "block-copy"`` models ``blockdev-backup sync=full`` of QEMU 6.0
to 10.x (``block/backup.c``, ``block/block-copy.c``,
``block/copy-before-write.c``; commits in ``docs/model.md``, "Backup jobs"):

* **one copy state** shared by the filter and the job: a copy bitmap of
  ``cluster`` = max(64 KiB, ``min_cluster_size``, ``cluster_size``) bytes
  (``block_copy_calculate_cluster_size``; 9.2+ for ``min_cluster_size``),
  a list of in-flight tasks, a rate limiter and a 128 MiB buffer
  (``BLOCK_COPY_MAX_MEM``);
* **tasks**: a task is the next run of dirty clusters, at most a chunk of
  ``min(max(cluster, 1 MiB), max_transfer)`` bytes (and ``max_chunk``), of one
  block status (data, or zeroes that are written as write-zeroes without a
  read).  Its bits are **cleared when it is created** and **set again if it
  fails**; it reads the whole run from the source in one request and writes it
  to the target in one request;
* **the background copy** (``backup_loop`` -> ``block_copy_async``): one call
  over the disk, no sleep between tasks, at most ``max_workers`` tasks (and a
  policy's nonzero ``depth``) in an ``AioTaskPool``; after each pass it waits
  for tasks of copy-before-write it found in its way and passes again until
  nothing is dirty (``block_copy_common``);
* **pacing**: before each background task the policy is asked
  (:meth:`sim.policies.Policy.before_cluster`); a wait drops the task (its bits
  stay dirty) and sleeps, woken early by an event such as a speed change.  The
  ``rate-limit`` policy then behaves as QEMU's limiter inside block-copy
  (7e032df0ea): every task's bytes are charged when it is created
  (:meth:`~sim.policies.Policy.on_copy`), copy-before-write tasks included,
  but copy-before-write is never delayed;
* **copy-before-write** (``cbw_do_copy_before_write``): a guest write,
  write-zeroes or discard first copies its cluster-aligned range with up to 64
  parallel tasks (``BLOCK_COPY_MAX_WORKERS``, no ``max_chunk``), and waits for
  any in-flight task that holds one of its clusters, whole (read and write of
  up to a chunk), before it goes to the disk.  ``cbw_timeout`` (7.1+, 0 = none)
  bounds that; a failure or a timeout does what ``on_cbw_error`` says:
  ``break-guest-write`` fails the guest request (the snapshot stays valid),
  ``break-snapshot`` lets it through, stops copy-before-write and fails the
  job (as Proxmox's ``bdrv_cbw_snapshot_error`` check does);
* **errors** of the background copy: ``on_source_error`` /
  ``on_target_error`` = ``report`` ends the job as failed, ``ignore`` re-dirties
  the task's clusters and copies them again (``block_job_error_action``);
* **fleecing** (7.0+ ``snapshot-access``; ``fleecing = true``): see
  :mod:`sim.jobs.fleecing`.

With ``block.serialize_overlaps = false`` the copy-before-write no longer waits
for in-flight tasks: the ablation whose torn reads the content oracle catches.

Left out: ``copy_range`` offload (off by default since 6.0), compression,
``sync = bitmap / incremental / none``, pause and resume, ``stop`` error actions.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from ..bitmap import CopyBitmap
from ..coroutine import PARK, Body, Coroutine, sleep
from ..host import NO_BUFFER
from ..params import MODES, Invalid, Size, Time, units
from ..request import BACKUP, READ, WRITE, Request
from .base import BackupConfig, BackupJob, JobContext, interrupter
from .fleecing import Fleecing
from .pool import CopyPool

if TYPE_CHECKING:
    from ..devices import Device

__all__ = ["BlockCopyConfig", "BlockCopyJob", "Task", "MIN_CLUSTER", "MIN_CHUNK", "CBW_WORKERS", "MAX_MEM"]

#: ``BLOCK_COPY_CLUSTER_SIZE_DEFAULT``: the smallest copy granularity.
MIN_CLUSTER = 64 << 10
#: ``BLOCK_COPY_MAX_BUFFER``: a read/write task copies at least this much when it can.
MIN_CHUNK = 1 << 20
#: ``BLOCK_COPY_MAX_WORKERS``: parallel tasks of a copy-before-write call.
CBW_WORKERS = 64
#: ``BLOCK_COPY_MAX_MEM``: bytes of all tasks' buffers at once.
MAX_MEM = 128 << 20


class BlockCopyConfig(BackupConfig):
    """``backup.*`` of QEMU's block-copy backup (``blockdev-backup`` and its ``x-perf``)."""

    target_layout: Literal["stream", "image"] = "image"
    max_workers: int = Field(64, ge=1, le=4096)
    max_chunk: Size = 0
    max_transfer: Size = 0
    min_cluster_size: Size = 0
    max_mem: Size = MAX_MEM
    on_cbw_error: Literal["break-guest-write", "break-snapshot"] = "break-guest-write"
    cbw_timeout: Time = 0
    on_source_error: Literal["report", "ignore"] = "report"
    on_target_error: Literal["report", "ignore"] = "report"
    fleecing: bool = Field(False, strict=True)
    discard_source: bool = Field(False, strict=True)

    @property
    def cluster(self) -> int:
        return max(MIN_CLUSTER, self.min_cluster_size, self.cluster_size)

    @property
    def chunk(self) -> int:
        """Bytes of a background task at most (``block_copy_chunk_size`` and ``max_chunk``)."""
        c = self.cluster
        chunk = max(c, MIN_CHUNK)
        for limit in (self.max_transfer, self.max_chunk):
            if limit:
                chunk = min(chunk, max(c, limit // c * c))
        return chunk

    @property
    def cbw_error(self) -> str:
        """``on-cbw-error`` in force."""
        return self.on_cbw_error or "break-guest-write"

    @property
    def cbw_timeout_ns(self) -> int:
        """``cbw-timeout`` in force (ns; 0 = none)."""
        return self.cbw_timeout or 0

    @property
    def cbw_chunk(self) -> int:
        """Bytes of a copy-before-write task at most (no ``max_chunk``)."""
        c = self.cluster
        chunk = max(c, MIN_CHUNK)
        if self.max_transfer:
            chunk = min(chunk, max(c, self.max_transfer // c * c))
        return chunk

    @model_validator(mode="after")
    def _check_mem(self) -> BlockCopyConfig:
        m = self.min_cluster_size
        if m and (m < 512 or m & (m - 1)):
            raise Invalid("min_cluster_size", m, "0 or a power of two of at least 512 bytes")
        if self.max_mem < self.cbw_chunk:
            raise Invalid(
                "max_mem",
                self.max_mem,
                f"at least one copy-before-write chunk ({units.format_size(self.cbw_chunk)}): "
                "a task never fits in less",
            )
        if self.discard_source and not self.fleecing:
            raise Invalid("discard_source", True, "false unless fleecing = true (it discards the fleecing image)")
        return self


class Task:
    """One block-copy task: clusters ``c0 .. c1-1``, copied together (``BlockCopyTask``)."""

    __slots__ = ("c0", "c1", "cow", "zero", "waiters", "failed", "state")

    def __init__(self, c0: int, c1: int, cow: bool, zero: bool, state: CopyState):
        self.c0 = c0
        self.c1 = c1
        self.cow = cow
        self.zero = zero
        self.waiters: list[Coroutine] | None = None
        self.failed = False
        self.state = state


class CopyState:
    """``BlockCopyState``: a copy bitmap, its in-flight tasks and its buffer cap.

    The job and the copy-before-write filter share one; with fleecing the
    filter copies into the fleecing image through a state of its own.
    """

    __slots__ = ("bitmap", "tasks", "in_flight_bytes", "max_mem", "mem_waiters", "mem_woken", "charged")

    def __init__(self, n: int, max_mem: int, charged: bool, bitmap: CopyBitmap | None = None):
        self.bitmap = (
            bitmap if bitmap is not None else CopyBitmap(n)
        )  # set: not dirty (copied, claimed by a task, or not to copy)
        self.tasks: dict[int, Task] = {}  # cluster -> the in-flight task holding it
        self.in_flight_bytes = 0
        self.max_mem = max_mem
        self.mem_waiters: list[tuple[Coroutine, int]] = []  # first come, first served
        self.mem_woken = False  # the first waiter has been woken and not yet run
        self.charged = charged  # its tasks are charged to the job's limiter (the policy)


@MODES.register("block-copy")
class BlockCopyJob(BackupJob):
    """QEMU 6.0-10.x ``blockdev-backup``: block-copy tasks under a copy-before-write filter."""

    Config = BlockCopyConfig
    cfg: BlockCopyConfig
    tracks_guest = False  # the filter's own task list serializes, not the block layer
    charges_on_create = True

    def __init__(self, cfg: BlockCopyConfig, ctx: JobContext):
        super().__init__(cfg, ctx)
        self.unit = cfg.chunk
        self.chunk_clusters = cfg.chunk // self.cluster_size
        self.cbw_clusters = cfg.cbw_chunk // self.cluster_size
        # the job's copy state (and, without fleecing, the filter's), over the job's bitmap
        self.bcs = CopyState(self.n, cfg.max_mem, charged=True, bitmap=self.bitmap)
        self.fleecing: Fleecing | None = None
        if cfg.fleecing:
            if ctx.fleece is None:
                raise ValueError("fleecing needs a fleece device")
            self.fleecing = Fleecing(self.n, self.cluster_size, ctx.fleece, cfg.discard_source, self.record)
        # the filter's copy state: into the fleecing image, or the job's own
        self.cbw_bcs = CopyState(self.n, MAX_MEM, charged=False) if self.fleecing else self.bcs
        self.cbw_broken = False  # break-snapshot happened: copy-before-write is off
        self.closing = False  # the background copy is over: the filter is being removed
        self.cbw_running = 0  # copy-before-write calls in flight (the job ends after them)
        self._idle_waiter: Coroutine | None = None

    def _starting(self) -> None:
        if self.fleecing is not None and self.layout is not None and self.cfg.sync == "top":
            self.cbw_bcs.bitmap.set_all_clear_of(self.layout.allocated)  # no snapshot of what is not copied

    def _workers(self) -> int:
        depth = self.policy.depth()
        return min(self.cfg.max_workers, depth) if depth else self.cfg.max_workers

    # -- the background call ------------------------------------------------------

    def ranges(self) -> list[tuple[int, int]]:
        """The cluster ranges the job copies, one call after the other (one disk: the whole of it)."""
        return [(0, self.n)]

    def _run(self) -> Body[None]:
        co = self.co
        assert co is not None
        for lo, hi in self.ranges():
            yield from self._call(co, lo, hi)
            if self._stopping():
                break
        yield from self.pool.wait_all(co)
        # the filter is removed under a drain: calls in flight finish, later guest writes pass
        # straight through (every cluster is copied, or the job is over), then the job ends
        self.closing = True
        while self.cbw_running:
            self._idle_waiter = co
            yield PARK
        self.active = False
        self.blk.job = None
        self._finish()

    def _call(self, co: Coroutine, lo: int, hi: int) -> Body[None]:
        """``block_copy_common`` over clusters ``lo .. hi-1``: pass until nothing is dirty or in flight."""
        tasks = self.bcs.tasks
        while not self._stopping():
            found = yield from self._pass(co, lo, hi)
            yield from self.pool.wait_all(co)
            if self._stopping() or found:
                continue
            # nothing dirty: wait for a copy-before-write task in flight here (its
            # clusters come back dirty if it fails), else this call is done
            task = next((t for c, t in tasks.items() if lo <= c < hi), None)
            if task is None:
                return
            yield from self._wait_task(task, co)

    def _pass(self, co: Coroutine, lo: int, n: int) -> Body[bool]:
        """``block_copy_dirty_clusters`` over clusters ``lo .. n-1``; True if it found dirty ones."""
        bcs = self.bcs
        bitmap = bcs.bitmap
        found = False
        cursor = lo
        while cursor < n and not self._stopping():
            c0 = bitmap.next_clear(cursor)
            if c0 >= n:
                break
            found = True
            ok = yield from self._pace(co)
            if not ok:
                break
            c0 = bitmap.next_clear(cursor)  # the wait may have let copy-before-write claim it
            if c0 >= n:
                break
            task = self._create(bcs, c0, self.chunk_clusters, cow=False, end=n)
            yield from self._get_mem(bcs, co, task)
            yield from self.pool.wait_slot(co, self._workers, self._stopping)
            cursor = task.c1
            if self._stopping():
                self._put_mem(bcs, task)
                self._end_task(task, failed=True)
                break
            self.pool.spawn(partial(self._copy_task, task))
        return found

    def _pace(self, co: Coroutine) -> Body[bool]:
        """Ask the policy before a background task: a sleep, or an event to wait for and ask again.

        A wait drops the task (its clusters stay dirty) and the next dirty run
        is looked up after it, as ``block_copy_dirty_clusters`` does after its
        wakeable sleep.
        """
        while not self._stopping():
            wait = self.policy.before_cluster()
            if isinstance(wait, int):
                if wait:  # a sleep between tasks (fixed-sleep, a what-if): then go
                    yield sleep(wait)
                return not self._stopping()
            if wait.callbacks is None:
                continue
            token = co.arm()
            wait.callbacks.append(interrupter(co, token))
            yield PARK
        return False

    # -- tasks --------------------------------------------------------------------

    def _kind_zero(self, c: int) -> bool:
        """Block status of cluster ``c``: zeroes (unallocated or a zero cluster, not written since)."""
        layout = self.layout
        return layout is not None and (not layout.is_allocated(c) or layout.is_zero(c)) and self.oracle.read(c) == 0

    def _create(self, bcs: CopyState, c0: int, max_clusters: int, cow: bool, end: int | None = None) -> Task:
        """``block_copy_task_create``: claim the dirty run from ``c0`` of one block status, charge it."""
        bitmap = bcs.bitmap
        # with fleecing the snapshot has no block status worth a shortcut: read what is there
        zero = self._kind_zero(c0) if self.fleecing is None else False
        stop = min(self.n if end is None else end, c0 + max_clusters)
        c1 = c0 + 1
        while c1 < stop and not bitmap.get(c1) and (self.fleecing is not None or self._kind_zero(c1) == zero):
            c1 += 1
        task = Task(c0, c1, cow, zero, bcs)
        tasks = bcs.tasks
        for c in range(c0, c1):
            bitmap.set(c)
            tasks[c] = task
        self.record.tasks += 1
        self._trace("cow-task" if cow else "task", (c0, c1))
        if bcs.charged:
            self.policy.on_copy((c1 - c0) * self.cluster_size, cow)
        return task

    def _get_mem(self, bcs: CopyState, co: Coroutine, task: Task) -> Body[None]:
        """``co_get_from_shres``: wait until the task's buffer fits under the cap (first come, first served)."""
        nbytes = (task.c1 - task.c0) * self.cluster_size
        if bcs.mem_waiters or bcs.in_flight_bytes + nbytes > bcs.max_mem:
            bcs.mem_waiters.append((co, nbytes))
            while True:
                yield PARK
                bcs.mem_woken = False
                if bcs.mem_waiters[0][0] is co and bcs.in_flight_bytes + nbytes <= bcs.max_mem:
                    bcs.mem_waiters.pop(0)
                    break
        bcs.in_flight_bytes += nbytes
        rec = self.record
        if bcs is self.bcs and bcs.in_flight_bytes > rec.peak_in_flight_bytes:
            rec.peak_in_flight_bytes = bcs.in_flight_bytes
        self._wake_mem(bcs)

    def _put_mem(self, bcs: CopyState, task: Task) -> None:
        bcs.in_flight_bytes -= (task.c1 - task.c0) * self.cluster_size
        self._wake_mem(bcs)

    def _wake_mem(self, bcs: CopyState) -> None:
        if bcs.mem_waiters and not bcs.mem_woken:
            co, nbytes = bcs.mem_waiters[0]
            if bcs.in_flight_bytes + nbytes <= bcs.max_mem:
                bcs.mem_woken = True  # once: a second wake would re-enter it from elsewhere
                co.wake(None, self.loop_cfg.wake_cost)

    def _copy_task(self, task: Task, co: Coroutine) -> Body[bool]:
        """``block_copy_task_entry``: read the run (unless zeroes), write it, end the task."""
        cs = self.cluster_size
        c0, c1 = task.c0, task.c1
        nbytes = (c1 - c0) * cs
        rec = self.record
        fleecing = self.fleecing
        to_fleece = fleecing is not None and task.cow
        buffer = NO_BUFFER
        if task.zero:
            gens = [self.oracle.read(c) for c in range(c0, c1)]
        else:
            # block_copy_do_copy: a bounce buffer for the task, whose pages may fault as the read fills them
            fault_ns, buffer = self.heap.alloc(nbytes)
            if fleecing is not None and not task.cow:
                gens = yield from fleecing.read_snapshot(self, c0, c1, co, fault_ns)
            else:
                gens = yield from self._read(c0, c1, co, fault_ns=fault_ns)
            bad = next((c for c in range(c0, c1) if self.faults.read_fails(c)), None)
            if bad is not None:
                self.heap.free(buffer)
                self._task_error(task, f"source read error at cluster {bad}", "read")
                return False
        data = 0 if task.zero else nbytes
        if to_fleece:
            assert fleecing is not None
            yield from self._write(Request(WRITE, c0 * cs, nbytes, BACKUP), co, fleecing.device)
            fleecing.landed(c0, c1, gens)
        elif not (task.zero and self.stream):
            if self.stream:
                off = self.target_base + self.target_pos
                self.target_pos += data
            else:
                off = self.target_base + c0 * cs
            yield from self._write(Request(WRITE, off, data, BACKUP), co)
            bad = next((c for c in range(c0, c1) if self.faults.write_fails(c)), None)
            if bad is not None:
                self.heap.free(buffer)
                self._task_error(task, f"target write error at cluster {bad}", "write")
                return False
            rec.target_bytes += data
        self.heap.free(buffer)  # qemu_vfree
        if task.zero:
            rec.zero_clusters += c1 - c0
        if task.cow:
            rec.cow_count += c1 - c0
        if not to_fleece:
            now = self.env.now
            for i, c in enumerate(range(c0, c1)):
                self.oracle.copy_landed(c, gens[i])
                rec.copied(c, now, task.cow)
            if fleecing is not None:
                fleecing.backed_up(self, c0, c1)
        self._trace("copied", (c0, c1))
        self._put_mem(task.state, task)
        self._end_task(task, failed=False)
        return True

    def _task_error(self, task: Task, why: str, what: str) -> None:
        """A task failed: its clusters are dirty again; the background copy reports or retries."""
        self.record.retries += 1
        self._put_mem(task.state, task)
        self._end_task(task, failed=True)
        if task.cow:
            return  # the copy-before-write caller decides (on_cbw_error)
        action = self.cfg.on_source_error if what == "read" else self.cfg.on_target_error
        if action == "report":
            self.fail(why)
        else:
            self._trace("error-ignored", why)

    def _end_task(self, task: Task, failed: bool) -> None:
        """``block_copy_task_end``: re-dirty on failure, leave the task list, wake who waits for it."""
        task.failed = failed
        tasks, bitmap = task.state.tasks, task.state.bitmap
        for c in range(task.c0, task.c1):
            if failed:
                bitmap.clear(c)
            if tasks.get(c) is task:
                del tasks[c]
        if task.waiters:
            waiters, task.waiters = task.waiters, None
            for w in waiters:
                w.wake(None, self.loop_cfg.wake_cost)

    def _wait_task(self, task: Task, co: Coroutine) -> Body[None]:
        """``reqlist_wait_one``: park until ``task`` ends."""
        if task.waiters is None:
            task.waiters = []
        task.waiters.append(co)
        yield PARK

    # -- device I/O ---------------------------------------------------------------

    def _read(
        self, c0: int, c1: int, co: Coroutine, device: Device | None = None, fault_ns: int = 0
    ) -> Body[list[int]]:
        """Read clusters ``c0 .. c1-1`` in one request (from the source, or ``device``); the generations seen.

        A read from the source is watched by the content oracle (torn reads);
        one from the fleecing image returns what the copy-before-write put there.
        ``fault_ns`` is the page faults of the buffer it fills (:class:`sim.host.Allocator`).
        """
        cs = self.cluster_size
        req = Request(READ, c0 * cs, (c1 - c0) * cs, BACKUP)
        req.c0, req.c1 = c0, c1
        req.cpu_ns = fault_ns
        req.co = co
        gens: list[int] = []
        if device is None:
            oracle = self.oracle
            oracle.read_started(c0, c1)

            def done(r: Request) -> None:
                gens.extend(oracle.read_ended(c) for c in range(r.c0, r.c1))
                co.wake(None, self.loop_cfg.complete_cost)

            self.source.submit(req, done)
        else:
            device.submit(req, self._io_done)
        yield PARK
        return gens

    def _write(self, req: Request, co: Coroutine, device: Device | None = None) -> Body[None]:
        """Write ``req`` to the target (or ``device``) and wait for it."""
        req.co = co
        (device or self.target).submit(req, self._io_done)
        yield PARK

    def _io_done(self, req: Request) -> None:
        co = req.co
        assert co is not None
        co.wake(None, self.loop_cfg.complete_cost)

    # -- copy-before-write ----------------------------------------------------------

    def before_io(self, req: Request, co: Coroutine) -> Body[bool]:
        """``cbw_do_copy_before_write``: copy the request's clusters first; False fails the request."""
        if not self.active or self.cbw_broken or self.closing or self._clean(req.c0, req.c1):
            return True
        rec = self.record
        t0 = self.env.now
        before = req.cow_clusters
        self.cbw_running += 1
        timeout = self.cfg.cbw_timeout_ns
        if timeout:
            ok = yield from self._cbw_with_timeout(req, co, timeout)
        else:
            ok = yield from self._cbw_call(req, co)
        if ok and self.fleecing is not None and self.serialize:
            yield from self.fleecing.wait_readers(req.c0, req.c1, co)
        self.cbw_running -= 1
        if self.cbw_running == 0 and self._idle_waiter is not None:
            waiter, self._idle_waiter = self._idle_waiter, None
            waiter.wake(None)
        if req.cow_clusters != before or not ok or self.env.now != t0:
            req.cow_ns += self.env.now - t0
        if ok:
            return True
        rec.cow_errors += 1
        if self.cfg.cbw_error == "break-snapshot":
            self._break_snapshot()
            return True
        return False

    def io_is_clean(self, req: Request) -> bool:
        return not self.active or self.cbw_broken or self.closing or self._clean(req.c0, req.c1)

    def _clean(self, c0: int, c1: int) -> bool:
        """Nothing to copy or wait for in clusters ``c0 .. c1-1``: ``block_copy`` returns at once."""
        bcs = self.cbw_bcs
        bitmap, tasks = bcs.bitmap, bcs.tasks
        readers = self.fleecing.readers if self.fleecing is not None else None
        for c in range(c0, c1):
            if not bitmap.get(c) or c in tasks or (readers and c in readers):
                return False
        return True

    def _break_snapshot(self) -> None:
        """``on-cbw-error = break-snapshot``: no more copy-before-write; the backup is lost."""
        if not self.cbw_broken:
            self.cbw_broken = True
            self.record.snapshot_broken = True
            self.fail("snapshot broken by a copy-before-write error")

    def _cbw_with_timeout(self, req: Request, co: Coroutine, timeout: int) -> Body[bool]:
        """``qemu_co_timeout`` around the copy: the call runs on, the guest stops waiting for it."""
        waiting = [True]

        def body(child: Coroutine) -> Body[bool]:
            ok = yield from self._cbw_call(req, child)
            return ok

        def finished(_result: object) -> None:
            if waiting[0]:
                co.interrupt()

        child = Coroutine(self.loop, None, self.loop_cfg.wake_cost, on_done=finished)
        child.gen = body(child)
        child.start(0)
        yield sleep(timeout)
        waiting[0] = False
        if child.done:
            return bool(child.result)
        self._trace("cbw-timeout", (req.c0, req.c1))
        return False

    def _cbw_call(self, req: Request, co: Coroutine) -> Body[bool]:
        """``block_copy`` of the clusters of ``req`` (ignoring the rate limit): True if all are copied.

        ``req.cow_clusters`` counts the clusters this call copied itself.
        """
        c0, c1 = req.c0, req.c1
        bcs = self.cbw_bcs
        bitmap = bcs.bitmap
        while True:
            pool: CopyPool | None = None
            mine: list[Task] = []
            c = c0
            while c < c1:
                c = bitmap.next_clear(c)
                if c >= c1:
                    break
                task = self._create(bcs, c, self.cbw_clusters, cow=True, end=c1)
                mine.append(task)
                yield from self._get_mem(bcs, co, task)
                c = task.c1
                more = c < c1 and bitmap.next_clear(c) < c1
                if pool is None and not more:
                    yield from self._copy_task(task, co)  # the last (or only) task runs in the caller
                else:
                    if pool is None:
                        pool = CopyPool(self.loop, self.loop_cfg.backup_step_cost, self.pool.zero_sleep_yields)
                    yield from pool.wait_slot(co, _cbw_workers, _never)
                    pool.spawn(partial(self._copy_task, task))
            if pool is not None:
                yield from pool.wait_all(co)
            req.cow_clusters += sum(t.c1 - t.c0 for t in mine if not t.failed)
            if any(t.failed for t in mine):
                return False
            if not self.serialize:
                return True  # the ablation: no wait for the tasks of others
            # a cluster held by an in-flight task of someone else: wait for that task, whole
            tasks = bcs.tasks
            other = next((tasks[c] for c in range(c0, c1) if c in tasks), None)
            if other is None:
                if all(bitmap.get(c) for c in range(c0, c1)):
                    return True
                continue  # a task we waited for failed: its clusters are dirty again
            yield from self._wait_task(other, co)


def _cbw_workers() -> int:
    return CBW_WORKERS


def _never() -> bool:
    return False
