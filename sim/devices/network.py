"""A backup target across a network: a link, a round trip, and a device behind it.

Backups often go to a remote store (Proxmox Backup Server over 1 or 10 GbE,
Proxmox forum post 829398 in ``qemu-backup.md`` section 2).  A request to a
:class:`NetworkTarget` is admitted when fewer than ``queue_depth`` requests are
outstanding (the transport's window), crosses the link (a FIFO pipe at
``link_bw``; a write carries its data, a read, a discard or a write-zeroes
only its header), reaches the far end half a round trip (``rtt / 2``) later,
is served by the remote device (a :class:`Device` of profile ``remote``, with
its own queue), and its reply comes back after another half round trip (a
read's data also crosses the link on the way back).  Per-request overheads of the protocol are left out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ..clock import Environment
from ..params import DEVICES
from ..request import READ, WRITE, Request
from .config import NetworkConfig
from .device import Device

__all__ = ["NetworkTarget"]


@DEVICES.register("network")
class NetworkTarget:
    """Same interface as :class:`Device`: ``submit(req, done)``."""

    Config = NetworkConfig

    @classmethod
    def build(cls, env, cfg: NetworkConfig, draws, name: str, trace: list | None, make=None):
        """A target whose far end is a device of profile ``remote``, built by ``make(profile, name)``."""
        return cls(env, cfg, make(cfg.remote, f"{name}.remote"), name, trace)

    def __init__(self, env: Environment, cfg, remote: Device, name: str = "target", trace: list | None = None):
        self.env = env
        self.cfg = cfg
        self.remote = remote
        self.name = name
        self.trace = trace
        self.free = cfg.queue_depth
        self.queue: deque = deque()
        self.half_rtt = cfg.rtt // 2
        self.link_free_out = 0
        self.link_free_back = 0
        self.completed = 0
        self.in_system = 0

    def submit(self, req: Request, done: Callable[[Request], None]) -> None:
        self.in_system += 1
        if self.free > 0:
            self.free -= 1
            self._send(req, done)
        else:
            self.queue.append((req, done))

    def _link(self, nbytes: int, back: bool) -> int:
        now = self.env.now
        start = max(now, self.link_free_back if back else self.link_free_out)
        end = start + nbytes * 1_000_000_000 // self.cfg.link_bw
        if back:
            self.link_free_back = end
        else:
            self.link_free_out = end
        return end

    def _send(self, req: Request, done) -> None:
        if self.trace is not None:
            self.trace.append((self.env.now, self.name, "send", req))
        sent = self._link(req.nbytes if req.op == WRITE else 0, back=False)
        self.env.call_in(sent + self.half_rtt - self.env.now, self._arrive, (req, done))

    def _arrive(self, req_done) -> None:
        req, done = req_done
        self.remote.submit(req, lambda r: self._served(r, done))

    def _served(self, req: Request, done) -> None:
        back = self._link(req.nbytes if req.op == READ else 0, back=True)  # only a read's data returns
        self.env.call_in(back + self.half_rtt - self.env.now, self._reply, (req, done))

    def _reply(self, req_done) -> None:
        req, done = req_done
        self.in_system -= 1
        self.completed += 1
        if self.trace is not None:
            self.trace.append((self.env.now, self.name, "done", req))
        if self.queue:
            nreq, ndone = self.queue.popleft()
            self._send(nreq, ndone)
        else:
            self.free += 1
        done(req)
