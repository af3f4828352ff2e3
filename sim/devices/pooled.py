"""A device reached through QEMU's thread pool (``aio = "threads"``; the pool's model is :mod:`sim.threadpool`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..request import Request
from ..threadpool import ThreadPool
from .layer import DeviceLayer

__all__ = ["PooledDevice"]


class PooledDevice(DeviceLayer):
    """A device whose requests go through the loop's :class:`ThreadPool`: ``submit(req, done)`` like the device.

    Every attribute it does not define (``completed``, ``mean_in_system``, ...) is the wrapped device's.
    """

    def __init__(self, inner: Any, pool: ThreadPool):
        self.inner = inner
        self.pool = pool

    def submit(self, req: Request, done: Callable[[Request], None]) -> None:
        """Hand ``req`` to a worker, which submits it to the device; ``done(req)`` when it returns."""
        self.pool.env.call_in(self.pool.delay(), self._start, (req, done))

    def _start(self, req_done: tuple[Request, Callable[[Request], None]]) -> None:
        req, done = req_done
        self.inner.submit(req, lambda r: self._returned(r, done))

    def _returned(self, req: Request, done: Callable[[Request], None]) -> None:
        self.pool.done()
        done(req)
