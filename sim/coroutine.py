"""Coroutines on the event loop, as QEMU runs block-layer code.

A coroutine is a Python generator run by :class:`sim.loop.EventLoop`.  Each
time it is entered it runs until it yields one of these commands:

* ``PARK``: it registered itself somewhere (a device request, a lock, a wait
  queue) and will be re-entered by :meth:`Coroutine.wake`.
* ``(CPU, ns)``: it computes for ``ns`` more without yielding and holds the
  loop meanwhile (nothing else runs).
* ``(SLEEP, ns)``: a timer (``block_job_sleep_ns``); 0 ns is a plain yield when
  the loop's ``zero_sleep`` is ``"yield"``.
* ``YIELD``: back to the end of the ready list (``qemu_coroutine_yield`` plus a
  re-entering bottom half): the next iteration runs it again.

Every re-entry is a ready handler (or timer) costing ``step_cost`` unless the
waker gives another cost (an I/O completion costs the loop's completion cost).
A coroutine that is sleeping or parked on an interruptible wait can be woken
early with :meth:`interrupt` (job cancellation); the stale timer is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Final, TypeVar

from .loop import EventLoop

__all__ = ["Coroutine", "Body", "PARK", "CPU", "SLEEP", "YIELD", "cpu", "sleep"]

PARK = None
CPU: Final = 1  # Final: inlined when compiled (docs/kernel.md)
SLEEP: Final = 2
YIELD = (3, 0)

R = TypeVar("R")
#: A coroutine's body, or a part of one it runs with ``yield from``: a generator
#: that yields the commands above, is sent the waker's value, and returns an ``R``.
Body = Generator[Any, Any, R]


def cpu(ns: int) -> tuple[int, int]:
    """Command: compute ``ns`` while holding the loop."""
    return (CPU, ns)


def sleep(ns: int) -> tuple[int, int]:
    """Command: sleep ``ns`` on a timer (0: yield or timer, per ``loop.zero_sleep``)."""
    return (SLEEP, ns)


class Coroutine:
    """A generator driven by the loop; ``guest`` marks handlers whose loop wait is recorded.

    ``gen`` may be ``None`` and set before :meth:`start`, for a body that needs its
    own coroutine (``co.gen = body(co)``).
    """

    gen: Body[Any]

    __slots__ = (
        "loop",
        "gen",
        "step_cost",
        "guest",
        "on_done",
        "done",
        "result",
        "_token",
        "_interruptible",
        "zero_sleep_yields",
    )

    def __init__(
        self,
        loop: EventLoop,
        gen: Body[Any] | None,
        step_cost: int,
        guest: bool = False,
        on_done: Callable[[Any], None] | None = None,
        zero_sleep_yields: bool = True,
    ):
        self.loop = loop
        if gen is not None:
            self.gen = gen
        self.step_cost = step_cost
        self.guest = guest
        self.on_done = on_done
        self.done = False
        self.result: Any = None
        self._token = 0
        self._interruptible = False
        self.zero_sleep_yields = zero_sleep_yields

    def start(self, cost: int | None = None) -> Coroutine:
        """Make the first entry a ready handler."""
        self.loop.post(self._enter, None, self.step_cost if cost is None else cost, self.guest)
        return self

    def wake(self, value: Any = None, cost: int | None = None) -> None:
        """Re-enter a parked coroutine in the next iteration, sending it ``value``."""
        self.loop.post(self._enter, value, self.step_cost if cost is None else cost, self.guest)

    def arm(self) -> int:
        """Mark the coming park as one that :meth:`interrupt` may end; returns its token.

        A waker that holds the token (``interrupt(token)``) wakes only this park,
        never a later sleep of the same coroutine.
        """
        self._interruptible = True
        self._token += 1
        return self._token

    def interrupt(self, token: int | None = None) -> bool:
        """Wake the coroutine now if it sleeps or is parked interruptibly (by ``token``, if given)."""
        if not self._interruptible or self.done or (token is not None and token != self._token):
            return False
        self._interruptible = False
        self._token += 1
        self.wake(None)
        return True

    def _timer(self, token: int) -> Any:
        if token != self._token:
            return None  # woken early by interrupt(); this timer is stale
        self._interruptible = False
        return self._enter(None)

    def _enter(self, value: Any) -> Any:
        self._interruptible = False
        loop = self.loop
        while True:
            try:
                cmd = self.gen.send(value)
            except StopIteration as stop:
                self.done = True
                self.result = stop.value
                if self.on_done is not None:
                    self.on_done(stop.value)
                return None
            if cmd is None:
                return None
            kind, ns = cmd
            if kind == CPU:
                return (ns, self._enter, None)
            # a sleep or a yield: when the loop is quiet until the re-entry, it skips to it and
            # the generator goes on in this step (sim/loop.py, the fast-forward; not for a guest's
            # coroutine, whose re-entries' loop waits are recorded)
            if kind == SLEEP and not (ns == 0 and self.zero_sleep_yields):
                if not self.guest and loop.skip_timer(ns, self.step_cost):
                    self._token += 1  # the sleep's token, as its timer would have taken it
                    value = None
                    continue
                self._interruptible = True
                self._token += 1
                loop.call_later(ns, self._timer, self._token, self.step_cost)
                return None
            if not self.guest and loop.skip_yield(self.step_cost):
                value = None
                continue
            loop.post(self._enter, None, self.step_cost, self.guest)
            return None
