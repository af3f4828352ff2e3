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

Parallel background copies for a policy with depth > 1 (not in the patch)
run through the shared :class:`sim.jobs.pool.CopyPool`.  Later modes are
:mod:`sim.jobs.block_copy` and :mod:`sim.jobs.proxmox`.
"""

from __future__ import annotations

from functools import partial

from ..coroutine import PARK, Body, Coroutine, sleep
from ..params import MODES
from ..request import BACKUP, READ, WRITE, Request
from ..rwlock import CoRwLock
from .base import BackupJob, JobContext, interrupter
from .config import SeedConfig

__all__ = ["SeedBackupJob", "SeedConfig"]


class SeedBackupJob(BackupJob):
    """QEMU's backup job as proposed in 2013, over a real bitmap and copy-before-write."""

    Config = SeedConfig

    def __init__(self, cfg: SeedConfig, ctx: JobContext):
        super().__init__(cfg, ctx)
        self.lock = CoRwLock(ctx.loop_cfg.wake_cost)
        self._gate_wait: tuple[int, int] | None = None  # (cluster, token) the loop waits to copy
        self.cow_on_read = cfg.cow_on_read
        self.on_cow_error = cfg.on_cow_error

    # -- the background loop ------------------------------------------------------

    def _run(self) -> Body[None]:
        co = self.co
        assert co is not None  # the coroutine this body runs in
        policy = self.policy
        bitmap = self.bitmap
        pool = self.pool
        skip_copied = not policy.gates_copied
        c = -1
        while c + 1 < self.n:
            c = bitmap.next_clear(c + 1) if skip_copied else c + 1
            if c >= self.n:
                break
            # a free copy slot first (depth > 1 only), so the policy's go-ahead is fresh
            yield from pool.wait_slot(co, self._depth, self._stopping)
            ok = yield from self._gate(co, c)
            if not ok:
                break
            if bitmap.get(c):
                continue
            if self._depth() <= 1 and pool.in_flight == 0:
                # the patch: one cluster at a time, in the job's own coroutine
                if not (yield from self._background_copy(c, co)):
                    break
                continue
            pool.spawn(partial(self._background_copy, c))
        yield from pool.wait_all(co)
        yield from self.lock.wrlock(co)
        self.active = False
        self.blk.job = None
        self.lock.unlock()
        self._finish()

    def _depth(self) -> int:
        """The policy's depth; the patch's own is one cluster at a time."""
        return self.policy.depth() or 1

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
            wait.callbacks.append(interrupter(co, token))
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

    # -- copy-before-write ----------------------------------------------------------

    def io_is_clean(self, req: Request) -> bool:
        if not self.active or self.record.error:
            return True
        lock = self.lock
        if lock.writer or lock._waiting:
            return False  # the read lock would wait, or its release would wake someone
        get = self.bitmap.get
        for c in range(req.c0, req.c1):
            if not get(c):
                return False
        return True

    def before_io(self, req: Request, co: Coroutine) -> Body[bool]:
        """The ``before_write`` hook: copy the unclaimed clusters ``req`` touches first.

        Returns False when the guest request must fail (``fail-guest-write``).
        """
        if not self.active or self.record.error:
            return True
        yield from self.lock.rdlock(co)
        if not self.active or self.record.error:
            self.lock.unlock()
            return True
        rec = self.record
        t0 = self.env.now
        before = rec.cow_count
        ok = yield from self._copy(req.c0, req.c1, co, cow=True)
        self.lock.unlock()
        if rec.cow_count != before or not ok:
            req.cow_ns += self.env.now - t0
            req.cow_clusters += rec.cow_count - before
        if ok:
            return True
        if self.on_cow_error == "break-snapshot":
            rec.snapshot_broken = True
            return True
        return False

    def _copy(self, c0: int, c1: int, co: Coroutine, cow: bool) -> Body[bool]:
        """Claim, read and dump every unclaimed cluster of ``c0 .. c1-1``; False on error."""
        bitmap = self.bitmap
        cs = self.cluster_size
        blk = self.blk
        rec = self.record
        for c in range(c0, c1):
            if bitmap.get(c):
                continue
            bitmap.set(c)
            rec.tasks += 1
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
                rec.zero_clusters += 1
            if zero and self.stream:
                pass  # the archive records a zero cluster without I/O
            else:
                nbytes = 0 if zero else cs  # write-zeroes carries no data
                if self.stream:
                    wr = Request(WRITE, self.target_base + self.target_pos, nbytes, BACKUP)
                    self.target_pos += nbytes
                else:
                    wr = Request(WRITE, self.target_base + c * cs, nbytes, BACKUP)
                yield from blk.write_for_job(wr, co, self.target)
                if self.faults.write_fails(c):
                    return self._copy_failed(f"target write error at cluster {c}", cow)
                rec.target_bytes += nbytes
            self.oracle.copy_landed(c, gen)
            rec.copied(c, self.env.now, cow)
            if cow:
                rec.cow_count += 1
                if self._gate_wait is not None and self._gate_wait[0] == c and self.co is not None:
                    self.co.interrupt(self._gate_wait[1])
            self.policy.on_copy(cs, cow)
            self._trace("copied", c)
        return True

    def _copy_failed(self, why: str, cow: bool) -> bool:
        """A copy's read or write failed: fail the job, or (``leave-hole``) only the guest write."""
        if cow:
            self.record.cow_errors += 1
            if self.on_cow_error == "leave-hole":
                self._trace("cow-error", why)  # the bit stays set: the loop will skip this cluster
                return False
        self.fail(why)
        return False


# registered after the class, not by a decorator, so that compiled (docs/kernel.md) it stays a native class
MODES.register("seed-2013")(SeedBackupJob)
