"""The simulation clock: a SimPy environment counting integer nanoseconds, with a fast agenda.

Every time in the model is an ``int`` of nanoseconds, and every delay handed
to SimPy is one, so ``env.now`` is always an ``int`` (results stay exact and
byte-identical).

**An environment of SimPy's kind, not a subclass.**  SimPy's events,
processes, conditions and resources ask three things of the environment they
are given (SimPy 4.1's ``events.py`` and ``resources/``):
``schedule(event, priority, delay)``, ``now`` and ``active_process``; a
process sets ``_active_proc`` while it runs.  :class:`Environment` provides
them, with ``event``, ``timeout``, ``process``, ``all_of`` and ``any_of`` as
``simpy.Environment`` has them, and ``step``/``run``/``peek`` as SimPy 4's
do.  It does not inherit from ``simpy.Environment`` (itself a plain class
with no base): a class compiled by mypyc (``docs/kernel.md``) is a native
class, with its attributes in a C struct, only if it inherits from nothing
that is not, and the clock is read millions of times a run.  SimPy's events
never see the difference; ``tests/test_clock.py`` runs SimPy's own kinds of
event on it.

**The fast agenda.**  Most of what the model schedules is "call ``fn(arg)`` in
``delay`` ns": a device's service end, the end of a loop handler's CPU hold, a
guest's next arrival.  A SimPy ``Timeout`` for each costs an event object, a
callbacks list and SimPy's generic dispatch (about 3-4 µs of wall time).
:meth:`Environment.call_in` puts a plain ``(time, priority, id, fn, arg)``
entry on the same heap as SimPy's events, numbered by the same event counter,
so it is ordered against SimPy events exactly as a ``Timeout`` created at the
same moment would be: replacing ``env.timeout(d).callbacks.append(cb)`` by
``env.call_in(d, fn, arg)`` changes no result, only the cost (about 0.5 µs).
:meth:`Environment.step` and :meth:`Environment.run` dispatch both kinds of
entry (a SimPy entry has four fields, an agenda entry five).

:meth:`Environment.advance_to` is the second saving: a component that would
schedule an entry only to be called back by it *next* (nothing else is queued
at or before that time) may instead move the clock and go on at once.  The
event loop does this for the CPU holds of its handlers (``sim/loop.py``); the
result is the same as scheduling the entry and popping it, because no other
entry could have come first.  ``docs/kernel.md`` says why.

SimPy events, processes, ``any_of`` and ``all_of`` work unchanged beside the
agenda (policies use them).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from heapq import heappop, heappush, heappushpop
from typing import Any

from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT, AllOf, AnyOf, Event, Process, Timeout

__all__ = ["Environment"]


class Environment:
    """An environment for SimPy's events whose clock, :attr:`now`, is integer ns, with a fast agenda.

    ``now`` is a plain attribute (SimPy's is a read-only property over
    ``_now``, and the model reads the clock millions of times a run).  SimPy's
    events are handed this object where they expect a ``simpy.Environment``:
    they only call what is defined here.
    """

    #: the clock, in ns: moved by the dispatch and by :meth:`advance_to`, never by a component
    now: int
    #: the process SimPy is resuming (set by ``simpy.events.Process`` itself)
    _active_proc: Any
    _agenda: list[Any]
    _reg: Any
    _eid: int
    shortcuts: bool
    direct: int
    advanced: int

    def __init__(self, initial_time: int = 0, shortcuts: bool = True):
        self.now = initial_time
        self._active_proc = None
        #: False turns off the register and :meth:`advance_to` (every entry goes
        #: through the heap, every hold is an entry): the same results, slower;
        #: tests compare the two
        self.shortcuts = shortcuts
        # the newest agenda entry, not yet on the heap: most entries are taken
        # next (a hold's end, a service end), and this saves their heap push and pop
        self._reg = None
        # one heap for both kinds of entry: SimPy's (time, priority, number, event)
        # and the agenda's (time, priority, number, fn, arg); typed as a list of
        # anything, so that code compiled from these annotations (mypyc,
        # docs/kernel.md) accepts both
        self._agenda = []
        # the next entry's number: entries made at the same time and priority run in the order made
        self._eid = 0
        self.direct = 0  # entries taken from the register, never on the heap
        self.advanced = 0  # times advance_to moved the clock (and a loop hold moved it inline)

    # -- SimPy's environment interface

    @property
    def active_process(self) -> Process | None:
        """The process SimPy is resuming, if any (as ``simpy.Environment.active_process``)."""
        return self._active_proc

    def schedule(self, event: Event, priority: int = NORMAL, delay: int = 0) -> None:
        """Schedule a SimPy ``event`` with ``priority`` after ``delay`` ns (as ``simpy.Environment.schedule``)."""
        eid = self._eid
        self._eid = eid + 1
        heappush(self._agenda, (self.now + delay, priority, eid, event))

    def event(self) -> Event:
        """A new, untriggered SimPy event."""
        return Event(self)  # type: ignore[arg-type]

    def timeout(self, delay: int = 0, value: Any = None) -> Timeout:
        """A SimPy event that succeeds ``delay`` ns from now."""
        return Timeout(self, delay, value)  # type: ignore[arg-type]

    def process(self, generator: Generator[Event, Any, Any]) -> Process:
        """A SimPy process running ``generator``."""
        return Process(self, generator)  # type: ignore[arg-type]

    def all_of(self, events: Iterable[Event]) -> AllOf:
        """A SimPy condition that succeeds when all of ``events`` have."""
        return AllOf(self, events)  # type: ignore[arg-type]

    def any_of(self, events: Iterable[Event]) -> AnyOf:
        """A SimPy condition that succeeds when any of ``events`` has."""
        return AnyOf(self, events)  # type: ignore[arg-type]

    # -- the agenda

    def call_in(self, delay: int, fn: Callable[[Any], Any], arg: Any = None) -> None:
        """Call ``fn(arg)`` ``delay`` ns from now, ordered as a ``Timeout`` made now would be."""
        eid = self._eid
        self._eid = eid + 1
        entry = (self.now + delay, NORMAL, eid, fn, arg)
        if not self.shortcuts:
            heappush(self._agenda, entry)
            return
        reg = self._reg
        if reg is not None:
            heappush(self._agenda, reg)
        self._reg = entry

    def call_first(self, delay: int, fn: Callable[[Any], Any], arg: Any = None) -> None:
        """Call ``fn(arg)`` ``delay`` ns from now, before anything else made for that time after this call.

        The entry is urgent (as a triggered SimPy event is) and numbered now:
        ordinary entries and timeouts for that time come after it, whenever they
        were made, and so does every urgent event made later; :meth:`advance_to`
        never moves the clock onto it.  A baseline run uses it to see the guest
        at the very start of an instant (``sim.model``).
        """
        eid = self._eid
        self._eid = eid + 1
        heappush(self._agenda, (self.now + delay, URGENT, eid, fn, arg))

    def peek(self) -> int | float:
        """The time of the next entry (``inf`` if none)."""
        reg, q = self._reg, self._agenda
        if reg is not None:
            return reg[0] if not q or reg < q[0] else q[0][0]
        return q[0][0] if q else float("inf")

    def _next(self) -> tuple:
        # the smallest of the heap and the register (entries compare by time,
        # priority and number, which is unique, so never by their callables)
        reg = self._reg
        if reg is not None:
            self._reg = None
            return heappushpop(self._agenda, reg)
        try:
            return heappop(self._agenda)
        except IndexError:
            raise EmptySchedule from None

    def advance_to(self, t: int) -> bool:
        """Move the clock to ``t`` if nothing is queued at or before ``t``; True if it moved.

        A caller that would otherwise :meth:`call_in` itself for ``t`` and do
        nothing else until then may go on at once when this returns True.
        """
        q = self._agenda
        if not self.shortcuts or (q and q[0][0] <= t):
            return False
        reg = self._reg
        if reg is not None and reg[0] <= t:
            return False
        self.now = t
        self.advanced += 1
        return True

    @property
    def scheduled(self) -> int:
        """How many entries (SimPy events and agenda calls) have been scheduled so far."""
        return self._eid

    def step(self) -> None:
        """Process the next entry: an agenda call, or a SimPy event with its callbacks."""
        entry = self._next()
        self.now = entry[0]
        if len(entry) == 5:
            entry[3](entry[4])
            return
        self._process(entry[3])

    def _process(self, event: Event) -> None:
        # what simpy.Environment.step does with an event it popped (SimPy 4)
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            self.schedule(event, URGENT - 1)
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc

    def run(self, until: Any = None) -> Any:
        """SimPy's ``run`` (until nothing is left, an event, or a time in ns), with the dispatch loop inlined."""
        if until is not None:
            if not isinstance(until, Event):
                if not isinstance(until, int):
                    raise TypeError(f"until ({until!r}) must be a SimPy event or an int of ns")
                at = until
                if at <= self.now:
                    raise ValueError(f"until ({at}) must be greater than the current simulation time")
                until = Event(self)  # type: ignore[arg-type]
                until._ok = True
                until._value = None
                self.schedule(until, URGENT, at - self.now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        queue = self._agenda
        process = self._process
        try:
            while True:
                reg = self._reg
                if reg is not None:
                    self._reg = None
                    entry = heappushpop(queue, reg)
                    if entry is reg:
                        self.direct += 1
                else:
                    try:
                        entry = heappop(queue)
                    except IndexError:
                        raise EmptySchedule from None
                self.now = entry[0]
                if len(entry) == 5:
                    entry[3](entry[4])
                else:
                    process(entry[3])
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                assert not until.triggered
                raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {until}') from None
        return None
