"""Wiring one simulation: devices, loop, block layer, guest, job, policy.

:class:`Model` builds every component from its slice of the :class:`Config`
and its own random streams, runs SimPy until the run's end, and hands back the
raw state for :mod:`sim.metrics`.  No files, no prints: the runner does that.

A run ends when the backup has ended and the guest's ``duration`` (if it is a
time) has passed, or at ``run.max_time`` (status ``timeout``).  Without a
backup, a guest with ``duration = "backup"`` runs until it has issued its
last request (a trace or a script; other guests need a time).  A baseline
run (``with_backup=False``) is the same guest on the same devices with the
same seed, run until ``until``; it is given the backup run's window
(``window``) for its statistics (:mod:`sim.recording`), or the windows of
several backup runs that share it (:func:`sim.runner.run_group`).

**Where a baseline ends.**  A baseline's guest does not stop at ``until``:
it goes on issuing until every request it submitted before ``until`` has
completed (:meth:`sim.workloads.Guest.settle`), then stops and drains.  So the
requests of a window see the same guest before and after them whether the
baseline ends at that window or goes on to a later one: a baseline shared by
several runs gives each the statistics its own baseline would, and a run's
result does not depend on the other runs of its batch.  (A guest that stopped
at the window's end would make the requests still in flight then faster than
the guest's steady state.)  A paced guest (``fio-rate``) counts its schedule
by due time, which a later end would change, so its baseline stops at
``until`` and is never shared.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from .block import BlockLayer
from .clock import Environment
from .config import Config
from .devices import make_device
from .faults import Faults
from .host import Allocator
from .jobs import BackupJob, JobContext, make_job
from .layout import DiskLayout
from .loop import EventLoop
from .nbd import NbdExport
from .oracle import ContentOracle, NoOracle
from .params import MODES
from .policies import PolicyContext, make_policy
from .recording import Recording, Window
from .request import BACKUP, GUEST
from .rng import Draws, RequestDraws, Streams
from .threadpool import ThreadPool
from .wakes import HostWakes, lognormal
from .workloads import make_guest

__all__ = ["Model"]


class Model:
    """One run's components, built and ready to :meth:`run`."""

    def __init__(
        self,
        cfg: Config,
        with_backup: bool = True,
        trace: bool | None = None,
        window: tuple[int, int] | list[tuple[int, int]] | None = None,
        shortcuts: bool = True,
        fast_forward: bool = True,
    ):
        self.cfg = cfg
        # shortcuts=False: every entry through the heap, every loop hold an entry, no
        # fast path for guest requests and no fast-forward: the same results, slower (tests
        # compare them); fast_forward=False turns off only the last (sim/loop.py)
        self.env = env = Environment(shortcuts=shortcuts)
        streams = Streams(cfg.run.seed)
        wakes = HostWakes(streams)  # the loop's and the thread pool's wakes share the host's state (sim/wakes.py)
        self.trace: list | None = [] if (cfg.run.trace if trace is None else trace) else None
        n = cfg.backup.clusters
        mode = MODES.get(cfg.backup.mode) if with_backup and cfg.backup.mode != "none" else None
        self.loop = EventLoop(
            env,
            cfg.loop.rearm_ns,
            self.trace,
            cfg.loop.iteration_cost,
            cfg.loop.idle_wake,
            lognormal(cfg.loop.idle_wake, cfg.loop.idle_wake_p99, wakes.loop),
            cfg.loop.halt_poll,
        )
        self.loop.fast_forward = fast_forward
        groups: dict = {}  # this run's throttle groups by name, shared by its devices (sim/devices/throttle.py)
        # the loop's thread pool, through which devices with aio = "threads" are reached (sim/threadpool.py)
        pool = ThreadPool(
            env,
            cfg.thread_pool,
            cfg.loop.halt_poll,
            lognormal(cfg.thread_pool.wake, cfg.thread_pool.wake_p99, wakes.pool),
        )
        self.pool = pool
        self.disk = make_device(env, cfg.disk, _per_origin(streams, "disk"), "disk", self.trace, groups, pool)
        if cfg.backup.target_on_source:
            # a local backup to the same disk or array: one device, one queue, one head;
            # the target region lies after the disk's own bytes
            self.target = self.disk
        else:
            self.target = make_device(
                env, cfg.target, _per_origin(streams, "target"), "target", self.trace, groups, pool
            )
        # generations of every cluster, for a backup's consistency; a run without one keeps none
        self.oracle = ContentOracle(n) if mode is not None else NoOracle()
        self.blk = BlockLayer(
            env,
            self.loop,
            self.disk,
            cfg.loop,
            cfg.backup.cluster,
            cfg.block.serialize_overlaps and (mode is None or mode.tracks_guest),
            self.oracle,
            self.trace,
        )
        self.blk.fast = shortcuts
        # the guest reaches the block layer directly (virtio) or through QEMU's NBD export
        # QEMU's heap: the NBD server's request buffers and block-copy's task buffers (sim/host.py)
        self.heap = Allocator(cfg.host)
        self.nbd = NbdExport(self.blk, cfg.nbd, self.heap) if cfg.nbd.enabled else None
        front = self.nbd if self.nbd is not None else self.blk
        # what the run records: statistics in its backup window (a baseline's: the window or windows given)
        windows = [window] if isinstance(window, tuple) else list(window or [])
        self.recording = Recording(
            Window.fixed(*windows[0]) if windows else Window.of_run(self),
            cfg.run.timeline_window,
            cfg.run.keep_requests,
            tuple(Window.fixed(*w) for w in windows[1:]),
        )
        self.loop.waits = self.recording.wait_stats()
        self.guest = make_guest(
            env, cfg.workload, front, cfg.backup.disk_size, Draws(streams.generator("workload")), self.recording
        )
        self.job: BackupJob | None = None
        if mode is not None:
            ctx = PolicyContext(env, self.blk.activity, cfg.disk, cfg.target, Draws(streams.generator("policy")))
            policy = make_policy(cfg.policy, ctx)
            faults = Faults(cfg.faults, Draws(streams.generator("faults")))
            layout = None
            if cfg.backup.allocated < 1.0 or cfg.backup.zero_fraction > 0.0:
                layout = DiskLayout(n, cfg.backup.allocated, cfg.backup.zero_fraction, streams.generator("layout"))
            fleece = None
            if getattr(cfg.backup, "fleecing", False):
                fleece = make_device(
                    env, cfg.fleece, _per_origin(streams, "fleece"), "fleece", self.trace, groups, pool
                )
            jctx = JobContext(
                env,
                self.blk,
                self.target,
                cfg.loop,
                policy,
                faults,
                self.oracle,
                serialize=cfg.block.serialize_overlaps,
                target_base=cfg.backup.disk_size if cfg.backup.target_on_source else 0,
                fleece=fleece,
                layout=layout,
                trace=self.trace,
                host=cfg.host,
                heap=self.heap,
            )
            self.job = make_job(cfg.backup, jctx)
            self.job.record.configure(cfg.run.timeline_window, cfg.run.keep_requests)
            ctx.job = self.job.view
        self.timed_out = False
        self.t_end = 0
        # a baseline's guest goes on until its requests submitted before the end have completed
        self.settles = bool(windows) and not self.guest.paced

    def run(self, until: int | None = None) -> Model:
        """Run to the end of the run (or to ``until`` ns); returns self."""
        env, cfg = self.env, self.cfg
        stop = env.event()
        guest_end = env.event()
        self.guest.start()
        duration = cfg.workload.duration
        if isinstance(duration, int):
            env.timeout(duration).callbacks.append(_then(guest_end.succeed))
        else:
            guest_end.succeed()
        waits = [guest_end]
        if self.job is not None:
            job = self.job
            env.timeout(cfg.backup.start).callbacks.append(lambda _e: self.blk.drain(job.start))
            if cfg.backup.cancel_at is not None:
                env.timeout(cfg.backup.start + cfg.backup.cancel_at).callbacks.append(lambda _e: job.cancel())
            if duration == "backup":
                job.done.callbacks.append(lambda _e: self.guest.stop())
            waits.append(job.done)
        elif duration == "backup":
            # no backup to wait for: a finite guest (a trace, a script) runs to its end
            waits.append(self.guest.exhausted)
        cap = cfg.run.max_time if until is None else min(until, cfg.run.max_time)
        if until is None:
            env.all_of(waits).callbacks.append(_then(lambda: stop.succeed() if not stop.triggered else None))
        env.timeout(cap).callbacks.append(lambda _e: self._cap(stop))
        settled = env.event()
        if self.settles:
            # at the very start of the end instant, before anything is issued at it
            env.call_first(cap - env.now, lambda _a: self.guest.settle(settled.succeed))
        env.run(until=stop)
        self.t_end = env.now
        if self.settles and not settled.triggered:
            # (a safety cap: every request completes, as the drain below relies on too)
            env.timeout(cfg.run.max_time).callbacks.append(_then(lambda: settled.triggered or settled.succeed()))
            env.run(until=settled)
        # let the guest's requests in flight complete, so that the slowest
        # requests of the window are not the ones left out of its statistics
        self.guest.stop()
        if self.blk.activity.in_flight:
            # an event of our own: the guest's idle event belongs to the policies
            # and must not be fired by the cap
            drained = env.event()
            done = _then(lambda: drained.succeed() if not drained.triggered else None)
            self.blk.activity.idle_event().callbacks.append(done)
            env.timeout(cfg.run.max_time).callbacks.append(done)
            env.run(until=drained)
        return self

    def _cap(self, stop: simpy.Event) -> None:
        if not stop.triggered:
            self.timed_out = True
            stop.succeed()


def _then(fn: Callable[[], object]) -> Callable[[simpy.Event], None]:
    """A SimPy event callback that calls ``fn()`` (and drops what it returns)."""

    def callback(_event: simpy.Event) -> None:
        fn()

    return callback


def _per_origin(streams: Streams, name: str) -> dict[int, RequestDraws]:
    # guest and backup requests draw service noise from separate streams, each
    # request's draws keyed to the request, so every guest request gets the same
    # draws with and without a backup (common random numbers)
    return {GUEST: RequestDraws(streams, name, "guest"), BACKUP: RequestDraws(streams, name, "backup")}
