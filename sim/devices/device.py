"""A block device with parallel slots and blk-iocost's linear service-time model.

A request waits in a FIFO queue for one of ``queue_depth`` slots.  In its slot
it spends a *base cost* (per operation, sequential or random; "sequential"
means it starts within ``seq_window`` of where the previous request ended, as
blk-iocost decides) shaped by ``dist`` (fixed, exponential, or gamma with
coefficient of variation ``cv``), plus with probability ``stall_prob`` a long
``stall_time`` (an SSD's garbage collection).  Then it moves its bytes over the
device's shared transfer path at ``read_bw`` / ``write_bw``.  The transfer path
is reserved when the request starts service, in the first gap of the path's
calendar at or after the end of its base cost, so a short request can slip in
before a long one reserved earlier.  With ``queue_depth > 1`` requests can
therefore complete out of order, which is what makes the block layer's request
serialization necessary.

The device keeps the time integral of the number of requests it holds, for
Little's law checks (``mean_in_system``).

A discard or a write-zeroes (:data:`sim.request.DISCARD`,
:data:`sim.request.WRITE_ZEROES`) carries no data: NVMe's Write Zeroes and
Dataset Management (Deallocate) commands and ATA's DATA SET MANAGEMENT (TRIM)
name a range of blocks and transfer none (SCSI's WRITE SAME sends one block
for the whole range).  So it costs a write's base cost (sequential or random
as a write there would be) and no transfer time; what the device does
internally (unmapping, or writing the zeroes to the medium) is left out.

The device knows nothing of the guest or the backup: callers pass a
completion callback.  To model another device (an HDD seek curve, a network
hop), subclass and override :meth:`service`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import ClassVar

from mypy_extensions import mypyc_attr

from ..clock import Environment
from ..params import DEVICES
from ..request import GUEST, Request
from ..rng import RequestDraws
from .config import DeviceConfig

__all__ = ["Device"]


@mypyc_attr(allow_interpreted_subclasses=True)
class Device:
    """A source disk or a target: ``submit(req, done)`` calls ``done(req)`` on completion.

    Compiled (a regular install, ``docs/kernel.md``) this is a native
    class that interpreted device models, built-in or plug-in, may still subclass.
    """

    Config: ClassVar[type[DeviceConfig]] = DeviceConfig

    def __init__(
        self,
        env: Environment,
        cfg: DeviceConfig,
        draws: dict[int, RequestDraws] | None = None,
        name: str = "disk",
        trace: list | None = None,
    ):
        self.env = env
        self.cfg = cfg
        self.name = name
        self.trace = trace
        self.draws = draws or {}
        self.free = cfg.queue_depth
        self.queue: deque = deque()
        self.last_end = -(1 << 62)
        self.window = cfg.seq_window
        # indexed by 2 * op + sequential (READ = 0, WRITE = 1, DISCARD = 2, WRITE_ZEROES = 3):
        # a discard or a write-zeroes has a write's base cost
        wr = (cfg.write_rand_base, cfg.write_seq_base)
        self._base = (cfg.read_rand_base, cfg.read_seq_base, *wr, *wr, *wr)
        self._bw = (cfg.read_bw, cfg.write_bw, 0, 0)  # per op; 0: no data to transfer
        self._shape = 1.0 / (cfg.cv * cfg.cv) if cfg.dist == "gamma" else 0.0
        self._random = cfg.dist != "fixed" or cfg.stall_prob > 0
        # what service() reads per request, out of the configuration (an interpreted pydantic model)
        self._dist = cfg.dist
        self._stall_prob = cfg.stall_prob
        self._stall_time = cfg.stall_time
        # service() is this class's and draws nothing: _start reads the base cost directly
        self._fixed = not self._random and type(self).service is Device.service
        self._single = cfg.queue_depth == 1
        # start_alone may serve a request whose completion the caller delivers itself: only
        # this class's queueing (a subclass may override service, not submit or completion)
        cls = type(self)
        own = cls.submit is Device.submit and cls._start is Device._start and cls._finish is Device._finish
        self._alone = trace is None and own
        # the service end's callback, bound once (a bound method made per request is an
        # allocation; compiled, also an attribute lookup): a subclass's _finish if it has one
        self._finish_call = self._finish
        self.memory = cfg.memory
        self._calendar: list[list[int]] = []  # reserved [start, end) on the transfer path
        self._backup_seq = -1  # backup requests numbered as they start
        # statistics
        self.completed = 0
        self.in_system = 0
        self._area = 0
        self._t_last = 0

    @classmethod
    def build(
        cls,
        env: Environment,
        cfg: DeviceConfig,
        draws: dict[int, RequestDraws] | None,
        name: str,
        trace: list | None,
        make=None,
    ):
        """The device for ``cfg`` (``make`` builds a further device from a profile, for composite models)."""
        return cls(env, cfg, draws, name, trace)

    # -- interface ------------------------------------------------------------

    def submit(self, req: Request, done: Callable[[Request], None]) -> None:
        """Queue ``req``; ``done(req)`` runs when the device completes it."""
        now = self.env.now
        self._area += self.in_system * (now - self._t_last)  # _account, written out (a hot path)
        self._t_last = now
        self.in_system += 1
        if self.free > 0:
            self.free -= 1
            self._start(req, done, now)
        else:
            self.queue.append((req, done))

    def drain_begin(self) -> None:
        """A drained section begins (``bdrv_drained_begin``): nothing to do (a throttle node releases its queues)."""

    def drain_end(self) -> None:
        """The drained section ends (``bdrv_drained_end``)."""

    @property
    def mean_in_system(self) -> float:
        """Time-average number of requests queued or in service so far."""
        self._account(self.env.now)
        return self._area / self.env.now if self.env.now else 0.0

    # -- model ------------------------------------------------------------------

    def draw_key(self, req: Request) -> int:
        """The number that keys ``req``'s random draws on this device.

        A guest request's own index, so that it gets the same service noise
        with and without a backup (common random numbers, :class:`sim.rng.RequestDraws`);
        the backup's requests are numbered in the order they reach this device.
        """
        if req.origin == GUEST:
            return req.index
        self._backup_seq += 1
        return self._backup_seq

    def service(self, req: Request, sequential: bool) -> int:
        """The base cost of ``req`` in its slot, in ns (override to change the model)."""
        base = self._base[2 * req.op + sequential]
        if self._random:
            draws = self.draws[req.origin]
            key = req.key = self.draw_key(req)
            dist = self._dist
            if dist == "exponential":
                base = int(base * draws.exponential(key))
            elif dist == "gamma":
                base = int(base * draws.gamma_unit(self._shape, key))
            if self._stall_prob > 0 and draws.uniform("stall", key) < self._stall_prob:
                base += self._stall_time
        return base

    def _start(self, req: Request, done: Callable[[Request], None], now: int) -> None:
        end = self._end(req, now)
        if self.trace is not None:
            self.trace.append((now, self.name, "start", req))
        self.env.call_in(end - now, self._finish_call, (req, done))

    def _end(self, req: Request, now: int) -> int:
        """Start serving ``req`` at ``now`` (its draws, the head, the transfer path): when it ends."""
        sequential = abs(req.offset - self.last_end) <= self.window
        self.last_end = req.offset + req.nbytes
        if self._fixed:
            t_ready = now + self._base[2 * req.op + sequential]  # service() of a fixed, stall-free device
        else:
            t_ready = now + self.service(req, sequential)
        bw = self._bw[req.op]
        xfer = req.nbytes * 1_000_000_000 // bw if bw else 0
        if req.cpu_ns:
            # the caller's own CPU work in the call (sim/host.py): on a memory device part of the
            # copy, which holds the transfer path; elsewhere it comes before the device moves data
            if self.memory:
                xfer += req.cpu_ns
            else:
                t_ready += req.cpu_ns
        if not xfer:
            end = t_ready
        elif self._single:
            end = t_ready + xfer  # one request at a time: the path is always free
        else:
            end = self._reserve(now, t_ready, xfer)
        return end

    def _reserve(self, now: int, t_ready: int, xfer: int) -> int:
        cal = self._calendar
        while cal and cal[0][1] <= now:
            cal.pop(0)
        start = t_ready
        i = 0
        for s, e in cal:
            if start + xfer <= s:
                break  # fits in the gap before this reservation
            if e > start:
                start = e
            i += 1
        cal.insert(i, [start, start + xfer])
        return start + xfer

    def _finish(self, req_done: tuple[Request, Callable[[Request], None]]) -> None:
        req, done = req_done
        now = self.env.now
        self._area += self.in_system * (now - self._t_last)  # _account, written out
        self._t_last = now
        self.in_system -= 1
        self.completed += 1
        if self.trace is not None:
            self.trace.append((now, self.name, "done", req))
        if self.queue:
            nreq, ndone = self.queue.popleft()
            self._start(nreq, ndone, now)
        else:
            self.free += 1
        done(req)

    # -- a completion the caller delivers (the loop's fast-forward, sim/loop.py) ---------

    def start_alone(self, req: Request) -> int | None:
        """Submit ``req`` now and return when it will end, or None to use :meth:`submit`.

        What :meth:`submit` does when a slot is free, but the completion is not
        scheduled: the caller then either calls :meth:`finish_alone` (nothing
        else happened on the device in between, so the completion's effect on
        it is known) or :meth:`finish_later` at once, which schedules it as
        :meth:`submit` would have.  None when no slot is free, or for a subclass
        that queues or completes requests its own way.
        """
        if not self._alone or not self.free:
            return None
        now = self.env.now
        self._account(now)
        self.in_system += 1
        self.free -= 1
        return self._end(req, now)

    def finish_later(self, req: Request, done: Callable[[Request], None], end: int) -> None:
        """Schedule the completion of a request :meth:`start_alone` started now, as :meth:`submit` does."""
        self.env.call_in(end - self.env.now, self._finish_call, (req, done))

    def finish_alone(self, end: int) -> None:
        """The completion at ``end`` of a request :meth:`start_alone` started, with nothing queued since."""
        self._account(end)
        self.in_system -= 1
        self.completed += 1
        self.free += 1

    def _account(self, now: int) -> None:
        self._area += self.in_system * (now - self._t_last)
        self._t_last = now


# registered after the class, not by a decorator, so that compiled (docs/kernel.md) it stays a native class
DEVICES.register("linear")(Device)
