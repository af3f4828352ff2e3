"""``fio-rate``: fio jobs as fio paces them (``rate_iops``, ``rate_process``, ``iodepth``, ``numjobs``).

Every rule below is fio's, as of fio-3.42-135-gf5344384 (file and function
named at each rule).

**The schedule** (``backend.c: usec_for_io``, ``init.c: __setup_rate``).
Each job keeps the time its next I/O is due, ``rate_next_io_time``, in whole
microseconds since the job's epoch (the guest's start); the first I/O is due
at 0, and after each submission the next due time is computed:

* ``rate_process = "linear"``: ``rate_io_issue_bytes / rate_bps``, an
  absolute schedule; with ``rate_bps = rate_iops * bs`` (``__setup_rate``)
  the ``n``-th I/O (from 0) is due at ``n * 1_000_000 // rate_iops`` µs
  (fio's ``secs * 1000000 + remainder * 1000000 / bps``, integer).
* ``rate_process = "poisson"``: ``last_usec += (1000000 / iops) * -logf(U)``
  truncated to a whole µs, ``U`` uniform on (0, 1] (``lib/rand.h:
  __rand_0_1``), also cumulative.  fio multiplies in single precision
  (``logf``); the model in double precision, its ``U`` being the job's own
  draw rather than fio's generator's anyway.  ``1000000 / iops`` is integer
  division, so ``rate_iops`` above 10**6 makes every gap 0 (unpaced), as in fio.

**The gate** (``io_u.c: rate_ddir``, reached from ``get_io_u`` when the job
has a free slot).  ``now`` is the job's clock in whole µs
(``utime_since_now(&td->epoch)``):

* if the next I/O is due (``due <= now``) it is issued now: behind schedule
  the job catches up, skipping nothing;
* otherwise ``usec = due - now`` is computed, then the job waits for *all* its
  I/Os in flight to complete (``io_u_quiesce``, ``io_submit_mode=inline``,
  fio's default), then sleeps the full ``usec`` (``time.c: usec_sleep``, at
  least ``usec``; the model sleeps exactly ``usec``): the I/O is issued at the
  drain's end plus ``usec``.

**Depth** (``backend.c: do_io``, ``wait_for_completions``).  A job keeps at
most ``iodepth`` I/Os in flight: with all slots busy it waits for one
completion (``iodepth_batch_complete_min`` = 1, ``iodepth_low`` = ``iodepth``,
the defaults), then passes the gate again; so overdue I/Os go out back to back
as slots free.  With ``rate_iops = 0`` there is no gate: a closed loop of
``iodepth`` (the ``fio`` workload with ``think_time = 0``, request for request).

**Latency.**  fio's ``lat`` starts at ``io_u->start_time``, set at the end of
``get_io_u`` after any drain and sleep (``io_u.c``), and ends at the reap
(``account_io_completion``): the guest's issue time, which is the frame's
``t_submit_ns`` (:meth:`sim.block.BlockLayer.submit_guest`), to its
completion.  Lag behind the schedule is not in it (coordinated omission).
Each request also carries when it was *due* (``t_due``: the epoch plus its
due time; the issue time itself when unpaced), from which the guest's
:class:`~sim.recording.GuestStats` records the latency the application
feels, completion - due time, by due time (:func:`sim.metrics.schedule_summary`;
``t_due_ns`` in the request table with ``run.keep_requests``).  When the guest stops, the I/Os due by
then but never issued are counted (``unissued``): they have no completion.

**Jobs** (``numjobs``, ``options.c``: "Duplicate this job this many times").
Each job has its own schedule, its own ``iodepth`` and its own request stream.
Job 0 draws its requests from the guest's ``workload`` stream itself (so one
unpaced job issues what ``fio`` issues); the guest's generator spawns two
children per job (``numpy.random.Generator.spawn``), child ``2k`` for job
``k``'s Poisson gaps and child ``2k + 1`` for job ``k``'s requests (``k >= 1``),
so job ``k``'s draws do not depend on ``numjobs`` and the gaps never shift the
requests.  Job ``k``'s ``n``-th request has index ``n * numjobs + k`` (which
keys its device noise), the same with and without a backup; each request
carries its job (``req.job``: an NBD export gives each job its connection, as
fio's nbd engine opens one per job).  Every job starts at the guest's start.

**Offsets** are those of the common stream (:class:`~.base.RequestStream`):
random offsets drawn with replacement, fio's ``norandommap`` (fio's default
random map, which visits every block once per pass, is not modelled:
``norandommap = false`` is refused for a random ``rw``).

Left out: fio keeps a schedule per direction (``rate_iops=int[,int][,int]``, a
single value applying to each) and ``rate_ddir`` may switch a mixed job to the
direction that is behind; here a job has one schedule over all its I/Os, whose
operations come from the stream's mix, so a mixed job issues ``rate_iops`` in
total (exact for single-direction jobs) and which requests it issues never
depends on timing.  Also left out: ``thinktime``, ``rate_cycle``/``rate_min``,
``ramp_time``, ``io_submit_mode=offload``, batched submission and reaping
(``iodepth_batch*``; completions are seen one by one, when they happen), timer
slack in the sleep.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from ..params import WORKLOADS, ConfigError
from ..request import GUEST, Request
from ..rng import Draws
from .base import Guest, RequestStream, WorkloadConfig

__all__ = ["FioRateGuest", "FioRateConfig", "JobRequest", "linear_due_us"]

_RUN, _DRAIN, _SLEEP = 0, 1, 2  # a job's state: at the gate, in io_u_quiesce, in usec_sleep


class FioRateConfig(WorkloadConfig):
    """fio's pacing keys; defaults are fio's (``options.c``)."""

    iodepth: int = Field(1, ge=1, le=65536)
    numjobs: int = Field(1, ge=1, le=1024)
    rate_iops: int = Field(0, ge=0, le=10**9)
    rate_process: Literal["linear", "poisson"] = "linear"
    norandommap: bool = True

    @model_validator(mode="after")
    def _check_fio_rate(self) -> FioRateConfig:
        if not self.norandommap and self.rw.startswith("rand"):
            raise ConfigError(
                "norandommap",
                False,
                "true: random offsets are drawn with replacement (fio's random map is not modelled)",
            )
        return self


class JobRequest(Request):
    """A guest request that knows its fio job and when it was due (ns)."""

    __slots__ = ("job", "t_due")

    def __init__(self, op: int, offset: int, nbytes: int, index: int, job: int, t_due: int):
        super().__init__(op, offset, nbytes, GUEST, index)
        self.job = job
        self.t_due = t_due


def linear_due_us(n: int, iops: int) -> int:
    """When the ``n``-th I/O (from 0) of a linear schedule is due, in µs from the epoch.

    ``backend.c: usec_for_io`` with ``bytes = n * bs`` and ``bps = iops * bs``:
    ``(n // iops) * 10**6 + (n % iops) * 10**6 // iops``, which is ``n * 10**6 // iops``.
    """
    return n * 1_000_000 // iops


class _Job:
    """One fio job: its stream, schedule, depth and state."""

    __slots__ = ("k", "stream", "sched", "n", "due_us", "last_usec", "in_flight", "peak", "state", "usec")

    def __init__(self, k: int, stream: RequestStream, sched: Draws):
        self.k = k
        self.stream = stream
        self.sched = sched  # the Poisson gaps' own draws
        self.n = 0  # I/Os issued
        self.due_us = 0  # rate_next_io_time: the first I/O is due at the epoch
        self.last_usec = 0  # the Poisson schedule's running sum
        self.in_flight = 0
        self.peak = 0  # the most in flight at once
        self.state = _RUN
        self.usec = 0  # the sleep computed at the gate, before the drain


@WORKLOADS.register("fio-rate")
class FioRateGuest(Guest):
    """``numjobs`` fio jobs, each paced by ``rate_iops`` on its own schedule, ``iodepth`` deep."""

    Config = FioRateConfig
    cfg: FioRateConfig
    paced = True  # every request has a due time (its issue time when unpaced)

    def __init__(self, env, cfg: FioRateConfig, blk, disk_size: int, draws: Draws):
        super().__init__(env, cfg, blk, disk_size, draws)
        kids = draws.gen.spawn(2 * cfg.numjobs)
        self.jobs = [
            _Job(
                k,
                self.stream if k == 0 else RequestStream(cfg, disk_size, Draws(kids[2 * k + 1])),
                Draws(kids[2 * k]),
            )
            for k in range(cfg.numjobs)
        ]
        self.epoch = 0
        self.unissued: int | None = None  # I/Os due when the guest stopped but never issued
        self._mean_us = 1_000_000 // cfg.rate_iops if cfg.rate_iops else 0

    def start(self) -> None:
        super().start()
        self.epoch = self.env.now
        for job in self.jobs:
            self._advance(job)

    def stop(self) -> None:
        if not self.stopped:
            self.unissued = self._count_unissued()
        super().stop()

    # -- the job loop (backend.c: do_io; io_u.c: get_io_u -> rate_ddir) ----------

    def _advance(self, job: _Job) -> None:
        """Issue while a slot is free and the gate lets the next I/O through; else drain or sleep."""
        depth = self.cfg.iodepth
        paced = self.cfg.rate_iops > 0
        while not self.stopped and job.state == _RUN and job.in_flight < depth:
            if paced:
                now_us = (self.env.now - self.epoch) // 1000
                if job.due_us > now_us:  # ahead of schedule: rate_ddir
                    job.usec = job.due_us - now_us  # computed before the drain
                    if job.in_flight:
                        job.state = _DRAIN  # io_u_quiesce: _completed sleeps when the last one ends
                    else:
                        self._sleep(job)
                    return
            self._issue(job)

    def _sleep(self, job: _Job) -> None:
        job.state = _SLEEP
        self.env.call_in(job.usec * 1000, self._woke, job)

    def _woke(self, job: _Job) -> None:
        job.state = _RUN
        if self.stopped:
            return
        self._issue(job)  # rate_ddir returns after the sleep: this I/O goes out now
        self._advance(job)

    def _issue(self, job: _Job) -> None:
        op, offset = job.stream.next()
        now = self.env.now
        paced = self.cfg.rate_iops > 0
        t_due = self.epoch + job.due_us * 1000 if paced else now
        req = JobRequest(op, offset, job.stream.bs, job.n * self.cfg.numjobs + job.k, job.k, t_due)
        job.n += 1
        job.in_flight += 1
        if job.in_flight > job.peak:
            job.peak = job.in_flight
        self.issued += 1
        if paced:
            job.due_us = self._next_due(job)  # do_io: after each submission
        self.blk.submit_guest(req, self._record_call)

    def _next_due(self, job: _Job) -> int:
        """``usec_for_io`` after ``job.n`` I/Os have been issued."""
        if self.cfg.rate_process == "linear":
            return linear_due_us(job.n, self.cfg.rate_iops)
        u = 1.0 - job.sched.random()  # (0, 1], as __rand_0_1
        job.last_usec += int(self._mean_us * -math.log(u))
        return job.last_usec

    def _completed(self, req: Request) -> None:
        assert isinstance(req, JobRequest)
        job = self.jobs[req.job]
        job.in_flight -= 1
        if job.state == _DRAIN:
            if job.in_flight == 0:
                if self.stopped:
                    job.state = _RUN
                else:
                    self._sleep(job)  # the full gap computed at the gate
        elif job.state == _RUN:
            self._advance(job)

    def _count_unissued(self) -> int:
        """I/Os due by now (whole µs, as the gate counts) that no job has issued."""
        iops = self.cfg.rate_iops
        if not iops:
            return 0
        now_us = (self.env.now - self.epoch) // 1000
        total = 0
        for job in self.jobs:
            if self.cfg.rate_process == "linear":
                # n * 10**6 // iops <= now_us  <=>  n < (now_us + 1) * iops / 10**6
                due = -(-(now_us + 1) * iops // 1_000_000)
                total += max(0, due - job.n)
            elif self._mean_us:  # (every Poisson gap 0 above 10**6 IOPS: never behind)
                d = job.due_us
                while d <= now_us:
                    total += 1
                    d = self._next_due(job)
        return total
