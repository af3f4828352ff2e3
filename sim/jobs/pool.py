"""Parallel background copies: the one place a job runs copies beside each other.

The 2013 patch copies one cluster at a time; a pacing policy with
:meth:`~sim.policies.Policy.depth` above 1 lets the job run more, and QEMU's
block-copy runs its tasks in an ``AioTaskPool`` of ``max-workers``
(``util/aio-task.c``: ``aio_task_pool_wait_slot`` parks the caller until fewer
than the pool's maximum tasks are busy; a task's end wakes it).  Every mode
uses this :class:`CopyPool` for that, so a policy's depth means the same thing
on every mode.

A waiter parks (``PARK``) and is re-entered through the loop at the cost of a
coroutine step when a task ends; the limit is asked again each time, so a
policy that changes its depth takes effect at the next slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..coroutine import PARK, Body, Coroutine

if TYPE_CHECKING:
    from ..loop import EventLoop

__all__ = ["CopyPool"]


class CopyPool:
    """At most ``limit()`` copy coroutines in flight; callers wait for a slot or for all to end."""

    def __init__(self, loop: EventLoop, step_cost: int, zero_sleep_yields: bool = True):
        self.loop = loop
        self.step_cost = step_cost
        self.zero_sleep_yields = zero_sleep_yields
        self.in_flight = 0
        self._waiter: Coroutine | None = None

    def wait_slot(self, co: Coroutine, limit: Callable[[], int], stop: Callable[[], bool]) -> Body[None]:
        """Park ``co`` while ``in_flight >= limit()`` (and ``stop()`` is false)."""
        while self.in_flight and self.in_flight >= max(1, limit()) and not stop():
            self._waiter = co
            yield PARK

    def wait_all(self, co: Coroutine) -> Body[None]:
        """Park ``co`` until every copy in flight has ended."""
        while self.in_flight:
            self._waiter = co
            yield PARK

    def spawn(self, body: Callable[[Coroutine], Body[Any]]) -> Coroutine:
        """Run ``body(worker)`` as a new coroutine now; it holds a slot until it returns."""
        self.in_flight += 1
        worker = Coroutine(self.loop, None, self.step_cost, zero_sleep_yields=self.zero_sleep_yields)
        worker.gen = self._run(body(worker))
        worker.start()
        return worker

    def _run(self, body: Body[Any]) -> Body[None]:
        yield from body
        self.in_flight -= 1
        if self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.wake(None)
