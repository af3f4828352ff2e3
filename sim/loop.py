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
  machine it compares against.  With ``halt_poll``, only a loop blocked for at
  least that long pays it: a CPU that went idle less than ``halt_poll`` ago is
  still polling for work and runs the thread at once (KVM's halt polling,
  ``halt_poll_ns``, 200 µs by default, Documentation/virt/kvm/halt-polling.rst;
  measured on the 2-vCPU reference machine: a thread woken after 5-150 µs idle
  runs 8-10 µs later, after 300 µs or more about 150 µs later,
  ``docs/calibration.md``).

When only one coroutine is running and about to wait (a yield, a sleep, a
device request), the loop can compute when it runs again instead of stepping
there: the fast-forward (:meth:`EventLoop.skip_wait` and the two beside it),
exact by construction and tested against the step-by-step path.

Handlers posted during an iteration are seen by the next poll (which then does
not block).  Each iteration takes the handlers ready at its poll, in the order
they became ready, then the timers expired at the start of its timer phase.

The wait of each guest handler (from ready to start) is recorded in
``waits`` (:class:`sim.recording.WaitStats`: the maximum and a histogram, split
by the backup window): the "unresponsiveness" the patch author felt.  To
model another loop (say an iothread with its own AioContext), build a second
:class:`EventLoop` and post the handlers that belong to it there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

from .clock import Environment
from .recording import WaitStats

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
        halt_poll: int = 0,
    ):
        self.env = env
        self.idle_wake = idle_wake  # time from an event to the first handler when the loop was blocked in poll
        self.halt_poll = halt_poll  # a loop blocked for less than this wakes at once (0: every wake costs)
        self._idle_since = 0  # when the loop last blocked in poll
        self.wake_sampler = wake_sampler  # draws each wake's time (else every wake takes idle_wake)
        self._next_wake = -1  # a wake time drawn ahead by a skip that did not happen (-1: none)
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
        self._alarm_armed = -1  # the time of the pending alarm entry on the agenda (-1: none)
        self._alarm_token = 0  # the pending alarm entry's number: an older entry is stale
        self._top = False  # _run was entered from the loop's own agenda entry
        self.fast_forward = True  # False: no skip_* (the same results, slower; tests compare them)
        self.skipped = 0  # waits that skip_* ran in the waiting handler's own step
        self.skipped_iterations = 0  # iterations (of those counted in iterations) that they ran
        self.iterations = 0
        self.busy_ns = 0
        self.waits = WaitStats()  # waits of ready guest handlers (sim.recording; the model gives its window)
        self._resume_call = self._resume  # the hold's end, bound once (not a bound method per hold)

    # -- what components call -------------------------------------------------

    def post(self, fn: Handler, arg: Any = None, cost: int = 0, guest: bool = False) -> None:
        """Make ``fn(arg)`` a ready handler that costs ``cost`` ns when it runs."""
        self._ready.append((fn, arg, cost, self.env.now if guest else -1))
        if not self._busy:
            self._busy = True
            if self.idle_wake and self.env.now - self._idle_since >= self.halt_poll:
                # the thread sleeps in poll: it runs again only after the host wakes it
                self.env.call_in(self._wake_time(), self._woken)
                return
            self._new_iteration()
            self._run()

    def _wake_time(self) -> int:
        w = self._next_wake
        if w >= 0:
            self._next_wake = -1
            return w
        return self.wake_sampler() if self.wake_sampler is not None else self.idle_wake

    def _peek_wake(self) -> int:
        """The next wake's time, drawn now if it is drawn (the next :meth:`_wake_time` returns it)."""
        if self.wake_sampler is None:
            return self.idle_wake
        if self._next_wake < 0:
            self._next_wake = self.wake_sampler()
        return self._next_wake

    def _woken(self, _arg: Any = None) -> None:
        self._new_iteration()
        self._top = self.env.shortcuts
        self._run()
        self._top = False

    def call_later(self, delay: int, fn: Handler, arg: Any = None, cost: int = 0) -> None:
        """A timer: ``fn(arg)`` runs (costing ``cost``) in the timer phase after ``now + delay``."""
        now = self.env.now
        deadline = now + delay
        seq = self._tseq
        self._tseq = seq + 1
        heappush(self._timers, (deadline, seq, fn, arg, cost))
        # by its number, which is unique, not by identity: compiled with mypyc (docs/kernel.md) a tuple of
        # known types is unboxed, and each boxing is a new object, so `timers[0] is entry` was never true
        if self._timers[0][1] == seq:
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

    def _resume(self, _arg: Any = None) -> None:
        self._top = self.env.shortcuts
        self._run()
        self._top = False

    def _run(self) -> None:
        # The hot path of the whole simulator: every handler, hold and timer passes
        # here.  Each step picks what runs next: the continuation of a handler
        # that asked for a hold, a ready handler of this iteration's batch, or a
        # due timer.  Then (once, for all three) it takes the hold before that
        # runs: `busy_ns += ns`, and either the clock moves at once (the loop runs
        # from its own agenda entry, so that nothing of a caller's is on the stack
        # to see the clock move, and nothing is queued up to the hold's end:
        # sim.clock.Environment.advance_to's test, written out) or an agenda entry
        # resumes this method after it.  What runs after the hold waits in
        # self._cont.  The iteration's own CPU (iteration_cost, before the timer
        # check) is a hold taken the same way.
        env = self.env
        queue = env._agenda
        timers = self._timers
        top = self._top
        while True:
            cont = self._cont
            if cont is not None:
                self._cont = None
                r = cont[0](cont[1])
                if r is None:
                    continue
                hold, fn, arg = r
                self._cont = (fn, arg)
            elif not self._timer_phase and self._batch:
                fn, arg, hold, t_ready = self._batch.popleft()
                if t_ready >= 0:
                    self.waits.add(t_ready, env.now - t_ready)
                self._cont = (fn, arg)
            elif not self._timer_phase:
                # the rest of the iteration's dispatch before the timer check: a hold with nothing after it
                self._timer_phase = True
                self._timer_now = -1
                hold = self.iteration_cost
            else:
                if self._timer_now < 0:
                    self._timer_now = env.now
                    self._timer_limit = self._tseq
                if timers and timers[0][0] <= self._timer_now and timers[0][1] < self._timer_limit:
                    _, _, fn, arg, hold = heappop(timers)
                    self._cont = (fn, arg)
                else:
                    # end of iteration: poll
                    self.iterations += 1
                    if self._ready or not self._block(env.now):
                        # _new_iteration(), written out
                        self._batch, self._ready = self._ready, self._batch
                        self._timer_phase = False
                        continue
                    return
            if hold > 0:
                self.busy_ns += hold
                t = env.now + hold
                if top and (not queue or queue[0][0] > t) and ((reg := env._reg) is None or reg[0] > t):
                    env.now = t
                    env.advanced += 1
                else:
                    env.call_in(hold, self._resume_call)
                    return

    # -- the fast-forward of a quiet loop ------------------------------------------

    # A handler running from the loop's own agenda entry (nothing of another
    # component's is on the stack to see the clock move) is about to wait: it
    # yields, sleeps on a timer, or parks until a completion posts it again.
    # When nothing else is ready, no timer is armed and nothing is on the agenda
    # before the moment it would run again, what the loop does meanwhile follows
    # from its rules alone: the rest of this iteration, the poll, the host alarm
    # or the completion, the wake, the next iteration up to the re-entry's cost.
    # skip_yield, skip_timer and skip_wait compute that moment and the loop's
    # state then (iterations, CPU held, phase, idle time, alarm), move the clock
    # there and return True: the handler goes on in the same step, as if it had
    # been re-entered.  Otherwise they change nothing and return False, and the
    # handler waits as usual.  The step-by-step path is the definition; the
    # tests run both (tests/test_fast_forward.py).  A drawn wake time is drawn
    # ahead only when the wake is sure to happen (nothing else is due before the
    # completion or the alarm that causes it); if the skip then does not
    # happen, the wake keeps that draw (_next_wake), so the stream's numbers go
    # to the same wakes in the same order.

    def _horizon(self) -> int | float:
        """The time of the next agenda entry, or -1 if the loop is not quiet here."""
        if not (self._top and self.fast_forward) or self._batch or self._ready or self._timers:
            return -1
        return self.env.peek()

    def _iteration_rest(self, now: int) -> int:
        """When the running handler's iteration reaches its timer check (it has no timers left then)."""
        return now if self._timer_phase else now + self.iteration_cost

    def skip_yield(self, cost: int) -> bool:
        """The running handler re-posts itself (costing ``cost``): go on at once if the loop is quiet."""
        horizon = self._horizon()
        if horizon < 0:
            return False
        now = self.env.now
        t = self._iteration_rest(now)
        # the iteration ends; its poll finds the handler ready: the next iteration runs it
        return self._skip(now, t, t, cost, horizon, False)

    def skip_wait(self, t_event: int, cost: int) -> bool:
        """The running handler parks until ``t_event``, when a completion posts it (costing ``cost``)."""
        horizon = self._horizon()
        if horizon < 0:
            return False
        now = self.env.now
        t = self._iteration_rest(now)
        if t > now and t_event <= t:
            # the completion comes during the iteration's own CPU: the poll finds it ready
            return self._skip(now, t, t, cost, horizon, False)
        # poll blocks until the completion; the loop wakes, maybe after idle_wake
        wake = self.idle_wake and t_event - t >= self.halt_poll
        if wake and t_event >= horizon:
            return False  # the completion may not find the loop idle: its wake is not drawn yet
        t_run = t_event + self._peek_wake() if wake else t_event
        if not self._skip(now, t, t_run, cost, horizon, True):
            return False
        if wake:
            self._next_wake = -1  # the wake drawn ahead was this one's
        return True

    def _skip(self, now: int, t: int, t_run: int, cost: int, horizon: int | float, idle: bool) -> bool:
        """The running handler's iteration ends at ``t``; the next one runs it at ``t_run`` plus ``cost``."""
        if t_run + cost >= horizon:
            return False
        self.iterations += 1
        if idle:
            self._idle_since = t
        self.busy_ns += t - now + cost
        self._timer_phase = False
        self.skipped += 1
        self.skipped_iterations += 1
        self.env.now = t_run + cost
        return True

    def skip_timer(self, delay: int, cost: int) -> bool:
        """The running handler sleeps on a timer ``delay`` ahead (its re-entry costing ``cost``)."""
        horizon = self._horizon()
        if horizon < 0 or self._alarm_armed != -1:
            return False
        env = self.env
        now = env.now
        ic = self.iteration_cost
        t = self._iteration_rest(now)
        deadline = now + delay
        alarm = max(deadline, now + self.rearm)  # call_later: the new earliest timer arms the alarm
        blocked = wake = False
        if not self._timer_phase and deadline <= t:
            # due at this iteration's timer check, which counts it (armed before the check)
            t_check = t
            iterations = 0
        else:
            # the iteration ends without it (not due, or armed during the timer phase); then poll
            if alarm <= t:
                alarm = max(deadline, t + self.rearm)  # _block re-arms an alarm already past
            t_run = t
            if alarm > t:
                # blocked until the alarm
                blocked = True
                t_run = alarm
                wake = bool(self.idle_wake) and alarm - t >= self.halt_poll
                if wake:
                    if alarm >= horizon:
                        return False
                    t_run += self._peek_wake()
            t_check = t_run + ic  # the next iteration: no handler ready, its CPU, the timer check
            iterations = 1
        if t_check + cost >= horizon:
            return False
        if wake:
            self._next_wake = -1
        if blocked:
            self._idle_since = t
            self._alarm_token += 1  # the alarm's entry, fired (_alarm_armed is -1 again)
        self._tseq += 1  # the timer's number
        self._alarm_at = alarm
        self.iterations += iterations
        self.busy_ns += t - now + iterations * ic + cost
        self._timer_phase = True
        self._timer_now = t_check
        self._timer_limit = self._tseq
        self.skipped += 1
        self.skipped_iterations += iterations
        env.now = t_check + cost
        return True

    def _block(self, now: int) -> bool:
        """Block in poll until the host alarm (or a post); False if it is already due."""
        timers = self._timers
        if timers:
            if self._alarm_at is None or self._alarm_at <= now:
                self._alarm_at = max(timers[0][0], now + self.rearm)
            alarm = self._alarm_at
            if alarm <= now:
                return False
            if self._alarm_armed != alarm:
                # a new alarm entry; one armed earlier is stale when it fires
                self._alarm_token += 1
                self.env.call_in(alarm - now, self._on_alarm, self._alarm_token)
                self._alarm_armed = alarm
        if self._busy:
            self._idle_since = now
        self._busy = False
        return True

    def _on_alarm(self, token: int) -> None:
        if token != self._alarm_token:
            return  # stale: the alarm was re-armed since
        self._alarm_armed = -1
        if self._busy:
            return
        self._busy = True
        if self.idle_wake and self.env.now - self._idle_since >= self.halt_poll:
            self.env.call_in(self._wake_time(), self._woken)
            return
        self._new_iteration()
        self._top = self.env.shortcuts
        self._run()
        self._top = False
