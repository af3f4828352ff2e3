"""The block layer: tracked requests, overlap serialization and the job's hooks.

Every request to the source disk, the guest's and the backup job's own
cluster reads, is a *tracked request* while it is in flight.  While a backup
job is active and ``block.serialize_overlaps`` is on, a request first waits
until no tracked request overlaps it, both rounded out to the backup cluster
size, as the reviewed patch's ``wait_for_overlapping_requests`` does; then it
is tracked itself (the 2013 job's serialization: a mode whose
``tracks_guest`` is false, as block-copy, serializes through its own task list
and the block layer tracks no guest request).  A guest write, discard or
write-zeroes then runs the job's one hook, ``before_io`` (copy-before-write),
before it reaches the disk; with ``backup.cow_on_read`` a guest read runs it
too (the patch's ``before_read``).

A guest request is a coroutine on the loop (:mod:`sim.coroutine`): its virtio
notification is a ready handler costing ``loop.submit_cost``, its device
completion one costing ``loop.complete_cost``.  Its latency runs from the
guest's notification to the end of that completion handler.  When nothing on
its way can make it wait (no drain, no overlapping tracked request, a job hook
that would return at once: :meth:`sim.jobs.BackupJob.io_is_clean`), the same
steps run as two plain handlers, without a generator or a coroutine object
(the fast path, :meth:`BlockLayer._guest_start`); ``fast = False`` turns it off,
and tests check that the results do not change.

:class:`sim.activity.GuestActivity` is what pacing policies may observe of the
guest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .activity import GuestActivity
from .clock import Environment
from .coroutine import PARK, Body, Coroutine
from .devices import Device
from .loop import EventLoop
from .oracle import ContentOracle
from .request import READ, Request

if TYPE_CHECKING:
    from .config import LoopConfig
    from .jobs import BackupJob

__all__ = ["BlockLayer", "GuestActivity"]


class BlockLayer:
    """Serializes overlapping requests, calls the job's hooks, submits to the disk."""

    def __init__(
        self,
        env: Environment,
        loop: EventLoop,
        disk: Device,
        loop_cfg: LoopConfig,
        cluster_size: int,
        serialize: bool,
        oracle: ContentOracle,
        trace: list | None = None,
    ):
        self.env = env
        self.loop = loop
        self.disk = disk
        self.costs = loop_cfg
        self._submit_cost = loop_cfg.submit_cost
        self._complete_cost = loop_cfg.complete_cost
        self.zero_sleep_yields = loop_cfg.zero_sleep == "yield"
        self.shift = cluster_size.bit_length() - 1
        self.serialize = serialize
        self.oracle = oracle
        self.trace = trace
        self.job: BackupJob | None = None  # the active job: its before_io hook runs on guest writes
        self.tracked: dict[int, list[Request]] = {}
        self.activity = GuestActivity(env)
        self.overlap_waits = 0
        self.in_flight = 0  # guest requests past the drain gate
        self.fast = True  # False: every guest request runs as a coroutine (the same results, slower)
        self._gate: list[Coroutine] | None = None
        self._drained: Callable[[], None] | None = None
        # the callbacks handed to the loop and the devices for each request, bound once (a
        # bound method made per request is an allocation; compiled, also an attribute lookup)
        self._guest_start_call = self._guest_start
        self._guest_fast_done_call = self._guest_fast_done
        self._guest_end_call = self._guest_end
        self._guest_io_done_call = self._guest_io_done
        self._job_read_done_call = self._job_read_done
        self._job_write_done_call = self._job_write_done

    # -- guest requests ---------------------------------------------------------

    def submit_guest(self, req: Request, on_done: Callable[[Request], None], cost: int | None = None) -> None:
        """The guest notifies QEMU of ``req`` now; ``on_done(req)`` when it completes.

        ``cost`` is the loop CPU of the notification's handler (``loop.submit_cost``
        by default; an NBD export's request costs its own: :mod:`sim.nbd`).
        """
        req.t_submit = self.env.now
        req.on_done = on_done
        shift = self.shift
        req.c0 = req.offset >> shift
        req.c1 = ((req.offset + req.nbytes - 1) >> shift) + 1
        self.activity.submitted()
        if self.trace is not None:
            self.trace.append((self.env.now, "guest", "submit", req))
        self.loop.post(self._guest_start_call, req, self._submit_cost if cost is None else cost, True)

    def _guest_start(self, req: Request) -> Any:
        """The notification's handler: the fast path, or the request's coroutine when it may wait.

        The fast path is the coroutine :meth:`_guest` run to its device submission
        when nothing on the way can make it wait: no drain gate, no overlapping
        tracked request, and a job hook that would return at once
        (:meth:`sim.jobs.BackupJob.io_is_clean`).  It does what the coroutine
        would, in the same order, without a generator or a coroutine object.
        """
        job = self.job
        if (
            self.fast
            and self._gate is None
            and (job is None or (req.op == READ and not job.cow_on_read) or job.io_is_clean(req))
        ):
            if self.serialize:
                if job is not None:
                    tracked = self.tracked
                    for c in range(req.c0, req.c1):
                        if c in tracked:
                            return self._guest_slow(req)
                self.track(req)
            self.in_flight += 1
            if req.op != READ:  # a write, discard or write-zeroes changes the content
                self.oracle.write_started(req.c0, req.c1)
            self.disk.submit(req, self._guest_fast_done_call)
            return None
        return self._guest_slow(req)

    def _guest_slow(self, req: Request) -> Any:
        co = Coroutine(
            self.loop, self._guest(req), self.costs.wake_cost, guest=True, zero_sleep_yields=self.zero_sleep_yields
        )
        req.co = co
        return co._enter(None)

    def _guest_fast_done(self, req: Request) -> None:
        if req.op != READ:
            self.oracle.write_landed(req.c0, req.c1)
        self.loop.post(self._guest_end_call, req, self._complete_cost, True)

    def _guest_end(self, req: Request) -> None:
        """The end of a guest request after the device: the fast path's handler, the coroutine's last step."""
        if self.serialize:
            self.untrack(req)
        req.t_done = self.env.now
        self.in_flight -= 1
        if self.in_flight == 0 and self._drained is not None:
            drained, self._drained = self._drained, None
            drained()
        self.activity.completed(req.t_done - req.t_submit)
        if self.trace is not None:
            self.trace.append((self.env.now, "guest", "complete", req))
        req.on_done(req)  # type: ignore[misc]  # set by submit_guest

    def _guest(self, req: Request) -> Body[None]:
        co = req.co
        assert co is not None and req.on_done is not None  # set by submit_guest
        if self._gate is not None:
            self._gate.append(co)
            yield PARK
        self.in_flight += 1
        if self.serialize:
            if self.job is not None:
                yield from self.wait_overlaps(req, co)
            self.track(req)
        job = self.job
        if job is not None and (req.op != READ or job.cow_on_read):
            ok = yield from job.before_io(req, co)
            if not ok:
                req.error = True
        if not req.error:
            if req.op != READ:  # a write, discard or write-zeroes changes the content
                self.oracle.write_started(req.c0, req.c1)
            self.disk.submit(req, self._guest_io_done_call)
            yield PARK
        self._guest_end(req)

    def _guest_io_done(self, req: Request) -> None:
        if req.op != READ:
            self.oracle.write_landed(req.c0, req.c1)
        co = req.co
        assert co is not None  # set when the request was submitted
        co.wake(None, self.costs.complete_cost)

    def drain(self, then: Callable[[], None]) -> None:
        """Hold new guest requests until those in flight complete, then call ``then()``.

        QEMU drains all I/O (``bdrv_drain_all``) before it starts a backup, so
        the point in time the backup captures is well defined; the held
        requests go on as soon as ``then`` returns.
        """
        self._gate = []
        # QEMU drains the node too: a throttle node lets its queued requests go (throttle_drain_begin)
        begin = getattr(self.disk, "drain_begin", None)  # a plug-in device may have none
        if begin is not None:
            begin()

        def release() -> None:
            end = getattr(self.disk, "drain_end", None)
            if end is not None:
                end()
            then()
            gate, self._gate = self._gate or [], None
            for co in gate:
                co.wake(None, 0)

        if self.in_flight == 0:
            release()
        else:
            self._drained = release

    # -- tracked requests -------------------------------------------------------

    def clusters(self, req: Request) -> None:
        """Set ``req.c0 .. req.c1`` to the clusters it touches."""
        req.c0 = req.offset >> self.shift
        req.c1 = ((req.offset + req.nbytes - 1) >> self.shift) + 1

    def wait_overlaps(self, req: Request, co: Coroutine) -> Body[None]:
        """Park ``co`` until no tracked request overlaps ``req`` (rounded to clusters)."""
        tracked = self.tracked
        while True:
            other = None
            for c in range(req.c0, req.c1):
                lst = tracked.get(c)
                if lst:
                    other = lst[0]
                    break
            if other is None:
                return
            self.overlap_waits += 1
            if self.trace is not None:
                self.trace.append((self.env.now, "block", "wait-overlap", (req, other)))
            if other.waiters is None:
                other.waiters = []
            other.waiters.append(co)
            yield PARK

    def track(self, req: Request) -> None:
        tracked = self.tracked
        for c in range(req.c0, req.c1):
            lst = tracked.get(c)
            if lst is None:
                tracked[c] = [req]
            else:
                lst.append(req)

    def untrack(self, req: Request) -> None:
        tracked = self.tracked
        for c in range(req.c0, req.c1):
            lst = tracked[c]
            if len(lst) == 1:
                del tracked[c]
            else:
                lst.remove(req)
        if req.waiters:
            waiters, req.waiters = req.waiters, None
            for co in waiters:
                co.wake(None, self.costs.wake_cost)

    # -- the job's own reads ----------------------------------------------------

    def read_for_job(self, req: Request, co: Coroutine, device: Device | None = None) -> Body[None]:
        """Read ``req`` for the job (not tracked: the caller's tracked request covers it)."""
        req.co = co
        self.oracle.read_started(req.c0, req.c0 + 1)
        if self._io_for_job(device or self.disk, req, co, self._job_read_done_call):
            req.gen = self.oracle.read_ended(req.c0)  # _job_read_done's work, without the wake
        else:
            yield PARK

    def _io_for_job(self, dev: Device, req: Request, co: Coroutine, done: Callable[[Request], None]) -> bool:
        """Submit the job's ``req`` to ``dev``; True if it completed in this step (``done`` not called).

        When the loop is quiet until the completion's handler would run, it skips
        to it (:meth:`sim.loop.EventLoop.skip_wait`, the fast-forward) and the
        coroutine goes on without parking; the device then completes the request
        at its time, as it would have (:meth:`sim.devices.Device.start_alone`).
        """
        loop = self.loop
        if loop._top and loop.fast_forward and not co.guest and isinstance(dev, Device):
            end = dev.start_alone(req)
            if end is not None:
                if loop.skip_wait(end, self._complete_cost):
                    dev.finish_alone(end)
                    return True
                dev.finish_later(req, done, end)
                return False
        dev.submit(req, done)
        return False

    def _job_read_done(self, req: Request) -> None:
        req.gen = self.oracle.read_ended(req.c0)
        co = req.co
        assert co is not None  # set when the request was submitted
        co.wake(None, self.costs.complete_cost)

    def write_for_job(self, req: Request, co: Coroutine, target: Device) -> Body[None]:
        """Write ``req`` to the backup target."""
        req.co = co
        if not self._io_for_job(target, req, co, self._job_write_done_call):
            yield PARK

    def _job_write_done(self, req: Request) -> None:
        co = req.co
        assert co is not None  # set when the request was submitted
        co.wake(None, self.costs.complete_cost)
