"""An SSD whose flash is reached through parallel channels.

An NVMe SSD serves requests in parallel because its flash dies sit on several
independent channels (MQSim's ``ssdconfig.xml``: 8 channels of 4 chips,
Tavakkol et al., FAST 2018).  Here a request goes to channel
``(offset // channel_stripe) % channels`` and a channel serves one request at a
time, so requests that land on a busy channel wait even when other channels
are idle (the device still admits at most ``queue_depth`` requests in
service).  Requests waiting for their channel keep their arrival order per
channel; a free slot goes to the oldest waiting request whose channel is idle.
"""

from __future__ import annotations

from collections.abc import Callable

from ..clock import Environment
from ..params import DEVICES
from ..request import Request
from ..rng import RequestDraws
from .config import ChannelsConfig
from .device import Device

__all__ = ["ChannelSSD"]


class ChannelSSD(Device):
    """:class:`Device` with per-channel serialization."""

    Config = ChannelsConfig

    def __init__(
        self,
        env: Environment,
        cfg: ChannelsConfig,
        draws: dict[int, RequestDraws] | None = None,
        name: str = "disk",
        trace: list | None = None,
    ):
        # the base's arguments written out: compiled (docs/kernel.md), ``super().__init__(*args, **kwargs)``
        # handed the native base class the tuple of arguments as its first one
        super().__init__(env, cfg, draws, name, trace)
        self.nchan: int = cfg.channels
        self.stripe: int = cfg.channel_stripe
        self.chan_busy = [False] * self.nchan

    def _channel(self, req: Request) -> int:
        return (req.offset // self.stripe) % self.nchan

    def submit(self, req: Request, done: Callable[[Request], None]) -> None:
        now = self.env.now
        self._account(now)
        self.in_system += 1
        ch = self._channel(req)
        if self.free > 0 and not self.chan_busy[ch]:
            self.free -= 1
            self.chan_busy[ch] = True
            self._start(req, done, now)
        else:
            self.queue.append((req, done))

    def _finish(self, req_done) -> None:
        req, done = req_done
        now = self.env.now
        self._account(now)
        self.in_system -= 1
        self.completed += 1
        self.chan_busy[self._channel(req)] = False
        self.free += 1
        if self.trace is not None:
            self.trace.append((now, self.name, "done", req))
        if self.queue:
            for i, (nreq, ndone) in enumerate(self.queue):
                if self.free == 0:
                    break
                ch = self._channel(nreq)
                if not self.chan_busy[ch]:
                    del self.queue[i]
                    self.free -= 1
                    self.chan_busy[ch] = True
                    self._start(nreq, ndone, now)
                    break
        done(req)


# registered after the class, not by a decorator, so that compiled (docs/kernel.md) it stays a native class
DEVICES.register("channels")(ChannelSSD)
