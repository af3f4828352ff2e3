"""What pacing policies may observe of the guest: its requests in flight and recent activity.

The block layer updates a :class:`GuestActivity` as guest requests are
submitted and complete; policies read it (how many requests are in flight,
when the guest was last active, the latencies it saw when a policy asks for
them) and wait on :meth:`GuestActivity.idle_event` for "the guest has nothing
in flight".  It imports nothing of the model, so policies depend on it and
not on the block layer.
"""

from __future__ import annotations

import simpy

from .clock import Environment

__all__ = ["GuestActivity"]


class GuestActivity:
    """The guest's in-flight count and recent activity, for pacing policies."""

    def __init__(self, env: Environment):
        self.env = env
        self.in_flight = 0
        self.last_submit = -1
        self.last_complete = -1
        self._idle: simpy.Event | None = None
        self.latency_log: list[int] | None = None  # completion latencies, when a policy asks for them

    def submitted(self) -> None:
        self.in_flight += 1
        self.last_submit = self.env.now

    def completed(self, latency: int) -> None:
        self.in_flight -= 1
        self.last_complete = self.env.now
        if self.latency_log is not None:
            self.latency_log.append(latency)
        if self.in_flight == 0 and self._idle is not None:
            ev, self._idle = self._idle, None
            ev.succeed()

    def idle_event(self) -> simpy.Event:
        """An event that fires when the guest next has nothing in flight."""
        if self._idle is None:
            self._idle = self.env.event()
            if self.in_flight == 0:
                ev, self._idle = self._idle, None
                ev.succeed()
                return ev
        return self._idle
