"""A coroutine reader/writer lock, as QEMU's ``CoRwlock`` of 2013.

Copy-before-write takes the read lock for its duration; the backup job takes the
write lock once its loop is done, so it completes only when no copy-before-write
is in flight (the reviewer's replacement for the patch's polling sleep).  A
reader waits only while a writer holds the lock; a writer waits while anyone
holds it.  Waiters are re-entered through the loop in the order they arrived.
"""

from __future__ import annotations

from collections import deque

from .coroutine import PARK, Body, Coroutine

__all__ = ["CoRwLock", "CoMutex"]


class CoRwLock:
    """Readers share, a writer excludes; ``wake_cost`` is what re-entering a waiter costs."""

    def __init__(self, wake_cost: int = 0):
        self.readers = 0
        self.writer = False
        self.wake_cost = wake_cost
        self._waiting: deque[Coroutine] = deque()

    def rdlock(self, co: Coroutine) -> Body[None]:
        while self.writer:
            self._waiting.append(co)
            yield PARK
        self.readers += 1

    def wrlock(self, co: Coroutine) -> Body[None]:
        while self.writer or self.readers:
            self._waiting.append(co)
            yield PARK
        self.writer = True

    def unlock(self) -> None:
        """Release the caller's hold (write if a writer holds it, else one read)."""
        if self.writer:
            self.writer = False
        else:
            assert self.readers > 0, "unlock of an unlocked CoRwLock"
            self.readers -= 1
            if self.readers:
                return
        waiting, self._waiting = self._waiting, deque()
        for co in waiting:
            co.wake(None, self.wake_cost)


class CoMutex:
    """A coroutine mutex, as QEMU's ``CoMutex``: one holder; waiters get it in the order they came."""

    def __init__(self, wake_cost: int = 0):
        self.locked = False
        self.wake_cost = wake_cost
        self._waiting: deque[Coroutine] = deque()

    def lock(self, co: Coroutine) -> Body[None]:
        if self.locked:
            self._waiting.append(co)
            yield PARK  # woken as the new holder
            return
        self.locked = True

    def unlock(self) -> None:
        """Hand the mutex to the first waiter, or free it."""
        if self._waiting:
            self._waiting.popleft().wake(None, self.wake_cost)
        else:
            self.locked = False
