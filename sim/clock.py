"""The simulation clock: SimPy's environment, counting integer nanoseconds.

Every time in the model is an ``int`` of nanoseconds, and every delay handed
to SimPy is one, so ``env.now`` is always an ``int`` (results stay exact and
byte-identical).  SimPy types ``now`` as ``int | float``; :class:`Environment`
is SimPy's environment, unchanged at run time, that tells the type checker
the clock is an ``int``.  Components take an :class:`Environment`; a plain
``simpy.Environment`` works too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

__all__ = ["Environment"]


class Environment(simpy.Environment):
    """:class:`simpy.Environment` whose clock, :attr:`now`, is integer nanoseconds."""

    if TYPE_CHECKING:

        @property
        def now(self) -> int: ...
