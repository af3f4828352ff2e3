"""What a run records while it runs, in memory bounded by the run's windows and bins, not its length.

A run of a 1 TiB disk completes about 10**8 guest requests; :mod:`sim.metrics`
needs only statistics of them:

* :class:`GuestStats` (one per guest): counts, bytes and errors of the whole
  run; latency per op (read, write, other) and the copy-before-write delay of
  writes, in :class:`~sim.histogram.Histogram` objects, split by the request's
  *submission* time into before, in and after the backup window
  (:class:`Split`); for a paced guest (``fio-rate``) the schedule latency
  (completion - due time), split by due time; and the :class:`Timeline`.
* :class:`WaitStats` (the event loop's ``waits``): the wait of each ready
  guest handler, split by the time it became ready.
* :class:`Timeline`: per window of ``run.timeline_window`` (by completion
  time) the number of completions and their latency percentiles; only the
  current window has a histogram, which is read and dropped when the next
  window starts (completions come in time order).
* With ``run.keep_requests``, also a :class:`RequestLog`: one row per request
  (``sim.metrics.guest_frame``), for notebooks and small runs.  The summary
  never reads it.

**Cost.**  Recording runs two to three times per guest request, so it only
appends the raw numbers to small lists (a list's append is cheaper than a
typed array's, which converts each number through a format string: about
a quarter less per request in Python, and a tenth of the compiled kernel's
instructions on the default experiment's run) and every :data:`FLUSH` entries
counts them into the histograms with numpy: memory is bounded by that buffer,
the time per request is about that of the appends.

**The window.**  Percentiles cover requests submitted in the backup window
``[start, end)`` (:func:`sim.metrics.backup_window`: the job's start, or
``backup.start`` if it never started; its end, or the run's end).  A value is
classified when its buffer is flushed, from what the run knows then
(:class:`Window`): values keyed before the job's start (which is never
before ``backup.start``) are before the window; once the start is known,
values keyed since then and before the present moment are in it as long as
the job has not ended and the run has not stopped; a value keyed at the
present moment waits for the next flush (the window might end at this very
instant); values keyed after the configured start while the job has not
started, and values keyed after the run's stop while the job, still running,
may end as in-flight requests drain, wait in buckets of their own until the
run is over.  The split is therefore exact: the counts, means and maxima of
the window are those of the values keyed in it.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .histogram import Histogram, bin_indices, percentiles_of_bins
from .request import READ, WRITE

if TYPE_CHECKING:
    from .request import Request

__all__ = ["Window", "Split", "GuestBucket", "GuestStats", "WaitStats", "Timeline", "RequestLog", "Recording", "FLUSH"]

#: Entries buffered before they are counted into histograms.
FLUSH: Final = 4096  # Final: inlined when compiled (docs/kernel.md)
#: The window of a loop or guest used on its own (no model): everything is in it.
FOREVER = (0, 2**63 - 1)


class Window:
    """The backup window ``[start, end)`` of a run, as far as the run has decided it.

    ``start`` / ``end`` are -1 while undecided.  A fixed window (a baseline
    run: the backup run's window) is decided from the start; a run's own window
    is read from its model: the job's record and, once the run has stopped
    (``model.t_end > 0``), the run's end.
    """

    __slots__ = ("start", "end", "cfg_start", "model", "rec")

    def __init__(self, start: int = -1, end: int = -1, cfg_start: int = 0, model: Any = None):
        self.start = start
        self.end = end
        self.cfg_start = cfg_start  # the configured start: the job never starts before it
        self.model = model
        self.rec: Any = None

    @classmethod
    def fixed(cls, start: int, end: int) -> Window:
        return cls(start, end, start)

    @classmethod
    def of_run(cls, model: Any) -> Window:
        """The window of ``model``'s own backup (read from ``model.job`` and ``model.t_end``)."""
        return cls(-1, -1, model.cfg.backup.start, model)

    def poll(self) -> None:
        """Learn what the run has decided since the last call."""
        m = self.model
        if m is None:
            return
        rec = self.rec
        if rec is None:
            job = m.job
            if job is None:  # no backup: the configured start, the run's end
                self.start = self.cfg_start
                if m.t_end > 0:
                    self.end = m.t_end
                return
            rec = self.rec = job.record
        if self.start < 0 and rec.t_start >= 0:
            self.start = rec.t_start
        if self.end < 0 and rec.t_end >= 0:
            self.end = rec.t_end

    def stopped(self) -> int:
        """The run's end once it has stopped (a job may still start or end while in-flight requests drain), else -1."""
        m = self.model
        return m.t_end if m is not None and m.t_end > 0 else -1

    def final(self) -> tuple[int, int]:
        """The window once the run is over (as :func:`sim.metrics.backup_window`)."""
        m = self.model
        if m is None:
            return self.start, self.end
        job = m.job
        if job is None:
            return self.cfg_start, m.t_end
        rec = job.record
        return (rec.t_start if rec.t_start >= 0 else self.cfg_start), (rec.t_end if rec.t_end >= 0 else m.t_end)

    def final_job(self) -> tuple[bool, bool]:
        """Whether the job started, and ended, by the end of the run."""
        m = self.model
        rec = m.job.record if m is not None and m.job is not None else None
        return (rec is not None and rec.t_start >= 0), (rec is not None and rec.t_end >= 0)


# Split's buckets: decided, and waiting for one fact of the run's future
PRE: Final = 0
IN: Final = 1
POST: Final = 2
EARLY: Final = 3  # before the window if the job starts later, in it if it never starts
EARLY_POST: Final = 4  # before the window if the job starts later, after it if it never starts
LATE: Final = 5  # in the window if the job ends while the run drains, after it if it does not
UNDECIDED: Final = -1  # keyed at the present instant: the window may start or end at it


class Split:
    """Values keyed by a time, in buckets before, in and after the backup window.

    :meth:`add` ``(t, now, cols)`` files the rows of the arrays ``cols`` keyed
    by times ``t`` (all ``<= now``, the present): each bucket (from ``make()``,
    with ``add_batch(*cols)`` and ``merge``) gets its rows; rows keyed at
    ``now`` itself are kept for the next call.  :meth:`close`, after the run,
    settles everything from the final window; then ``pre``, ``inside``,
    ``post``.
    """

    __slots__ = ("window", "b", "_carry", "closed")

    def __init__(self, window: Window, make: Any):
        self.window = window
        self.b = [make() for _ in range(6)]
        self._carry: tuple | None = None  # (t, cols) of rows not filed yet
        self.closed = False

    def classify(self, t: np.ndarray, now: int) -> np.ndarray:
        """The bucket of each key time ``t`` (``<= now``), from what the window knows now."""
        w = self.window
        w.poll()
        s, e, te = w.start, w.end, w.stopped()
        out = np.full(t.shape, UNDECIDED, dtype=np.int8)
        if s >= 0 and e >= 0:
            out[:] = IN
            out[t >= e] = POST
            out[t < s] = PRE  # (before the start first: a window that ends as it starts is empty)
            return out
        past = t < now  # a key at now waits: the window may start or end at this instant
        if s >= 0:  # the end is at or after now; once stopped, the stop unless the job ends while draining
            out[past] = IN
            if te >= 0:
                out[past & (t >= te)] = LATE
            out[t < s] = PRE
            return out
        # the job has not started: it starts at or after now (then before the window), or never
        # (then the window is [backup.start, the run's end))
        out[past] = EARLY
        if te >= 0:
            out[past & (t >= te)] = EARLY_POST
        out[t < w.cfg_start] = PRE
        return out

    def add(self, t: np.ndarray, now: int, cols: tuple) -> None:
        """File rows ``cols`` keyed by ``t``, recorded by ``now``."""
        if self._carry is not None:
            ct, ccols = self._carry
            self._carry = None
            t = np.concatenate((ct, t))
            cols = tuple(np.concatenate((a, b)) for a, b in zip(ccols, cols))
        idx = self.window_final_index(t) if self.closed else self.classify(t, now)
        self._file(t, idx, cols)

    def _file(self, t: np.ndarray, idx: np.ndarray, cols: tuple) -> None:
        for k in range(6):
            m = idx == k
            if m.any():
                self.b[k].add_batch(*(c[m] for c in cols))
        left = idx == UNDECIDED
        if left.any():
            self._carry = (t[left], tuple(c[left] for c in cols))

    def window_final_index(self, t: np.ndarray) -> np.ndarray:
        start, end = self.window.final()
        out = np.full(t.shape, IN, dtype=np.int8)
        out[t >= end] = POST
        out[t < start] = PRE
        return out

    def close(self) -> Split:
        """Settle every undecided bucket from the final window (after the run); returns self."""
        if self.closed:
            return self
        self.closed = True
        if self._carry is not None:
            t, cols = self._carry
            self._carry = None
            self._file(t, self.window_final_index(t), cols)
        started, ended = self.window.final_job()
        b = self.b
        b[PRE if started else IN].merge(b[EARLY])
        b[PRE if started else POST].merge(b[EARLY_POST])
        b[IN if ended else POST].merge(b[LATE])
        return self

    @property
    def pre(self) -> Any:
        return self.close().b[PRE]

    @property
    def inside(self) -> Any:
        return self.close().b[IN]

    @property
    def post(self) -> Any:
        return self.close().b[POST]

    def storage(self) -> int:
        return sum(x.storage() for x in self.b) + (len(self._carry[0]) if self._carry is not None else 0)


class _Hist(Histogram):
    """A histogram bucket of a :class:`Split`: its rows are one column of values."""

    __slots__ = ()

    def add_batch(self, values: np.ndarray) -> None:
        self.add_array(values)


class GuestBucket:
    """Guest latencies (ns) by op, and the copy-before-write delay of the writes that had one."""

    __slots__ = ("read", "write", "other", "cow")

    def __init__(self) -> None:
        self.read = Histogram()
        self.write = Histogram()
        self.other = Histogram()  # discards and write-zeroes
        self.cow = Histogram()  # cow_ns > 0 of writes

    def add(self, op: int, lat: int, cow_ns: int) -> None:
        """One request (as :meth:`add_batch` does for many)."""
        if op == READ:
            self.read.add(lat)
        elif op == WRITE:
            self.write.add(lat)
            if cow_ns > 0:
                self.cow.add(cow_ns)
        else:
            self.other.add(lat)

    def add_batch(self, op: np.ndarray, lat: np.ndarray, bins: np.ndarray, cow: np.ndarray) -> None:
        """Requests of ops ``op``, latencies ``lat`` (in bins ``bins``) and copy-before-write times ``cow``."""
        rd, wr = op == READ, op == WRITE
        self.read.add_array(lat[rd], bins[rd])
        self.write.add_array(lat[wr], bins[wr])
        ot = ~(rd | wr)
        if ot.any():
            self.other.add_array(lat[ot], bins[ot])
        c = cow[wr]
        self.cow.add_array(c[c > 0])

    def merge(self, other: GuestBucket) -> GuestBucket:
        self.read.merge(other.read)
        self.write.merge(other.write)
        self.other.merge(other.other)
        self.cow.merge(other.cow)
        return self

    def all(self) -> Histogram:
        """Every op's latencies together."""
        return Histogram.merged((self.read, self.write, self.other))

    def storage(self) -> int:
        return self.read.storage() + self.write.storage() + self.other.storage() + self.cow.storage()


class Timeline:
    """Per window of ``window`` ns, by completion time: completions and latency p50 / p99 (ns).

    Completions come in time order, so only the current window holds a
    histogram (counts in the bins of :class:`~sim.histogram.Histogram`, same
    resolution); its percentiles are read when the next window starts.
    Storage: three numbers per window, and one window's bins.
    """

    __slots__ = ("window", "counts", "p50", "p99", "w", "bins", "max")

    def __init__(self, window: int):
        self.window = window
        self.counts = array("q")
        self.p50 = array("d")
        self.p99 = array("d")
        self.w = -1  # the current window
        self.bins = np.zeros(0, dtype=np.int64)  # its counts by bin
        self.max = -1  # its largest latency

    def add_batch(self, t_done: np.ndarray, lat: np.ndarray, bins: np.ndarray) -> None:
        """Completions at ``t_done`` (non-decreasing) of latencies ``lat`` in bins ``bins``."""
        if t_done.size == 0:
            return
        win = t_done // self.window
        cuts = np.flatnonzero(np.diff(win)) + 1
        for i0, i1 in zip([0, *cuts.tolist()], [*cuts.tolist(), t_done.size]):
            w = int(win[i0])
            if w > self.w:
                self.roll(w)
            elif w < self.w:  # (the clock does not go back: cannot happen) counted, out of the percentiles
                self.counts[w] += i1 - i0
                continue
            cnt = np.bincount(bins[i0:i1])
            if cnt.size > self.bins.size:
                self.bins = np.concatenate((self.bins, np.zeros(cnt.size - self.bins.size, dtype=np.int64)))
            self.bins[: cnt.size] += cnt
            top = int(lat[i0:i1].max())
            if top > self.max:
                self.max = top

    def roll(self, w: int) -> None:
        """Close the current window; window ``w`` (later) becomes current."""
        self.flush()
        self.w = w
        n = len(self.counts)
        if w >= n:  # windows without completions: 0 and nan
            self.counts.extend([0] * (w + 1 - n))
            self.p50.extend([math.nan] * (w + 1 - n))
            self.p99.extend([math.nan] * (w + 1 - n))

    def flush(self) -> None:
        """Read the current window's histogram into its row."""
        nz = np.flatnonzero(self.bins)
        if nz.size == 0:
            return
        counts = self.bins[nz]
        n = int(counts.sum())
        p50, p99 = percentiles_of_bins(nz.tolist(), counts.tolist(), n, self.max, (50, 99))
        w = self.w
        self.counts[w] += n
        self.p50[w] = p50
        self.p99[w] = p99
        self.bins = np.zeros(0, dtype=np.int64)
        self.max = -1

    def storage(self) -> int:
        return len(self.counts) * 3 + int(self.bins.size)


class RequestLog:
    """One row per completed request, in completion order (``run.keep_requests``)."""

    def __init__(self, paced: bool = False):
        self.t_submit = array("q")
        self.t_done = array("q")
        self.op = array("b")
        self.nbytes = array("q")
        self.cow_ns = array("q")
        self.error = array("b")
        self.offset = array("q")
        self.index = array("q")
        self.t_due = array("q") if paced else None

    def add(self, req: Request) -> None:
        self.t_submit.append(req.t_submit)
        self.t_done.append(req.t_done)
        self.op.append(req.op)
        self.nbytes.append(req.nbytes)
        self.cow_ns.append(req.cow_ns)
        self.error.append(req.error)
        self.offset.append(req.offset)
        self.index.append(req.index)
        if self.t_due is not None:
            self.t_due.append(req.t_due)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.t_done)


def _np(buffer: list[int]) -> np.ndarray:
    """A buffer's numbers as int64, for counting them at a flush."""
    return np.fromiter(buffer, dtype=np.int64, count=len(buffer))


class GuestStats:
    """A guest's records: whole-run counts, windowed latency histograms, timeline, optional log.

    :meth:`record` appends a request's numbers to a buffer; every
    :data:`FLUSH` requests, and at :meth:`close`, the buffer is counted.
    """

    def __init__(
        self,
        window: Window,
        timeline_window: int,
        keep: bool = False,
        paced: bool = False,
        more: tuple[Window, ...] = (),
    ):
        self._ops = np.zeros(4, dtype=np.int64)  # completed, by op code (read, write, discard, write-zeroes)
        self._bytes = 0
        self._errors = 0
        # per window (the first, then those of the other runs sharing a baseline): latencies by submission
        # time, and a paced guest's completion - due by due time
        self.windows = [(Split(w, GuestBucket), Split(w, _Hist) if paced else None) for w in (window, *more)]
        self.lat, self.sched = self.windows[0]
        self.timeline = Timeline(timeline_window)
        self.log = RequestLog(paced) if keep else None
        # the buffer: lists, not arrays, since a list's append is the cheaper (an array's converts each
        # number through a format string), and FLUSH entries of a list take little memory
        self._t_submit: list[int] = []
        self._t_done: list[int] = []
        self._op: list[int] = []
        self._nbytes: list[int] = []
        self._cow: list[int] = []
        self._error: list[int] = []
        self._t_due: list[int] | None = [] if paced else None

    def record(self, req: Request) -> None:
        """Count the completed request ``req`` (10**8 calls in a long run: appends only)."""
        self._t_submit.append(req.t_submit)
        self._t_done.append(req.t_done)
        self._op.append(req.op)
        self._nbytes.append(req.nbytes)
        self._cow.append(req.cow_ns)
        self._error.append(req.error)
        if self._t_due is not None:
            self._t_due.append(req.t_due)  # type: ignore[attr-defined]
        if self.log is not None:
            self.log.add(req)
        if len(self._t_done) >= FLUSH:
            self.flush()

    def flush(self) -> None:
        """Count the buffered requests (the present moment is the last one's completion)."""
        if not len(self._t_done):
            return
        t_submit, t_done, op = _np(self._t_submit), _np(self._t_done), _np(self._op)
        nbytes, cow, error = _np(self._nbytes), _np(self._cow), _np(self._error)
        t_due = _np(self._t_due) if self._t_due is not None else None
        for a in (self._t_submit, self._t_done, self._op, self._nbytes, self._cow, self._error, self._t_due):
            if a is not None:
                a.clear()
        now = int(t_done[-1])
        lat = t_done - t_submit
        if int(lat.min()) < 0:
            raise ValueError("a request completed before it was submitted")
        bins = bin_indices(lat)
        self._ops += np.bincount(op, minlength=4)[:4]
        self._bytes += int(nbytes.sum())
        self._errors += int(np.count_nonzero(error))
        self.timeline.add_batch(t_done, lat, bins)
        for lat_split, sched_split in self.windows:
            lat_split.add(t_submit, now, (op, lat, bins, cow))
            if sched_split is not None and t_due is not None:
                sched_split.add(t_due, now, (t_done - t_due,))

    def close(self) -> GuestStats:
        """After the run: count what is buffered, settle the window's buckets, close the timeline's window."""
        if self.lat.closed:
            return self
        self.flush()
        for lat_split, sched_split in self.windows:
            lat_split.close()
            if sched_split is not None:
                sched_split.close()
        self.timeline.flush()
        return self

    def splits(self, start: int, end: int) -> tuple[Split, Split | None]:
        """The latency and schedule splits of the window ``[start, end)``, after the run (ValueError if not kept)."""
        self.close()
        for lat_split, sched_split in self.windows:
            if lat_split.window.final() == (start, end):
                return lat_split, sched_split
        recorded = [lat_split.window.final() for lat_split, _ in self.windows]
        raise ValueError(
            f"the baseline recorded its statistics in the windows {recorded}, not the backup's {(start, end)}: "
            "build it with Model(cfg, with_backup=False, window=backup_window(model))"
        )

    @property
    def ops(self) -> list[int]:
        """Completed requests by op code (read, write, discard, write-zeroes)."""
        self.flush()
        return [int(x) for x in self._ops]

    @property
    def bytes(self) -> int:
        self.flush()
        return self._bytes

    @property
    def errors(self) -> int:
        self.flush()
        return self._errors

    @property
    def completed(self) -> int:
        """Requests completed so far."""
        return int(self._ops.sum()) + len(self._t_done)

    def storage(self) -> int:
        """Entries stored, the log's rows aside: bounded by bins, windows and the buffer, not by requests."""
        return (
            sum(a.storage() + (b.storage() if b is not None else 0) for a, b in self.windows)
            + self.timeline.storage()
            + len(self._t_done)
        )


class WaitStats:
    """The event loop's waits of ready guest handlers (ns), split by the time each became ready."""

    def __init__(self, window: Window | None = None):
        self.split = Split(window if window is not None else Window.fixed(*FOREVER), _Hist)
        self._t: list[int] = []  # a buffer, as GuestStats's
        self._wait: list[int] = []

    def add(self, t_ready: int, wait: int) -> None:
        """A guest handler ready at ``t_ready`` waited ``wait`` ns (2-3 calls per guest request: appends only)."""
        self._t.append(t_ready)
        self._wait.append(wait)
        if len(self._t) >= FLUSH:
            self.flush()

    def flush(self) -> None:
        """Count the buffered waits (the present moment is the last one's end)."""
        if not len(self._t):
            return
        t, wait = _np(self._t), _np(self._wait)
        self._t.clear()
        self._wait.clear()
        self.split.add(t, int(t[-1] + wait[-1]), (wait,))

    def close(self) -> WaitStats:
        if not self.split.closed:
            self.flush()
            self.split.close()
        return self

    @property
    def inside(self) -> Histogram:
        """The waits of handlers ready in the window (after the run)."""
        return self.close().split.inside

    def total(self) -> Histogram:
        """Every wait recorded (after the run)."""
        s = self.close().split
        return Histogram.merged((s.pre, s.inside, s.post))

    def storage(self) -> int:
        return self.split.storage() + len(self._t)


class Recording:
    """How a model records: its window (and further windows), the timeline's window, whether it keeps every request.

    ``more`` are further fixed windows whose guest statistics are kept beside
    the first window's: a baseline shared by several backup runs records each
    run's window (:func:`sim.runner.run_group`).
    """

    def __init__(
        self,
        window: Window | None = None,
        timeline_window: int = 100 * 10**6,
        keep: bool = False,
        more: tuple[Window, ...] = (),
    ):
        self.window = window if window is not None else Window.fixed(*FOREVER)
        self.timeline_window = timeline_window
        self.keep = keep
        self.more = more

    def guest_stats(self, paced: bool = False) -> GuestStats:
        return GuestStats(self.window, self.timeline_window, self.keep, paced, self.more)

    def wait_stats(self) -> WaitStats:
        return WaitStats(self.window)
