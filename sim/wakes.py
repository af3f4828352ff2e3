"""How long a sleeping thread takes to run again: drawn wake times, and one host state for the wakes of a moment.

A thread blocked on a halted virtual CPU runs again only when the host runs
that vCPU (:mod:`sim.loop`'s ``idle_wake``, :mod:`sim.threadpool`'s ``wake``).
Given a median and a 99th percentile, each wake's time is drawn from a
lognormal distribution with those two quantiles.

**The wakes of one moment move together.**  A request that finds the loop
asleep wakes it, and the loop then hands the request to a worker of its
thread pool that may be asleep too; both wakes happen within microseconds on
the same host, whose state (how soon it runs a halted vCPU) they share.
``backupsim calibrate`` measures the worker's wake as the difference between
two paths' quantiles (to a ``file`` node, through the pool, and to a
``null-co`` node, without it), and quantiles of two draws add up only when
the draws move together.  So :class:`HostWakes` draws one uniform per loop
wake (stream ``loop``, as before there was a pool) and lends it to the first
pool wake after it; a pool wake with no loop wake of its moment (the loop was
awake, or has lent its latest already) draws its own (stream ``thread_pool``).

To model wakes of another shape, replace :func:`lognormal`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

from .rng import Draws, Streams

__all__ = ["HostWakes", "lognormal"]

_INV = NormalDist().inv_cdf
_Z99 = _INV(0.99)


def lognormal(median: int, p99: int | None, quantile: Callable[[], float]) -> Callable[[], int] | None:
    """Wake times with ``median`` and 99th percentile ``p99``, at the quantiles ``quantile()`` gives.

    None when there is nothing to draw (no ``p99``, or not above the median): every wake takes ``median``.
    """
    if not median or p99 is None or p99 <= median:
        return None
    sigma = math.log(p99 / median) / _Z99

    def sample() -> int:
        return int(median * math.exp(sigma * _INV(min(max(quantile(), 1e-12), 1 - 1e-12))))

    return sample


class HostWakes:
    """The host's state at each loop wake: one uniform per wake, which the pool's next wake shares (once)."""

    def __init__(self, streams: Streams):
        self.streams = streams
        self._loop: Draws | None = None
        self._pool: Draws | None = None
        self._last: float | None = None

    def loop(self) -> float:
        """A new loop wake's quantile (stream ``loop``)."""
        if self._loop is None:
            self._loop = Draws(self.streams.generator("loop"))
        self._last = u = self._loop.random()
        return u

    def pool(self) -> float:
        """A pool wake's quantile: the latest loop wake's if no pool wake took it yet, else its own."""
        u = self._last
        if u is not None:
            self._last = None
            return u
        if self._pool is None:
            self._pool = Draws(self.streams.generator("thread_pool"))
        return self._pool.random()
