"""QEMU's NBD server between the guest and the block layer (``[nbd]``).

A guest that reaches the disk over NBD (fio's ``nbd`` engine against
``qemu-storage-daemon --export type=nbd``) meets the server's per-connection
limit before QEMU's block layer sees its requests (``nbd/server.c``, QEMU 7.2
to 10.x):

* at most ``max_requests`` = 16 (``MAX_NBD_REQUESTS``) requests of one
  connection are in service; the next is not read from the socket until a
  reply has been sent (``nbd_client_receive_next_request`` creates a receiver
  only below the limit; ``nbd_request_put`` frees the slot after the reply), so
  later requests wait in the socket in the order they were sent;
* each request is a coroutine on the server's loop: reading its header (and a
  write's payload) costs ``request_cost`` of loop CPU in place of the virtio
  notification's ``loop.submit_cost``; its reply is the completion handler;
* replies leave in completion order; a guest may open several connections
  (``connections``; fio's nbd engine opens one per job), request ``i`` of job
  ``j`` using connection ``j % connections``;
* each request's data has a buffer of its own (``blk_try_blockalign``),
  freed after the reply, from the run's heap (:class:`sim.host.Allocator`):
  when its pages are fresh, a write's payload faults them in the loop (its
  ``request_cost``) and a read's data in the device's worker.

The guest's latency (the frame's ``t_submit``) runs from the moment the guest
sent the request, socket wait included, as fio's ``lat`` counts it; the block
layer (and a pacing policy watching the guest) sees a request from the moment
the server read it.  Left out: the socket's own transfer time (a few µs for a
4 KiB request over a Unix socket), structured-reply hole chunks (model a fully
written image), and the 32 MiB request cap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import Field

from .host import Allocator
from .params import Section, Time
from .request import READ

if TYPE_CHECKING:
    from .block import BlockLayer
    from .request import Request

__all__ = ["NbdConfig", "NbdExport", "MAX_NBD_REQUESTS"]

#: ``MAX_NBD_REQUESTS`` of ``include/block/nbd.h``: requests in service per connection.
MAX_NBD_REQUESTS = 16


class NbdConfig(Section):
    """``[nbd]``: the guest reaches the disk through QEMU's NBD export (off by default)."""

    enabled: bool = Field(False, strict=True)
    connections: int = Field(1, ge=1, le=1024)
    max_requests: int = Field(MAX_NBD_REQUESTS, ge=1, le=4096)
    request_cost: Time = 4_000


class _Connection:
    __slots__ = ("in_service", "socket")

    def __init__(self) -> None:
        self.in_service = 0
        self.socket: deque[tuple[Request, Callable[[Request], None], int]] = deque()


class NbdExport:
    """The NBD export: the guest's ``submit_guest`` goes here, and on to the block layer."""

    def __init__(self, blk: BlockLayer, cfg: NbdConfig, heap: Allocator | None = None):
        self.blk = blk
        self.env = blk.env
        self.cfg = cfg
        # where request buffers come from (sim/host.py); None while faults are left out (nothing to count)
        self.heap = heap if heap is not None and heap.fault_ns else None
        self.conns = [_Connection() for _ in range(cfg.connections)]
        self.socket_waits = 0  # requests that waited in a socket for a free slot

    def submit_guest(self, req: Request, on_done: Callable[[Request], None]) -> None:
        """The guest sends ``req`` now on its job's connection; ``on_done(req)`` at the reply."""
        job = getattr(req, "job", 0) or 0
        conn = self.conns[job % len(self.conns)]
        sent = self.env.now
        if conn.in_service < self.cfg.max_requests:
            self._serve(conn, req, on_done, sent)
        else:
            self.socket_waits += 1
            conn.socket.append((req, on_done, sent))

    def _serve(self, conn: _Connection, req: Request, on_done: Callable[[Request], None], sent: int) -> None:
        conn.in_service += 1
        cost = self.cfg.request_cost
        heap = self.heap
        buffer = None
        if heap is not None:
            # nbd_co_receive_request: a buffer for the request's data (blk_try_blockalign), freed after the reply;
            # a write's payload is read into it by the loop, a read's data by the device's worker
            fault_ns, buffer = heap.alloc(req.nbytes)
            if req.op == READ:
                req.cpu_ns = fault_ns
            else:
                cost += fault_ns

        def replied(r: Request) -> None:
            if buffer is not None and heap is not None:
                heap.free(buffer)
            conn.in_service -= 1
            if conn.socket:
                nxt, cb, t = conn.socket.popleft()
                self._serve(conn, nxt, cb, t)
            r.t_submit = sent  # the guest's latency counts from its send
            on_done(r)

        self.blk.submit_guest(req, replied, cost=cost)
