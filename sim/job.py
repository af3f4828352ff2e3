"""The backup job of the 2013 patch (``backup.mode = "seed-2013"``).

Models the job as reviewed in February 2013 (patch series "backup: add block
job", v4) and described in ``docs/model.md`` section 8:

* **run loop** (``backup_run``): for each cluster 0..N-1, ask the pacing policy
  how long to wait, check for cancellation, skip clusters already claimed,
  otherwise copy it as a tracked read request of that cluster: claim the bit,
  read the source, write the target (the dump callback), publish progress.
* **pacing**: the policy's answer (a sleep, a yield, or an event to wait for)
  comes before the bitmap check, as the patch's sleep did; policies that do
  not gate copied clusters (``gates_copied = False``) jump straight to the next
  uncopied one, and their wait is cut short if a copy-before-write copies the
  cluster meanwhile.  A policy allowing ``depth`` > 1 gets further background
  copies as coroutines beside the loop; with depth 1 the job copies one
  cluster at a time in its own coroutine, exactly as the patch.
* **copy-before-write** (``backup_do_cow``), from the guest write path: for each
  unclaimed cluster the write touches, claim it, read it, write it to the
  target; only then does the guest write proceed, so its latency includes all
  of this.  It holds the job's reader/writer lock as a reader.
* **end**: take the lock as a writer, so the job completes only when no
  copy-before-write is in flight (no polling sleep), then remove the hook.
* **errors**: a failed source read or target write of the background loop
  ends the job with status ``failed`` (the patch's ``backup_run`` breaks out
  of its loop on ``ret < 0``).  A failed copy-before-write, per
  ``backup.on_cow_error``: ``fail-guest-write`` fails the guest write and the
  job; ``break-snapshot`` (QEMU's ``on-cbw-error`` since 7.1) lets the guest
  write go ahead and fails the job; ``leave-hole`` is the patch's own
  behaviour: ``backup_do_cow`` returns the error to the guest write but has
  already set the cluster's bit, so the background loop skips the cluster
  and the job completes with a hole (the ``complete`` column shows it).
* **cancel** at any time after it is requested, even while the block layer
  drains before the start (the job then ends at once, as ``cancelled``): a
  sleeping or waiting job wakes at once; a copy in flight finishes first.

Later modes (QEMU 6.0+ block-copy with parallel workers; Proxmox with 4 MiB
clusters) are separate classes with the same ``start`` / ``cancel`` /
``before_io`` surface.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

from .bitmap import CopyBitmap
from .block import BlockLayer
from .clock import Environment
from .coroutine import PARK, Body, Coroutine, sleep
from .devices import Device
from .faults import Faults
from .layout import DiskLayout
from .oracle import ContentOracle
from .params import MODES
from .policies import Policy
from .request import BACKUP, READ, WRITE, Request
from .rwlock import CoRwLock

if TYPE_CHECKING:
    from .config import BackupConfig, LoopConfig

__all__ = ["SeedBackupJob"]


@MODES.register("seed-2013")
class SeedBackupJob:
    """QEMU's backup job as proposed in 2013, over a real bitmap and copy-before-write."""

    def __init__(
        self,
        env: Environment,
        blk: BlockLayer,
        target: Device,
        cfg: BackupConfig,
        loop_cfg: LoopConfig,
        policy: Policy,
        faults: Faults,
        oracle: ContentOracle,
        trace: list | None = None,
        layout: DiskLayout | None = None,
    ):
        self.env = env
        self.blk = blk
        self.loop = blk.loop
        self.source = blk.disk
        self.target = target
        self.cfg = cfg
        self.loop_cfg = loop_cfg
        self.policy = policy
        self.faults = faults
        self.oracle = oracle
        self.trace = trace
        self.cluster_size = cfg.cluster_size
        self.n = cfg.disk_size // cfg.cluster_size
        self.bitmap = CopyBitmap(self.n)
        self.lock = CoRwLock(loop_cfg.wake_cost)
        self.status = "pending"
        self.error: str | None = None
        self.active = False
        self.cancelled = False
        self.progress = 0  # bytes copied (background and copy-before-write)
        self.copy_t = array("q")  # completion time of each cluster copy
        self.copy_cow = array("b")  # whether it was a copy-before-write
        self.cow_count = 0  # clusters copied before a guest write
        self.cow_errors = 0  # copy-before-writes that failed
        self.t_start = -1
        self.t_end = -1
        self.done = env.event()
        self.layout = layout
        self.zero_clusters = 0  # copied as write-zeroes (no data to the target)
        self.skipped_clusters = 0  # unallocated, skipped by sync=top
        self.target_bytes = 0  # data written to the target
        self.stream = cfg.target_layout == "stream"
        self.target_pos = 0  # next offset on a stream target
        self.co: Coroutine | None = None
        self.bg_in_flight = 0  # background copies running beside the loop (depth > 1)
        self._gate_wait: tuple[int, int] | None = None  # (cluster, token) the loop waits to copy
        self._slot_waiter: Coroutine | None = None

    # -- control ------------------------------------------------------------------

    def start(self) -> None:
        """Start now: snapshot the oracle, hook the write path, run the loop."""
        self.t_start = self.env.now
        self.status = "running"
        self.active = True
        self.oracle.snapshot()
        if self.layout is not None and self.cfg.sync == "top":
            before = self.bitmap.count()
            self.bitmap.set_all_clear_of(self.layout.allocated)
            self.skipped_clusters = self.bitmap.count() - before
        self.blk.job = self
        self.blk.cow_on_read = self.cfg.cow_on_read
        self.co = Coroutine(
            self.loop,
            self._run(),
            self.loop_cfg.backup_step_cost,
            zero_sleep_yields=self.loop_cfg.zero_sleep == "yield",
        )
        self._trace("start", None)
        self.policy.start()
        self.co.start()

    def cancel(self) -> None:
        """Request cancellation (``block-job-cancel``); before the start, the job ends as it starts."""
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
        if self.error is None:
            self.error = why
            self._trace("error", why)
        if self.co is not None:
            self.co.interrupt()

    # -- the background loop ------------------------------------------------------

    def _run(self) -> Body[None]:
        co = self.co
        assert co is not None  # the coroutine this body runs in
        policy = self.policy
        bitmap = self.bitmap
        skip_copied = not policy.gates_copied
        c = -1
        while c + 1 < self.n:
            c = bitmap.next_clear(c + 1) if skip_copied else c + 1
            if c >= self.n:
                break
            # a free copy slot first (depth > 1 only), so the policy's go-ahead is fresh
            while self.bg_in_flight and self.bg_in_flight >= max(1, policy.depth()) and not self._stopping():
                self._slot_waiter = co
                yield PARK
            ok = yield from self._gate(co, c)
            if not ok:
                break
            if bitmap.get(c):
                continue
            if policy.depth() <= 1 and self.bg_in_flight == 0:
                # the patch: one cluster at a time, in the job's own coroutine
                if not (yield from self._background_copy(c, co)):
                    break
                continue
            self.bg_in_flight += 1
            worker = Coroutine(self.loop, None, self.loop_cfg.backup_step_cost, zero_sleep_yields=co.zero_sleep_yields)
            worker.gen = self._worker(c, worker)
            worker.start()
        while self.bg_in_flight:
            self._slot_waiter = co
            yield PARK
        yield from self.lock.wrlock(co)
        self.active = False
        self.blk.job = None
        self.lock.unlock()
        self.status = "failed" if self.error else "cancelled" if self.cancelled else "completed"
        self.t_end = self.env.now
        self._trace("end", self.status)
        self.policy.stop()
        self.done.succeed(self.status)

    def _stopping(self) -> bool:
        return self.cancelled or self.error is not None

    def _gate(self, co: Coroutine, c: int) -> Body[bool]:
        """Ask the policy until it lets cluster ``c`` go; False if the job must stop.

        A policy that waits on an event is also cut short when a guest write's
        copy-before-write copies ``c`` meanwhile (then there is nothing to pace).
        """
        while not self._stopping():
            wait = self.policy.before_cluster()
            if isinstance(wait, int):
                if wait or self.policy.gates_copied:
                    # the patch's sleep (or yield) before each cluster
                    yield sleep(wait)
                # a go-ahead of a policy that watches the guest holds in this very step
                return not self._stopping()
            if wait.callbacks is None:  # already processed: ask again
                continue
            token = co.arm()
            wait.callbacks.append(_interrupter(co, token))
            self._gate_wait = (c, token)
            yield PARK
            self._gate_wait = None
            if self.bitmap.get(c) and not self.policy.gates_copied:
                return not self._stopping()
        return False

    def _background_copy(self, c: int, co: Coroutine) -> Body[bool]:
        """``bdrv_co_backup``: a tracked read request of cluster ``c`` that copies it."""
        cs = self.cluster_size
        req = Request(READ, c * cs, cs, BACKUP)
        req.c0, req.c1 = c, c + 1
        if self.blk.serialize:
            yield from self.blk.wait_overlaps(req, co)
            self.blk.track(req)
        ok = yield from self._copy(c, c + 1, co, cow=False)
        if self.blk.serialize:
            self.blk.untrack(req)
        return ok

    def _worker(self, c: int, co: Coroutine) -> Body[None]:
        """One background copy running beside others (policies with depth > 1)."""
        yield from self._background_copy(c, co)
        self.bg_in_flight -= 1
        if self._slot_waiter is not None:
            waiter, self._slot_waiter = self._slot_waiter, None
            waiter.wake(None)

    # -- copy-before-write ----------------------------------------------------------

    def before_io(self, req: Request, co: Coroutine) -> Body[bool]:
        """The ``before_write`` hook: copy the unclaimed clusters ``req`` touches first.

        Returns False when the guest request must fail (``fail-guest-write``).
        """
        if not self.active or self.error:
            return True
        yield from self.lock.rdlock(co)
        if not self.active or self.error:
            self.lock.unlock()
            return True
        t0 = self.env.now
        before = self.cow_count
        ok = yield from self._copy(req.c0, req.c1, co, cow=True)
        self.lock.unlock()
        if self.cow_count != before or not ok:
            req.cow_ns += self.env.now - t0
            req.cow_clusters += self.cow_count - before
        if ok:
            return True
        return self.cfg.on_cow_error == "break-snapshot"

    def _copy(self, c0: int, c1: int, co: Coroutine, cow: bool) -> Body[bool]:
        """Claim, read and dump every unclaimed cluster of ``c0 .. c1-1``; False on error."""
        bitmap = self.bitmap
        cs = self.cluster_size
        blk = self.blk
        for c in range(c0, c1):
            if bitmap.get(c):
                continue
            bitmap.set(c)
            self._trace("cow" if cow else "copy", c)
            layout = self.layout
            if layout is not None and not layout.is_allocated(c):
                gen = self.oracle.read(c)  # a hole reads as zeroes without device I/O
            else:
                rd = Request(READ, c * cs, cs, BACKUP)
                rd.c0 = c
                yield from blk.read_for_job(rd, co)
                if self.faults.read_fails(c):
                    return self._copy_failed(f"source read error at cluster {c}", cow)
                gen = rd.gen
            zero = layout is not None and gen == 0 and layout.is_zero(c)
            if zero:
                self.zero_clusters += 1
            if zero and self.stream:
                pass  # the archive records a zero cluster without I/O
            else:
                nbytes = 0 if zero else cs  # write-zeroes carries no data
                if self.stream:
                    wr = Request(WRITE, self.target_pos, nbytes, BACKUP)
                    self.target_pos += nbytes
                else:
                    wr = Request(WRITE, c * cs, nbytes, BACKUP)
                yield from blk.write_for_job(wr, co, self.target)
                if self.faults.write_fails(c):
                    return self._copy_failed(f"target write error at cluster {c}", cow)
                self.target_bytes += nbytes
            self.oracle.copy_landed(c, gen)
            self.progress += cs
            self.copy_t.append(self.env.now)
            self.copy_cow.append(cow)
            if cow:
                self.cow_count += 1
                if self._gate_wait is not None and self._gate_wait[0] == c and self.co is not None:
                    self.co.interrupt(self._gate_wait[1])
            self.policy.on_copy(cs, cow)
            self._trace("copied", c)
        return True

    def _copy_failed(self, why: str, cow: bool) -> bool:
        """A copy's read or write failed: fail the job, or (``leave-hole``) only the guest write."""
        if cow:
            self.cow_errors += 1
            if self.cfg.on_cow_error == "leave-hole":
                self._trace("cow-error", why)  # the bit stays set: the loop will skip this cluster
                return False
        self.fail(why)
        return False

    def _trace(self, what: str, detail) -> None:
        if self.trace is not None:
            self.trace.append((self.env.now, "job", what, detail))


def _interrupter(co: Coroutine, token: int) -> Callable[[object], None]:
    """A SimPy event callback that interrupts ``co``'s park armed with ``token`` (and no later one)."""

    def callback(_event: object) -> None:
        co.interrupt(token)

    return callback
