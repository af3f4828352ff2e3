"""QEMU's thread pool: how a request reaches a device opened with ``aio=threads`` (``[thread_pool]``).

QEMU's ``file`` driver with ``aio=threads`` (its default) does not call
``pread``/``pwrite`` from the event loop's thread: ``raw_thread_pool_submit``
hands the call to a worker of the loop's thread pool and the request's
coroutine waits (``util/thread-pool.c``, QEMU 1.x to 10.x):

* ``thread_pool_submit_aio`` queues the call and signals ``request_cond``; an
  idle worker (one waiting in ``qemu_cond_timedwait``) wakes, takes the
  oldest call and makes it; a new worker is spawned when none is idle, up to
  ``max_threads`` (64), which is the device's ``queue_depth`` here;
* the worker marks the call done and schedules the pool's completion bottom
  half, which wakes the loop; the bottom half re-enters the coroutine (the
  block layer's completion handler, ``loop.complete_cost``).

So every such request pays a round trip between two threads that the
device's own service time does not contain: ``handoff``, the time from the
submission to the worker's call plus from its return to the completion
being seen by the loop, when the threads on the way are running.  A worker
that has slept costs more: when the pool has had nothing to do for at least
``loop.halt_poll`` (the virtual CPU its worker sleeps on has stopped
polling, KVM's ``halt_poll_ns``), the first call to reach it also pays
``wake``, drawn from a lognormal distribution with median ``wake`` and 99th
percentile ``wake_p99`` when that is given, at the quantile of the loop wake
just before it (:mod:`sim.wakes`: the two happen within microseconds on the
same host; each loop wake lends its quantile once).  Both are 0 by default: a device
without the pool, or a pool that costs nothing.

Measured by ``backupsim calibrate`` (:class:`sim.calibrate.real.PathProbe`,
``docs/calibration.md``): fio over NBD at queue depth 1 to a ``file`` node on
tmpfs against the same export of a ``null-co`` node, which completes in the
request's coroutine and never enters the pool.  Back to back, the file path
less the null path less the file's own ``psync`` time is ``handoff`` (20-40 µs
on the 2-vCPU reference machine, 2026-11-30); paced at 200 IOPS, what the file
path adds to its back-to-back time beyond what the null path adds to its own is
``wake`` (30-100 µs there).

Left out: the worker's CPU time competing with the loop's for the host's
CPUs, and the spawning of workers (a pool that has never run 64 calls at
once spawns one as they come; the cost is the same ``handoff``).

To model another submission path (``aio=native`` or ``io_uring``, submitted
from the loop's own thread), leave ``aio`` at ``native``; for a path with a
cost of its own, write a layer like :class:`sim.devices.pooled.PooledDevice`
(:class:`sim.devices.layer.DeviceLayer`), which puts a device behind the pool.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import model_validator

from .clock import Environment
from .params import Invalid, Section, Time

__all__ = ["ThreadPoolConfig", "ThreadPool"]


class ThreadPoolConfig(Section):
    """``[thread_pool]``: the cost of QEMU's thread pool for devices with ``aio = "threads"`` (0: none)."""

    handoff: Time = 0
    wake: Time = 0
    wake_p99: Time | None = None

    @model_validator(mode="after")
    def _check(self) -> ThreadPoolConfig:
        if self.wake_p99 is not None and self.wake_p99 < self.wake:
            raise Invalid("wake_p99", self.wake_p99, f"a time of at least wake ({self.wake} ns)")
        return self


class ThreadPool:
    """One loop's pool of workers, shared by every device of the run opened with ``aio = "threads"``.

    :meth:`delay` is what a call submitted now waits before its worker makes it;
    :meth:`done` is called when the call returns.
    """

    def __init__(
        self,
        env: Environment,
        cfg: ThreadPoolConfig,
        halt_poll: int = 0,
        wake_sampler: Callable[[], int] | None = None,
    ):
        self.env = env
        self.handoff = cfg.handoff
        self.wake = cfg.wake
        self.halt_poll = halt_poll
        self.wake_sampler = wake_sampler
        self.busy = 0  # calls handed over and not yet returned
        self._idle_since = 0  # when the last call returned (the pool has been idle since)
        self.wakes = 0  # calls that found every worker asleep

    def delay(self) -> int:
        """Hand a call over now: its worker starts it this many ns later."""
        delay = self.handoff
        if self.wake and not self.busy and self.env.now - self._idle_since >= self.halt_poll:
            self.wakes += 1
            delay += self.wake_sampler() if self.wake_sampler is not None else self.wake
        self.busy += 1
        return delay

    def done(self) -> None:
        """A call returned."""
        self.busy -= 1
        if not self.busy:
            self._idle_since = self.env.now
