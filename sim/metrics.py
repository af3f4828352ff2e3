"""Metrics of one run, derived from what it recorded (``docs/model.md`` section 14).

A run records statistics, not requests (:mod:`sim.recording`): counts, exact
sums and maxima, and latencies in log-binned histograms
(:mod:`sim.histogram`, bins at most 1/256 of their values wide).  So every
count, mean, maximum, duration and byte figure below is exact, and every
percentile is read from a histogram: within 0.4 % of the exact value
(numpy's default convention; exact below 512 ns).  ``run.keep_requests``
adds the table of every request (:func:`guest_frame`), which the summary does
not use: the summary is the same with and without it.

* Guest latency = completion - submission, so it includes loop wait, overlap
  wait, copy-before-write, device queueing and service.  Percentiles, means
  and maxima cover requests *submitted* in the backup window ``[start, end)``;
  counts cover the whole run.  This is fio's ``lat``: from the guest's issue
  to the completion.
* Schedule latency, for a paced guest only (``fio-rate``): completion - due
  time, over requests *due* in the window (``guest_sched_*``), and the I/Os
  due but never issued when the guest stopped (``guest_sched_unissued``): the
  latency the application feels, coordinated omission included.
* Backup: duration, bytes, throughput, clusters copied before a guest write
  (``cow_clusters``), the share of guest writes delayed by copy-before-write
  and their extra latency, status.  ``consistent`` (every copied cluster holds
  its data as at the start, no torn read) and ``complete`` (every cluster on
  the target or skipped as unallocated): ``good_backup`` needs both.
* Event loop: the longest and p99 wait of a ready guest handler in the window.
* A timeline in fixed windows (percentiles from each window's histogram) and
  log-binned latency histograms (``latency_hist.parquet``, exact counts).

The ``frame`` functions (:func:`latency_summary`, :func:`schedule_summary`)
compute the same figures exactly from a request table, for tests and
notebooks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .histogram import COARSE_EDGES_NS, Histogram
from .request import OP_NAMES

__all__ = [
    "guest_frame",
    "summarize",
    "add_baseline",
    "window_latency",
    "schedule_summary",
    "latency_summary",
    "timeline",
    "latency_histogram",
    "backup_window",
    "HIST_EDGES_NS",
]

#: Latency histogram bin edges: 20 per decade from 100 ns to 1000 s.
HIST_EDGES_NS = COARSE_EDGES_NS

_QUANTILES = ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999"))


def guest_frame(guest) -> pd.DataFrame:
    """One row per completed guest request, in completion order (needs ``run.keep_requests``)."""
    log = guest.stats.log
    if log is None:
        raise ValueError("no request table: the run did not keep its requests (set run.keep_requests = true)")
    t_submit = _np(log.t_submit, np.int64)
    t_done = _np(log.t_done, np.int64)
    frame = pd.DataFrame(
        {
            "index": _np(log.index, np.int64),
            "t_submit_ns": t_submit,
            "t_done_ns": t_done,
            "latency_ns": t_done - t_submit,
            "op": np.asarray(OP_NAMES)[_np(log.op, np.int8)],  # "read", "write", "discard", "write-zeroes"
            "offset": _np(log.offset, np.int64),
            "bytes": _np(log.nbytes, np.int64),
            "cow_ns": _np(log.cow_ns, np.int64),
            "error": _np(log.error, np.int8).astype(bool),
        }
    )
    if log.t_due is not None:  # a paced guest (fio-rate): when each request was due
        frame["t_due_ns"] = _np(log.t_due, np.int64)
    return frame


def _np(values, dtype) -> np.ndarray:
    """A numpy copy of an ``array.array`` (or list) of records."""
    return np.array(values, dtype=dtype)


def _pct_us(lat_ns: np.ndarray, q: float) -> float:
    if lat_ns.size == 0:
        return float("nan")
    return float(np.percentile(lat_ns, q)) / 1000.0


def window_mask(frame: pd.DataFrame, start: int, end: int) -> np.ndarray:
    t = frame["t_submit_ns"].to_numpy()
    return (t >= start) & (t < end)


def latency_summary(frame: pd.DataFrame, start: int, end: int) -> dict:
    """Guest latency percentiles (us) of requests submitted in ``[start, end)``, exactly, from a request table."""
    m = window_mask(frame, start, end)
    lat = frame["latency_ns"].to_numpy()[m]
    is_read = (frame["op"].to_numpy() == "read")[m]
    rd, wr = lat[is_read], lat[(frame["op"].to_numpy() == "write")[m]]  # not discards nor write-zeroes
    out = {}
    for name, arr in (("guest", lat), ("guest_read", rd), ("guest_write", wr)):
        for q, tag in _QUANTILES:
            out[f"{name}_{tag}_us"] = _pct_us(arr, q)
        out[f"{name}_max_us"] = float(arr.max()) / 1000.0 if arr.size else float("nan")
        out[f"{name}_mean_us"] = float(arr.mean()) / 1000.0 if arr.size else float("nan")
    span = max(end - start, 1)
    out["guest_iops"] = float(m.sum()) * 1e9 / span
    return out


def schedule_summary(frame: pd.DataFrame, start: int, end: int) -> dict:
    """Percentiles (us) of completion minus *due* time of requests due in ``[start, end)``, exactly, from a table.

    The latency the application feels, lag behind its schedule included (what
    fio's ``lat`` leaves out: coordinated omission).  Only for a frame with
    ``t_due_ns`` (a paced guest, :mod:`sim.workloads.fio_rate`); for an
    unpaced one a request is due when issued, so these equal ``guest_*``.
    """
    due = frame["t_due_ns"].to_numpy()
    m = (due >= start) & (due < end)
    lat = (frame["t_done_ns"].to_numpy() - due)[m]
    out = {}
    for q, tag in _QUANTILES:
        out[f"guest_sched_{tag}_us"] = _pct_us(lat, q)
    out["guest_sched_max_us"] = float(lat.max()) / 1000.0 if lat.size else float("nan")
    out["guest_sched_mean_us"] = float(lat.mean()) / 1000.0 if lat.size else float("nan")
    return out


# -- the same figures from the recorded histograms ---------------------------------


def _hist_stats(h: Histogram, prefix: str) -> dict:
    """Percentiles, maximum and mean (us) of one histogram: nan when it is empty."""
    out = {}
    for (_q, tag), v in zip(_QUANTILES, h.percentiles(q for q, _ in _QUANTILES)):
        out[f"{prefix}_{tag}_us"] = v / 1000.0
    out[f"{prefix}_max_us"] = float(h.max) / 1000.0 if h.n else float("nan")
    out[f"{prefix}_mean_us"] = h.total / h.n / 1000.0 if h.n else float("nan")
    return out


def guest_latency(stats, start: int, end: int) -> dict:
    """Guest latency (us) of requests submitted in the window ``[start, end)``, from a guest's statistics."""
    return window_latency(stats.close().lat.inside, start, end)


def window_latency(inside, start: int, end: int) -> dict:
    """Guest latency (us) of the requests of a window ``[start, end)`` (a :class:`~sim.recording.GuestBucket`)."""
    out = {}
    out.update(_hist_stats(inside.all(), "guest"))
    out.update(_hist_stats(inside.read, "guest_read"))
    out.update(_hist_stats(inside.write, "guest_write"))
    span = max(end - start, 1)
    n = inside.read.n + inside.write.n + inside.other.n
    out["guest_iops"] = float(n) * 1e9 / span
    return out


def guest_schedule(stats) -> dict:
    """Schedule latency (us) of requests due in the window, from a paced guest's statistics."""
    return _hist_stats(stats.close().sched.inside, "guest_sched")


def backup_window(model) -> tuple[int, int]:
    """``(start, end)`` ns of the backup (the configured start and the run's end without one)."""
    job = model.job.record if model.job is not None else None
    start = job.t_start if job is not None and job.t_start >= 0 else model.cfg.backup.start
    end = job.t_end if job is not None and job.t_end >= 0 else model.t_end
    return start, end


def summarize(model, baseline=None) -> dict:
    """The row of ``runs.parquet`` for one run (and its baseline, if any), from what they recorded."""
    job = model.job.record if model.job is not None else None
    stats = model.guest.stats.close()
    start, end = backup_window(model)
    row: dict = {}
    if job is None:
        row["status"] = "no-backup"
    elif model.timed_out and job.t_end < 0:
        row["status"] = "timeout"
    else:
        row["status"] = job.status
    row["error"] = (job.error or "") if job is not None else ""
    row["consistent"] = bool(model.oracle.consistent) if job is not None else True
    row["complete"] = bool(model.oracle.complete(job.skipped_clusters)) if job is not None else False
    # a good backup: the job completed (a failed job's target is not a backup, even if every
    # cluster landed: break-snapshot makes the snapshot unreadable), consistent and complete
    row["good_backup"] = row["consistent"] and row["complete"] and row["status"] == "completed"
    row["inconsistent_clusters"] = model.oracle.inconsistent
    row["torn_reads"] = model.oracle.torn_reads
    row["clusters_copied_twice"] = model.oracle.copied_twice
    duration = max(end - start, 0)
    row["backup_start_s"] = start / 1e9
    row["backup_end_s"] = end / 1e9
    row["backup_duration_s"] = duration / 1e9
    copied = job.progress if job is not None else 0
    row["backup_bytes"] = copied
    row["backup_throughput_mib_s"] = (copied / (1 << 20)) / (duration / 1e9) if duration else 0.0
    row["backup_clusters"] = job.n if job is not None else 0
    row["cow_clusters"] = job.cow_count if job is not None else 0
    row["cow_errors"] = job.cow_errors if job is not None else 0
    row["target_bytes"] = job.target_bytes if job is not None else 0
    row["zero_clusters"] = job.zero_clusters if job is not None else 0
    row["skipped_clusters"] = job.skipped_clusters if job is not None else 0
    row["copy_tasks"] = job.tasks if job is not None else 0
    row["copy_retries"] = job.retries if job is not None else 0
    row["peak_in_flight_bytes"] = job.peak_in_flight_bytes if job is not None else 0
    row["fleece_peak_bytes"] = job.fleece_peak_bytes if job is not None else 0
    row["snapshot_broken"] = bool(job.snapshot_broken) if job is not None else False
    ops = stats.ops  # by op code: read, write, discard, write-zeroes
    row["guest_ops"] = int(sum(ops))
    row["guest_read_ops"] = int(ops[0])
    row["guest_write_ops"] = int(ops[1])
    row["guest_discard_ops"] = int(ops[2])
    row["guest_write_zeroes_ops"] = int(ops[3])
    row["guest_bytes"] = int(stats.bytes)
    row["guest_errors"] = int(stats.errors)
    row.update(guest_latency(stats, start, end))
    paced = stats.sched is not None  # only a paced guest's runs have the schedule columns
    if paced:
        row.update(guest_schedule(stats))
        row["guest_sched_unissued"] = int(getattr(model.guest, "unissued", None) or 0)
    inside = stats.lat.inside
    writes, delayed = inside.write.n, inside.cow  # writes submitted in the window, those copy-before-write delayed
    row["cow_delayed_share"] = float(delayed.n / writes) if writes else 0.0
    row["cow_extra_mean_us"] = delayed.total / delayed.n / 1000.0 if delayed.n else 0.0
    row["cow_extra_p99_us"] = delayed.percentile(99) / 1000.0 if delayed.n else 0.0
    waits = model.loop.waits.inside
    row["loop_wait_max_us"] = float(waits.max) / 1000.0 if waits.n else 0.0
    row["loop_wait_p99_us"] = waits.percentile(99) / 1000.0 if waits.n else 0.0
    row["loop_iterations"] = model.loop.iterations
    row["loop_busy_share"] = model.loop.busy_ns / model.t_end if model.t_end else 0.0
    row["overlap_waits"] = model.blk.overlap_waits
    row["disk_mean_in_system"] = model.disk.mean_in_system
    row["sim_time_s"] = model.t_end / 1e9
    for k in ("baseline_guest_p50_us", "baseline_guest_p99_us", "baseline_guest_p999_us", "baseline_guest_iops"):
        row[k] = float("nan")
    row["slowdown_p99"] = float("nan")
    if paced:
        for tag in ("p50", "p99", "p999"):
            row[f"baseline_guest_sched_{tag}_us"] = float("nan")
    if baseline is not None:
        add_baseline(row, baseline, start, end)
    return row


def add_baseline(row: dict, baseline, start: int, end: int) -> dict:
    """Fill a run's baseline columns from its baseline's statistics in the window ``[start, end)``; returns ``row``.

    ``baseline`` may be shared by several runs (:func:`sim.runner.run_group`):
    it recorded each run's window, and this reads the one of ``[start, end)``.
    """
    blat, bsched = baseline.guest.stats.splits(start, end)
    base = window_latency(blat.inside, start, end)
    row["baseline_guest_p50_us"] = base["guest_p50_us"]
    row["baseline_guest_p99_us"] = base["guest_p99_us"]
    row["baseline_guest_p999_us"] = base["guest_p999_us"]
    row["baseline_guest_iops"] = base["guest_iops"]
    p99 = base["guest_p99_us"]
    row["slowdown_p99"] = row["guest_p99_us"] / p99 if p99 and p99 == p99 else float("nan")
    if bsched is not None:  # a paced guest (its runs have the schedule columns)
        sched = _hist_stats(bsched.inside, "guest_sched")
        for tag in ("p50", "p99", "p999"):
            row[f"baseline_guest_sched_{tag}_us"] = sched[f"guest_sched_{tag}_us"]
    return row


def timeline(model, window: int) -> pd.DataFrame:
    """Per window of ``window`` ns: guest IOPS and latency, backup bytes copied so far."""
    tl = model.guest.stats.close().timeline
    if tl.window != window:
        raise ValueError(f"the run recorded its timeline in windows of {tl.window} ns, not {window}")
    nwin = max(1, -(-model.t_end // window))
    t0 = np.arange(nwin, dtype=np.int64) * window
    out = pd.DataFrame({"t_s": t0 / 1e9})
    counts = _per_window(tl.counts, nwin, np.int64, 0)
    out["guest_iops"] = counts * (1e9 / window)
    out["guest_p50_us"] = _per_window(tl.p50, nwin, np.float64, math.nan) / 1000.0
    out["guest_p99_us"] = _per_window(tl.p99, nwin, np.float64, math.nan) / 1000.0
    job = model.job.record if model.job is not None else None
    if job is not None and job.copies:
        if job.window != window:
            raise ValueError(f"the job counted its copies in windows of {job.window} ns, not {window}")
        out["backup_bytes"] = np.cumsum(_per_window(job.copies_per_window, nwin, np.int64, 0)) * job.cluster_size
        out["cow_copies"] = _per_window(job.cow_per_window, nwin, np.int64, 0)
    else:
        out["backup_bytes"] = 0
        out["cow_copies"] = 0
    return out


def _per_window(values, nwin: int, dtype, fill) -> np.ndarray:
    """The first ``nwin`` entries of a per-window array, padded with ``fill``."""
    a = np.full(nwin, fill, dtype=dtype)
    v = np.asarray(values, dtype=dtype)[:nwin]
    a[: v.size] = v
    return a


def latency_histogram(model) -> pd.DataFrame:
    """Counts of guest latencies in the backup window per op, in :data:`HIST_EDGES_NS` bins."""
    inside = model.guest.stats.close().lat.inside
    rows = []
    edges = HIST_EDGES_NS
    for op, h in (("read", inside.read), ("write", inside.write)):
        counts = h.coarse_counts()
        rows.append(pd.DataFrame({"op": op, "lo_ns": edges[:-1], "hi_ns": edges[1:], "count": counts}))
    return pd.concat(rows, ignore_index=True)
