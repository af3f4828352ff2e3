"""QEMU's I/O throttling as a layer in front of a device (``disk.throttle.*``).

A device whose configuration has a ``throttle`` table is wrapped in a
:class:`ThrottledDevice`: every request first passes its throttle group's
admission, then goes to the device.  It models QEMU's ``throttle`` block
filter (``block/throttle.c``) with a ``throttle-group`` object
(``block/throttle-groups.c``) and the leaky buckets of ``util/throttle.c``,
as read in QEMU 7.2 and 10.0 (no algorithm changed between them;
``/work/shared/research/qemu-throttle-nbd-fio.md`` sections 1 and 4):

* :class:`LeakyBucket` / :class:`ThrottleState`: six buckets (bytes and
  operations; total, read, write).  A request passes when each bucket it
  checks is at or below its size; it is charged after passing; the levels
  leak at ``avg`` only when a wait is computed.
* :class:`ThrottleGroup` / :class:`ThrottleGroupMember`: one state shared by
  the members of a group; per member one FIFO queue per direction; per
  direction one member holding the token and one flag telling that a timer
  is armed somewhere in the group (then every new request of that direction
  queues); round robin between members, one request per turn.
* :class:`ThrottledDevice`: the filter node.  A read is charged as a read; a
  write, a discard and a write-zeroes as a write of their full length.
  ``drain_begin`` releases every queued request at once (still charged) and
  lets new ones through unthrottled until ``drain_end``.

The backup's reads and the guest's go through the same wrapped device, so they
share the member's READ queue in arrival order (setup A of the notes: the
throttle node is the backup's ``device``).

Times are integer ns; bucket levels are floats (QEMU's doubles, the same IEEE
operations in the same order) and a wait is truncated to whole ns as QEMU's
``(int64_t)`` conversion does.  Extending: another limit is another bucket in
:data:`_CHECK` / :data:`_CHARGE` and a field of :class:`ThrottleConfig`;
another admission rule replaces :meth:`ThrottleGroup.intercept`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from ..clock import Environment
from ..params import ConfigError, Invalid, Section, Size, units
from ..request import READ, Request
from .layer import DeviceLayer

__all__ = [
    "ThrottleConfig",
    "LeakyBucket",
    "ThrottleState",
    "ThrottleGroup",
    "ThrottleGroupMember",
    "ThrottledDevice",
    "throttled",
    "THROTTLE_READ",
    "THROTTLE_WRITE",
    "NANOSECONDS_PER_SECOND",
]

#: ``ThrottleDirection`` (``include/qemu/throttle.h``).
THROTTLE_READ = 0
THROTTLE_WRITE = 1
NANOSECONDS_PER_SECOND = 1_000_000_000
#: ``THROTTLE_VALUE_MAX`` (``include/qemu/throttle.h``): the largest limit ``throttle_is_valid`` accepts.
THROTTLE_VALUE_MAX = 1_000_000_000_000_000

# BucketType (include/qemu/throttle.h), in QEMU's order
BPS_TOTAL, BPS_READ, BPS_WRITE, OPS_TOTAL, OPS_READ, OPS_WRITE = range(6)
_NAMES = ("bps_total", "bps_read", "bps_write", "iops_total", "iops_read", "iops_write")
# throttle_compute_wait_for: the buckets a direction checks, in QEMU's order
_CHECK = (
    (BPS_TOTAL, OPS_TOTAL, BPS_READ, OPS_READ),
    (BPS_TOTAL, OPS_TOTAL, BPS_WRITE, OPS_WRITE),
)
# throttle_account: the (bytes, units) buckets a direction charges, in QEMU's order
_CHARGE = (
    ((BPS_TOTAL, OPS_TOTAL), (BPS_READ, OPS_READ)),
    ((BPS_TOTAL, OPS_TOTAL), (BPS_WRITE, OPS_WRITE)),
)


def _bps(value: object) -> int:
    """A byte limit: an absolute rate ('64MiB/s'), 0 for none; never a percent."""
    rate = units.parse_rate(value)
    if isinstance(rate, Fraction):
        raise ValueError(
            f"expected an absolute rate such as '64MiB/s' (a throttle limit is not a percent), got {value!r}"
        )
    return rate


def _iops(value: object) -> int | float:
    """An operation limit: a number of operations per second (QEMU's are integers; a fraction is accepted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value in (_INF, -_INF):
        raise ValueError(f"expected a number of operations per second such as 1000, got {value!r}")
    return value


_INF = float("inf")
_Limit = Annotated[int, BeforeValidator(_bps), Field(ge=0, le=THROTTLE_VALUE_MAX)]
_Iops = Annotated[int | float, BeforeValidator(_iops), Field(ge=0, le=THROTTLE_VALUE_MAX)]
_Length = Annotated[int, Field(ge=1, le=THROTTLE_VALUE_MAX)]


class ThrottleConfig(Section):
    """The limits of a throttle group: QEMU's ``ThrottleLimits`` (``qapi/block-core.json``) in snake_case.

    ``bps_*`` are bytes per second (``"64MiB/s"``), ``iops_*`` operations per
    second; 0 is no limit.  ``*_max`` is the burst rate (0: unset) and
    ``*_max_length`` how many seconds a burst at ``*_max`` may last (whole
    seconds, as QEMU's ``burst_length``).  ``iops_size`` (bytes, 0: off)
    counts a request larger than it as ``size / iops_size`` operations.
    Devices whose ``group`` is the same name share one group (the first
    member's limits; the others must give the same); without a name the
    device is a group of its own, named after the device (QEMU's legacy
    ``throttling.group`` defaults to the device's name too).

    Validation is ``throttle_is_valid`` (``util/throttle.c``).
    """

    bps_total: _Limit = 0
    bps_read: _Limit = 0
    bps_write: _Limit = 0
    iops_total: _Iops = 0
    iops_read: _Iops = 0
    iops_write: _Iops = 0
    bps_total_max: _Limit = 0
    bps_read_max: _Limit = 0
    bps_write_max: _Limit = 0
    iops_total_max: _Iops = 0
    iops_read_max: _Iops = 0
    iops_write_max: _Iops = 0
    bps_total_max_length: _Length = 1
    bps_read_max_length: _Length = 1
    bps_write_max_length: _Length = 1
    iops_total_max_length: _Length = 1
    iops_read_max_length: _Length = 1
    iops_write_max_length: _Length = 1
    iops_size: Size = 0
    group: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ThrottleConfig:
        # throttle_is_valid (util/throttle.c), in its order
        for kind in ("bps", "iops"):
            for suffix, what in (("", "limits"), ("_max", "burst rates")):
                if getattr(self, f"{kind}_total{suffix}"):
                    for d in ("read", "write"):
                        key = f"{kind}_{d}{suffix}"
                        if getattr(self, key):
                            raise Invalid(
                                key,
                                getattr(self, key),
                                f"0 when {kind}_total{suffix} is set (total and read/write {what} "
                                "of one kind cannot be used at the same time)",
                            )
        if self.iops_size and not (self.iops_total or self.iops_read or self.iops_write):
            raise Invalid("iops_size", self.iops_size, "0 unless iops_total, iops_read or iops_write is set")
        for name in _NAMES:
            avg, mx, length = getattr(self, name), getattr(self, f"{name}_max"), getattr(self, f"{name}_max_length")
            if length > 1 and not mx:
                raise Invalid(
                    f"{name}_max_length", length, f"1 unless {name}_max is set (a burst length needs a burst rate)"
                )
            if mx and length > THROTTLE_VALUE_MAX // mx:
                raise Invalid(
                    f"{name}_max_length", length, f"at most {THROTTLE_VALUE_MAX} / {name}_max (burst length too high)"
                )
            if mx and not avg:
                raise Invalid(f"{name}_max", mx, f"0 unless {name} is set (a burst rate needs an average rate)")
            if mx and mx < avg:
                raise Invalid(f"{name}_max", mx, f"a rate >= {name} ({avg})")
        if self.group is not None and not self.group:
            raise Invalid("group", self.group, "a non-empty group name")
        return self

    def limits(self) -> tuple:
        """Everything but ``group``: what the members of one group must agree on."""
        return tuple(getattr(self, k) for k in type(self).model_fields if k != "group")


class LeakyBucket:
    """``LeakyBucket`` (``include/qemu/throttle.h``): ``avg`` units/s, burst rate ``max``, levels as doubles."""

    __slots__ = ("avg", "max", "level", "burst_level", "burst_length")

    def __init__(self, avg: float = 0, max: float = 0, burst_length: int = 1):
        self.avg = avg
        self.max = max
        self.level = 0.0
        self.burst_level = 0.0
        self.burst_length = burst_length

    def leak(self, delta_ns: int) -> None:
        """``throttle_leak_bucket``: drain ``avg`` (and the burst level ``max``) units per second over ``delta_ns``."""
        leak = (self.avg * float(delta_ns)) / NANOSECONDS_PER_SECOND
        self.level = max(self.level - leak, 0.0)
        if self.burst_length > 1:
            leak = (self.max * float(delta_ns)) / NANOSECONDS_PER_SECOND
            self.burst_level = max(self.burst_level - leak, 0.0)

    def wait(self) -> int:
        """``throttle_compute_wait``: ns until the bucket lets a request through (0: now).

        The bucket holds ``S = avg / 10`` units (0.1 s at ``avg``) when no
        burst rate is set, else ``max * burst_length``; a request passes while
        ``level <= S``.  With ``burst_length > 1`` the burst level must also
        be at most ``max / 10``.
        """
        if not self.avg:
            return 0
        if not self.max:
            size = float(self.avg) / 10
            burst_size = 0.0
        else:
            size = float(self.max * self.burst_length)
            burst_size = float(self.max) / 10
        extra = self.level - size
        if extra > 0:
            return _compute_wait(self.avg, extra)
        if self.burst_length > 1:
            extra = self.burst_level - burst_size
            if extra > 0:
                return _compute_wait(self.max, extra)
        return 0


def _compute_wait(limit: float, extra: float) -> int:
    """``throttle_do_compute_wait``: ``extra * 1e9 / limit`` as a double, truncated to int64 ns (C's conversion)."""
    wait = extra * NANOSECONDS_PER_SECOND
    wait /= limit
    return int(wait)


class ThrottleState:
    """``ThrottleState`` (``util/throttle.c``): the six buckets, ``op_size`` and the time of the last leak.

    Made as ``throttle_config`` leaves it: every level 0, ``previous_leak`` now.
    """

    def __init__(self, cfg: ThrottleConfig, now: int = 0):
        self.buckets = [
            LeakyBucket(getattr(cfg, n), getattr(cfg, f"{n}_max"), getattr(cfg, f"{n}_max_length")) for n in _NAMES
        ]
        self.op_size = cfg.iops_size
        self.previous_leak = now

    def leak(self, now: int) -> None:
        """``throttle_do_leak``: every bucket leaks for the time since the last leak."""
        delta_ns = now - self.previous_leak
        self.previous_leak = now
        if delta_ns <= 0:
            return
        for bkt in self.buckets:
            bkt.leak(delta_ns)

    def wait_for(self, direction: int) -> int:
        """``throttle_compute_wait_for``: the longest wait of the buckets ``direction`` checks."""
        max_wait = 0
        for i in _CHECK[direction]:
            wait = self.buckets[i].wait()
            if wait > max_wait:
                max_wait = wait
        return max_wait

    def compute_timer(self, direction: int, now: int) -> tuple[bool, int]:
        """``throttle_compute_timer``: leak to ``now``; (must wait, when the timer should fire)."""
        self.leak(now)
        wait = self.wait_for(direction)
        if wait:
            return True, now + wait
        return False, now

    def account(self, direction: int, size: int) -> None:
        """``throttle_account``: charge ``size`` bytes and its operation count (``size / op_size`` when larger)."""
        units = 1.0
        if self.op_size and size > self.op_size:
            units = float(size) / self.op_size
        for bps, ops in _CHARGE[direction]:
            bkt = self.buckets[bps]
            bkt.level += size
            if bkt.burst_length > 1:
                bkt.burst_level += size
            bkt = self.buckets[ops]
            bkt.level += units
            if bkt.burst_length > 1:
                bkt.burst_level += units


class _Timer:
    """A ``QEMUTimer`` on the simulation clock: ``mod`` (re)arms it at an absolute time, ``delete`` cancels it."""

    __slots__ = ("env", "fire", "deadline", "_gen")

    def __init__(self, env: Environment, fire: Callable[[], None]):
        self.env = env
        self.fire = fire
        self.deadline: int | None = None
        self._gen = 0

    @property
    def pending(self) -> bool:
        """``timer_pending``."""
        return self.deadline is not None

    def mod(self, when: int) -> None:
        """``timer_mod``: fire at ``when`` (ns), replacing any earlier arming."""
        self._gen += 1
        gen = self._gen
        self.deadline = when
        self.env.call_in(max(0, when - self.env.now), self._expired, gen)

    def delete(self) -> None:
        """``timer_del``."""
        self._gen += 1
        self.deadline = None

    def _expired(self, gen: int) -> None:
        if gen != self._gen:
            return  # deleted or re-armed since
        self.deadline = None
        self.fire()


class ThrottleGroupMember:
    """``ThrottleGroupMember``: a throttle node's FIFO queues, pending counts and timers, one per direction."""

    def __init__(self, name: str):
        self.name = name
        self.group: ThrottleGroup | None = None
        self.queues: tuple[deque[Callable[[], None]], deque[Callable[[], None]]] = (deque(), deque())
        self.pending = [0, 0]  # pending_reqs: queued, or woken and not yet run
        self.io_limits_disabled = 0
        self.timers: list[_Timer] = []
        # statistics
        self.throttled = [0, 0]  # requests that waited, per direction
        self.wait_ns = [0, 0]  # their total wait


class ThrottleGroup:
    """A ``throttle-group`` (``block/throttle-groups.c``): one :class:`ThrottleState` shared by its members.

    Per direction: ``tokens`` (the member whose turn it is) and
    ``any_timer_armed`` (a timer is armed on some member: every new request
    of that direction queues).  A request's continuation is run when it is
    admitted; a member's queue holds the continuations of its waiting
    requests.  What QEMU does by waking a coroutine (it runs as soon as the
    current coroutine yields, at the same instant) is done here by queueing
    the continuation on :attr:`_ready`, run to exhaustion by :meth:`_enter`
    before the call that started it returns.
    """

    def __init__(self, env: Environment, name: str, cfg: ThrottleConfig):
        self.env = env
        self.name = name
        self.cfg = cfg
        self.ts = ThrottleState(cfg, env.now)
        self.members: list[ThrottleGroupMember] = []  # QEMU's tg->head, newest first
        self.tokens: list[ThrottleGroupMember | None] = [None, None]
        self.any_timer_armed = [False, False]
        self._ready: deque[Callable[[], None]] = deque()
        self._running = False

    # -- membership -------------------------------------------------------------

    def register(self, tgm: ThrottleGroupMember) -> None:
        """``throttle_group_register_tgm``: the first member holds both tokens; a new member goes to the list's head."""
        tgm.group = self
        for d in (THROTTLE_READ, THROTTLE_WRITE):
            if self.tokens[d] is None:
                self.tokens[d] = tgm
        self.members.insert(0, tgm)  # QLIST_INSERT_HEAD
        tgm.timers = [_Timer(self.env, self._timer_fn(tgm, d)) for d in (THROTTLE_READ, THROTTLE_WRITE)]

    def _timer_fn(self, tgm: ThrottleGroupMember, direction: int) -> Callable[[], None]:
        return lambda: self._enter(lambda: self.timer_cb(tgm, direction))

    def _next_tgm(self, tgm: ThrottleGroupMember) -> ThrottleGroupMember:
        """``throttle_group_next_tgm``: the next member in the list, wrapping to its head."""
        i = self.members.index(tgm) + 1
        return self.members[i] if i < len(self.members) else self.members[0]

    # -- the algorithm of block/throttle-groups.c ----------------------------------

    def next_throttle_token(self, tgm: ThrottleGroupMember, direction: int) -> ThrottleGroupMember:
        """``next_throttle_token``: the next member after the token holder with pending requests, else ``tgm``.

        A member being drained with pending requests skips the round robin.
        """
        if tgm.pending[direction] and tgm.io_limits_disabled:
            return tgm
        start = self.tokens[direction]
        assert start is not None  # set by register
        token = self._next_tgm(start)
        while token is not start and not token.pending[direction]:
            token = self._next_tgm(token)
        if token is start and not token.pending[direction]:
            token = tgm
        return token

    def schedule_timer(self, tgm: ThrottleGroupMember, direction: int) -> bool:
        """``throttle_group_schedule_timer`` with ``throttle_schedule_timer``: must ``tgm``'s next request wait?

        Never while ``tgm`` is drained; always while a timer of the direction
        is armed in the group; else leak and compute the wait, and if there is
        one arm ``tgm``'s timer (unless already pending: the earlier deadline
        stays) and give it the token.
        """
        if tgm.io_limits_disabled:
            return False
        if self.any_timer_armed[direction]:
            return True
        now = self.env.now
        must_wait, next_timestamp = self.ts.compute_timer(direction, now)
        if not must_wait:
            return False
        timer = tgm.timers[direction]
        if not timer.pending:
            timer.mod(next_timestamp)
        self.tokens[direction] = tgm
        self.any_timer_armed[direction] = True
        return True

    def restart_co(self, tgm: ThrottleGroupMember, direction: int) -> bool:
        """``throttle_group_co_restart_queue``: wake the head of ``tgm``'s queue (it runs next); False if empty."""
        q = tgm.queues[direction]
        if not q:
            return False
        self._ready.append(q.popleft())
        return True

    def schedule_next_request(self, tgm: ThrottleGroupMember, direction: int) -> None:
        """``schedule_next_request``: let the next member with pending requests go now, or arm its timer.

        When no wait is needed the head of ``tgm``'s own queue goes first
        (the current member's preference); if that queue is empty the token
        holder's timer is armed for now.
        """
        token = self.next_throttle_token(tgm, direction)
        if not token.pending[direction]:
            return
        must_wait = self.schedule_timer(token, direction)
        if not must_wait:
            if self.restart_co(tgm, direction):  # always in a coroutine here: qemu_in_coroutine() holds
                token = tgm
            else:
                token.timers[direction].mod(self.env.now)
                self.any_timer_armed[direction] = True
            self.tokens[direction] = token

    def intercept(self, tgm: ThrottleGroupMember, direction: int, nbytes: int, proceed: Callable[[], None]) -> None:
        """``throttle_group_co_io_limits_intercept``: admit a request of ``nbytes`` now or queue it; then ``proceed()``.

        It waits when the token holder must wait or when ``tgm`` already has
        requests of that direction queued (FIFO); woken, it is not checked
        again.  Once admitted it is charged, the next request is scheduled,
        and ``proceed()`` runs (the request goes to the device).
        """
        self._enter(lambda: self._intercept(tgm, direction, nbytes, proceed))

    def _intercept(self, tgm: ThrottleGroupMember, direction: int, nbytes: int, proceed: Callable[[], None]) -> None:
        token = self.next_throttle_token(tgm, direction)
        must_wait = self.schedule_timer(token, direction)
        if must_wait or tgm.pending[direction]:
            tgm.pending[direction] += 1
            t0 = self.env.now

            def resume() -> None:
                tgm.pending[direction] -= 1
                tgm.throttled[direction] += 1
                tgm.wait_ns[direction] += self.env.now - t0
                self._admit(tgm, direction, nbytes, proceed)

            tgm.queues[direction].append(resume)
            return
        self._admit(tgm, direction, nbytes, proceed)

    def _admit(self, tgm: ThrottleGroupMember, direction: int, nbytes: int, proceed: Callable[[], None]) -> None:
        self.ts.account(direction, nbytes)
        self.schedule_next_request(tgm, direction)
        proceed()

    def timer_cb(self, tgm: ThrottleGroupMember, direction: int) -> None:
        """``timer_cb``: clear the direction's armed flag and restart ``tgm``'s queue."""
        self.any_timer_armed[direction] = False
        self.restart_queue_entry(tgm, direction)

    def restart_queue_entry(self, tgm: ThrottleGroupMember, direction: int) -> None:
        """``throttle_group_restart_queue_entry``: wake ``tgm``'s head, or if none schedule the next request."""
        if not self.restart_co(tgm, direction):
            self.schedule_next_request(tgm, direction)

    def restart_tgm(self, tgm: ThrottleGroupMember) -> None:
        """``throttle_group_restart_tgm``: fire ``tgm``'s pending timers now, else restart its queues."""
        for d in (THROTTLE_READ, THROTTLE_WRITE):
            timer = tgm.timers[d]
            if timer.pending:
                timer.delete()
                self._enter(partial(self.timer_cb, tgm, d))
            else:
                self._enter(partial(self.restart_queue_entry, tgm, d))

    def _enter(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` and every continuation it wakes, before returning (``qemu_aio_coroutine_enter``)."""
        self._ready.append(fn)
        if self._running:
            return
        self._running = True
        try:
            ready = self._ready
            while ready:
                ready.popleft()()
        finally:
            self._running = False


class ThrottledDevice(DeviceLayer):
    """A device behind a throttle filter node: ``submit(req, done)`` like the device it wraps.

    ``block/throttle.c``: ``throttle_co_preadv`` charges a read;
    ``throttle_co_pwritev``, ``throttle_co_pwrite_zeroes`` and
    ``throttle_co_pdiscard`` charge a write of the request's full length.
    Every attribute it does not define (``completed``, ``mean_in_system``,
    ``queue_depth`` of the configuration, ``draw_key``, ``head``...) is the
    wrapped device's.
    """

    def __init__(self, inner: Any, group: ThrottleGroup, name: str, trace: list | None = None):
        self.inner = inner
        self.group = group
        self.name = name
        self.trace = trace
        self.member = ThrottleGroupMember(name)
        group.register(self.member)

    def submit(self, req: Request, done: Callable[[Request], None]) -> None:
        """Pass the throttle (maybe after a wait), then submit ``req`` to the device."""
        direction = THROTTLE_READ if req.op == READ else THROTTLE_WRITE
        env = self.group.env
        t0 = env.now
        trace = self.trace

        def proceed() -> None:
            if trace is not None and env.now != t0:
                trace.append((env.now, self.name, "throttle-go", req))
            self.inner.submit(req, done)

        if trace is not None:
            queued = self.member.pending[direction]
            self.group.intercept(self.member, direction, req.nbytes, proceed)
            if self.member.pending[direction] > queued:
                trace.append((t0, self.name, "throttle-wait", req))
        else:
            self.group.intercept(self.member, direction, req.nbytes, proceed)

    def drain_begin(self) -> None:
        """``throttle_drain_begin``: disable the limits and release every queued request now (still charged)."""
        self.member.io_limits_disabled += 1
        if self.member.io_limits_disabled == 1:
            self.group.restart_tgm(self.member)
        begin = getattr(self.inner, "drain_begin", None)
        if begin is not None:
            begin()

    def drain_end(self) -> None:
        """``throttle_drain_end``: limits apply again to requests that arrive from now on."""
        assert self.member.io_limits_disabled > 0, "drain_end without drain_begin"
        self.member.io_limits_disabled -= 1
        end = getattr(self.inner, "drain_end", None)
        if end is not None:
            end()

    @property
    def throttled(self) -> int:
        """Requests that waited in the throttle queues so far."""
        return sum(self.member.throttled)


def throttled(
    env: Environment,
    device: Any,
    cfg: ThrottleConfig,
    name: str,
    trace: list | None = None,
    groups: dict[str, ThrottleGroup] | None = None,
    key: str = "throttle",
) -> ThrottledDevice:
    """``device`` behind a throttle node of group ``cfg.group`` (default: ``name``), shared through ``groups``.

    The first member of a group sets its limits; a later member with other
    limits is a :class:`sim.params.ConfigError` naming ``key``.
    """
    groups = {} if groups is None else groups
    gname = cfg.group if cfg.group is not None else name
    group = groups.get(gname)
    if group is None:
        group = groups[gname] = ThrottleGroup(env, gname, cfg)
    elif group.cfg.limits() != cfg.limits():
        raise ConfigError(
            key,
            cfg.model_dump(exclude={"group"}, exclude_defaults=True),
            f"the limits of the other members of throttle group {gname!r} "
            f"({group.cfg.model_dump(exclude={'group'}, exclude_defaults=True)})",
        )
    return ThrottledDevice(device, group, name, trace)
