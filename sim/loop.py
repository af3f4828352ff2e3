"""QEMU's main loop: one thread, iterations of poll, ready handlers, expired timers.

This models the event loop that runs the guest's virtio notifications, I/O
completions and the backup coroutine (``docs/model.md`` section 4; why it runs on
SimPy callbacks rather than processes: ``docs/kernel.md``):

* A **ready handler** (:meth:`EventLoop.post`) is something the next poll will
  report: a guest's virtio kick, an AIO completion, a coroutine that yielded.
  Running it costs ``cost`` ns of the loop's CPU, during which nothing else runs.
  A handler may ask to keep the loop longer by returning ``(ns, fn, arg)``:
  the loop is held ``ns`` more and then ``fn(arg)`` runs (a coroutine step that
  does not yield).
* A **timer** (:meth:`EventLoop.call_later`) runs in the timer phase of the first
  iteration that starts at or after its deadline.
* Between the last ready handler and the timer phase every iteration spends
  ``iteration_cost`` ns of CPU (:class:`sim.config.LoopConfig` says where the
  value comes from).  QEMU of 2013 ran the timers *after* the dispatch
  (``main_loop_wait``: ``os_host_main_loop_wait`` dispatches, then
  ``qemu_iohandler_poll``, ``slirp_pollfds_poll``, then
  ``qemu_run_all_timers``), so a timer armed by a handler for less than that
  cost ahead is already due at the timer check and runs in the same
  iteration, without waiting for the host alarm.
* **Poll** blocks until a handler is ready or the host alarm fires.  The alarm
  cannot be set closer than ``timer_min_rearm`` ahead of the moment it is armed
  (250 us for the dynticks alarm of 2013, ``MIN_TIMER_REARM_NS`` in
  qemu-timer.c; 0 for today's ppoll/timerfd).  So a 1 us sleep on an idle loop
  lasts about 250 us in the 2013 era, and about one iteration when guest
  handlers keep the loop busy.

* A loop blocked in poll runs again ``idle_wake`` ns after the event that
  wakes it (a post or its alarm): the host CPU leaving its idle state and the
  scheduler running the thread; with ``idle_wake_p99`` each wake's time is
  drawn from a lognormal distribution with median ``idle_wake`` and that 99th
  percentile.  0 by default; ``backupsim calibrate`` measures both on the
  machine it compares against.

Handlers posted during an iteration are seen by the next poll (which then does
not block).  Each iteration takes the handlers ready at its poll, in the order
they became ready, then the timers expired at the start of its timer phase.

The wait of each guest handler (from ready to start) is recorded in
``guest_wait_t`` / ``guest_wait_ns``: the "unresponsiveness" the patch author
felt.  To model another loop (say an iothread with its own AioContext), build a
second :class:`EventLoop` and post the handlers that belong to it there.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import simpy

from .clock import Environment

__all__ = ["EventLoop", "Handler"]

Handler = Callable[[Any], "tuple[int, Callable[[Any], Any], Any] | None"]


class EventLoop:
    """The single-threaded, non-preemptive main loop, driven by SimPy time."""

    def __init__(
        self,
        env: Environment,
        timer_min_rearm: int = 0,
        trace: list | None = None,
        iteration_cost: int = 0,
        idle_wake: int = 0,
        wake_sampler: Callable[[], int] | None = None,
    ):
        self.env = env
        self.idle_wake = idle_wake  # time from an event to the first handler when the loop was blocked in poll
        self.wake_sampler = wake_sampler  # draws each wake's time (else every wake takes idle_wake)
        self.rearm = timer_min_rearm
        self.iteration_cost = iteration_cost
        self.trace = trace
        self._ready: deque = deque()
        self._batch: deque = deque()
        self._timers: list = []
        self._tseq = 0
        self._busy = False
        self._timer_phase = False
        self._timer_now = 0
        self._timer_limit = 0
        self._cont: tuple | None = None
        self._alarm_at: int | None = None
        self._alarm_ev: simpy.Event | None = None
        self._alarm_ev_at = -1
        self.iterations = 0
        self.busy_ns = 0
        self.guest_wait_t = array("q")
        self.guest_wait_ns = array("q")

    # -- what components call -------------------------------------------------

    def post(self, fn: Handler, arg: Any = None, cost: int = 0, guest: bool = False) -> None:
        """Make ``fn(arg)`` a ready handler that costs ``cost`` ns when it runs."""
        self._ready.append((fn, arg, cost, self.env.now if guest else -1))
        if not self._busy:
            self._busy = True
            if self.idle_wake:
                # the thread sleeps in poll: it runs again only after the host wakes it
                self.env.timeout(self._wake_time()).callbacks.append(self._woken)
                return
            self._new_iteration()
            self._run()

    def _wake_time(self) -> int:
        return self.wake_sampler() if self.wake_sampler is not None else self.idle_wake

    def _woken(self, _event: Any = None) -> None:
        self._new_iteration()
        self._run()

    def call_later(self, delay: int, fn: Handler, arg: Any = None, cost: int = 0) -> None:
        """A timer: ``fn(arg)`` runs (costing ``cost``) in the timer phase after ``now + delay``."""
        now = self.env.now
        deadline = now + delay
        entry = (deadline, self._tseq, fn, arg, cost)
        self._tseq += 1
        heappush(self._timers, entry)
        if self._timers[0] is entry:
            # the new earliest timer re-arms the host alarm
            self._alarm_at = max(deadline, now + self.rearm)
        if not self._busy:
            # armed from outside the loop (a device callback): poll re-blocks on the new alarm
            if not self._block(now):
                self._busy = True
                self._new_iteration()
                self._run()

    @property
    def idle(self) -> bool:
        """True while the loop is blocked in poll."""
        return not self._busy

    # -- the iteration ----------------------------------------------------------

    def _new_iteration(self) -> None:
        self._batch, self._ready = self._ready, self._batch
        self._timer_phase = False

    def _hold(self, ns: int) -> None:
        self.busy_ns += ns
        self.env.timeout(ns).callbacks.append(self._run)

    def _run(self, _event: Any = None) -> None:
        env = self.env
        timers = self._timers
        while True:
            cont = self._cont
            if cont is not None:
                self._cont = None
                r = cont[0](cont[1])
                if r is not None:
                    hold, fn2, arg2 = r
                    self._cont = (fn2, arg2)
                    if hold > 0:
                        self._hold(hold)
                        return
                continue
            if not self._timer_phase:
                if self._batch:
                    fn, arg, cost, t_ready = self._batch.popleft()
                    if t_ready >= 0:
                        self.guest_wait_t.append(t_ready)
                        self.guest_wait_ns.append(env.now - t_ready)
                    self._cont = (fn, arg)
                    if cost > 0:
                        self._hold(cost)
                        return
                    continue
                self._timer_phase = True
                self._timer_now = -1
                if self.iteration_cost:
                    # the rest of the iteration's dispatch before the timer check
                    self._hold(self.iteration_cost)
                    return
            if self._timer_now < 0:
                self._timer_now = env.now
                self._timer_limit = self._tseq
            if timers and timers[0][0] <= self._timer_now and timers[0][1] < self._timer_limit:
                _, _, fn, arg, cost = heappop(timers)
                self._cont = (fn, arg)
                if cost > 0:
                    self._hold(cost)
                    return
                continue
            # end of iteration: poll
            self.iterations += 1
            now = env.now
            if self._ready or not self._block(now):
                self._new_iteration()
                continue
            return

    def _block(self, now: int) -> bool:
        """Block in poll until the host alarm (or a post); False if it is already due."""
        timers = self._timers
        if timers:
            if self._alarm_at is None or self._alarm_at <= now:
                self._alarm_at = max(timers[0][0], now + self.rearm)
            alarm = self._alarm_at
            if alarm <= now:
                return False
            if self._alarm_ev is None or self._alarm_ev_at != alarm or self._alarm_ev.processed:
                ev = self.env.timeout(alarm - now)
                ev.callbacks.append(self._on_alarm)
                self._alarm_ev, self._alarm_ev_at = ev, alarm
        self._busy = False
        return True

    def _on_alarm(self, event: simpy.Event) -> None:
        if self._busy or event is not self._alarm_ev:
            return
        self._busy = True
        if self.idle_wake:
            self.env.timeout(self._wake_time()).callbacks.append(self._woken)
            return
        self._new_iteration()
        self._run()
