"""Detecting a quiet guest: the idle detector that several policies share.

Golding et al. ("Idleness is not sloth", USENIX 1995) split idle-time
scheduling into a detector, a predictor and an actuator.  This module is the
detector: the guest is *quiet* when none of its requests is in flight and its
last request completed (or was submitted) at least ``window`` ago.
:func:`quiet_event` returns a SimPy event that fires when that first holds; it
waits on the guest's idle and timer events and never polls.  A policy asks for
it before many clusters, so :class:`QuietDetector` hands out one pending event
per window until it fires instead of building a new chain each time.
"""

from __future__ import annotations

import simpy

from ..activity import GuestActivity
from ..clock import Environment

__all__ = ["is_quiet", "quiet_event", "quiet_for", "QuietDetector"]


def quiet_for(guest: GuestActivity, now: int) -> int:
    """How long the guest has been quiet (-1 while a request is in flight)."""
    if guest.in_flight:
        return -1
    last = max(guest.last_complete, guest.last_submit)
    return now - last if last >= 0 else now


def is_quiet(guest: GuestActivity, now: int, window: int) -> bool:
    return quiet_for(guest, now) >= window


def quiet_event(env: Environment, guest: GuestActivity, window: int) -> simpy.Event:
    """An event that fires once the guest has been quiet for ``window`` ns."""
    done = env.event()

    def check(_ev=None) -> None:
        if done.triggered:
            return
        q = quiet_for(guest, env.now)
        if q < 0:
            guest.idle_event().callbacks.append(check)
        elif q >= window:
            done.succeed()
        else:
            env.timeout(window - q).callbacks.append(check)

    check()
    return done


class QuietDetector:
    """:func:`quiet_event` for one guest and window, shared until it fires."""

    def __init__(self, env: Environment, guest: GuestActivity, window: int):
        self.env, self.guest, self.window = env, guest, window
        self._pending: simpy.Event | None = None

    def quiet(self) -> bool:
        return is_quiet(self.guest, self.env.now, self.window)

    def event(self) -> simpy.Event:
        if self._pending is None or self._pending.triggered:
            self._pending = quiet_event(self.env, self.guest, self.window)
        return self._pending
