"""Metrics of one run, derived from the raw records after the run (``docs/model.md`` section 14).

* Guest latency = completion - submission, so it includes loop wait, overlap
  wait, copy-before-write, device queueing and service.  Percentiles cover
  requests *submitted* in the backup window ``[start, end)``; counts cover the
  whole run.  Percentiles use numpy's default (linear interpolation).
  This is fio's ``lat``: from the guest's issue to the completion.
* Schedule latency, for a paced guest only (``fio-rate``, whose frame has
  ``t_due_ns``): completion - due time, over requests *due* in the window
  (``guest_sched_*``), and the I/Os due but never issued when the guest
  stopped (``guest_sched_unissued``): the latency the application feels,
  coordinated omission included.
* Backup: duration, bytes, throughput, clusters copied before a guest write
  (``cow_clusters``), the share of guest writes delayed by copy-before-write
  and their extra latency, status.  ``consistent`` (every copied cluster holds
  its data as at the start, no torn read) and ``complete`` (every cluster on
  the target or skipped as unallocated): ``good_backup`` needs both.
* Event loop: the longest and p99 wait of a ready guest handler in the window.
* A timeline in fixed windows and log-binned latency histograms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .request import OP_NAMES

__all__ = ["guest_frame", "summarize", "schedule_summary", "timeline", "latency_histogram", "HIST_EDGES_NS"]

#: Latency histogram bin edges: 20 per decade from 100 ns to 1000 s.
HIST_EDGES_NS = np.unique(np.round(np.logspace(2, 12, 201)).astype(np.int64))


def guest_frame(guest) -> pd.DataFrame:
    """One row per completed guest request, in completion order."""
    t_submit = _np(guest.t_submit, np.int64)
    t_done = _np(guest.t_done, np.int64)
    frame = pd.DataFrame(
        {
            "index": _np(guest.index, np.int64),
            "t_submit_ns": t_submit,
            "t_done_ns": t_done,
            "latency_ns": t_done - t_submit,
            "op": np.asarray(OP_NAMES)[_np(guest.op, np.int8)],  # "read", "write", "discard", "write-zeroes"
            "offset": _np(guest.offset, np.int64),
            "bytes": _np(guest.nbytes, np.int64),
            "cow_ns": _np(guest.cow_ns, np.int64),
            "error": _np(guest.error, np.int8).astype(bool),
        }
    )
    t_due = getattr(guest, "t_due", None)
    if t_due is not None:  # a paced guest (fio-rate): when each request was due, for schedule_summary
        frame["t_due_ns"] = _np(t_due, np.int64)
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
    """Guest latency percentiles (us) of requests submitted in ``[start, end)``."""
    m = window_mask(frame, start, end)
    lat = frame["latency_ns"].to_numpy()[m]
    is_read = (frame["op"].to_numpy() == "read")[m]
    rd, wr = lat[is_read], lat[(frame["op"].to_numpy() == "write")[m]]  # not discards nor write-zeroes
    out = {}
    for name, arr in (("guest", lat), ("guest_read", rd), ("guest_write", wr)):
        for q, tag in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999")):
            out[f"{name}_{tag}_us"] = _pct_us(arr, q)
        out[f"{name}_max_us"] = float(arr.max()) / 1000.0 if arr.size else float("nan")
        out[f"{name}_mean_us"] = float(arr.mean()) / 1000.0 if arr.size else float("nan")
    span = max(end - start, 1)
    out["guest_iops"] = float(m.sum()) * 1e9 / span
    return out


def schedule_summary(frame: pd.DataFrame, start: int, end: int) -> dict:
    """Percentiles (us) of completion minus *due* time of requests due in ``[start, end)``.

    The latency the application feels, lag behind its schedule included (what
    fio's ``lat`` leaves out: coordinated omission).  Only for a frame with
    ``t_due_ns`` (a paced guest, :mod:`sim.workloads.fio_rate`); for an
    unpaced one a request is due when issued, so these equal ``guest_*``.
    """
    due = frame["t_due_ns"].to_numpy()
    m = (due >= start) & (due < end)
    lat = (frame["t_done_ns"].to_numpy() - due)[m]
    out = {}
    for q, tag in ((50, "p50"), (90, "p90"), (99, "p99"), (99.9, "p999")):
        out[f"guest_sched_{tag}_us"] = _pct_us(lat, q)
    out["guest_sched_max_us"] = float(lat.max()) / 1000.0 if lat.size else float("nan")
    out["guest_sched_mean_us"] = float(lat.mean()) / 1000.0 if lat.size else float("nan")
    return out


def backup_window(model) -> tuple[int, int]:
    """``(start, end)`` ns of the backup (the configured start and the run's end without one)."""
    job = model.job.record if model.job is not None else None
    start = job.t_start if job is not None and job.t_start >= 0 else model.cfg.backup.start
    end = job.t_end if job is not None and job.t_end >= 0 else model.t_end
    return start, end


def summarize(model, baseline=None, frame: pd.DataFrame | None = None) -> dict:
    """The row of ``runs.parquet`` for one run (and its baseline, if any)."""
    job = model.job.record if model.job is not None else None
    frame = guest_frame(model.guest) if frame is None else frame
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
    row["inconsistent_clusters"] = len(model.oracle.mismatched)
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
    ops = frame["op"].to_numpy()
    row["guest_ops"] = int(len(frame))
    row["guest_read_ops"] = int((ops == "read").sum())
    row["guest_write_ops"] = int((ops == "write").sum())
    row["guest_discard_ops"] = int((ops == "discard").sum())
    row["guest_write_zeroes_ops"] = int((ops == "write-zeroes").sum())
    row["guest_bytes"] = int(frame["bytes"].sum())
    row["guest_errors"] = int(frame["error"].sum())
    row.update(latency_summary(frame, start, end))
    paced = "t_due_ns" in frame.columns  # only a paced guest's runs have the schedule columns
    if paced:
        row.update(schedule_summary(frame, start, end))
        row["guest_sched_unissued"] = int(getattr(model.guest, "unissued", None) or 0)
    m = window_mask(frame, start, end) & (ops == "write")
    cow = frame["cow_ns"].to_numpy()[m]
    delayed = cow[cow > 0]
    row["cow_delayed_share"] = float(delayed.size / cow.size) if cow.size else 0.0
    row["cow_extra_mean_us"] = float(delayed.mean()) / 1000.0 if delayed.size else 0.0
    row["cow_extra_p99_us"] = _pct_us(delayed, 99) if delayed.size else 0.0
    wt = _np(model.loop.guest_wait_t, np.int64)
    wn = _np(model.loop.guest_wait_ns, np.int64)
    wm = (wt >= start) & (wt < end)
    row["loop_wait_max_us"] = float(wn[wm].max()) / 1000.0 if wm.any() else 0.0
    row["loop_wait_p99_us"] = _pct_us(wn[wm], 99) if wm.any() else 0.0
    row["loop_iterations"] = model.loop.iterations
    row["loop_busy_share"] = model.loop.busy_ns / model.t_end if model.t_end else 0.0
    row["overlap_waits"] = model.blk.overlap_waits
    row["disk_mean_in_system"] = model.disk.mean_in_system
    row["sim_time_s"] = model.t_end / 1e9
    if baseline is not None:
        bframe = guest_frame(baseline.guest)
        base = latency_summary(bframe, start, end)
        row["baseline_guest_p50_us"] = base["guest_p50_us"]
        row["baseline_guest_p99_us"] = base["guest_p99_us"]
        row["baseline_guest_p999_us"] = base["guest_p999_us"]
        row["baseline_guest_iops"] = base["guest_iops"]
        p99 = base["guest_p99_us"]
        row["slowdown_p99"] = row["guest_p99_us"] / p99 if p99 and p99 == p99 else float("nan")
    else:
        for k in (
            "baseline_guest_p50_us",
            "baseline_guest_p99_us",
            "baseline_guest_p999_us",
            "baseline_guest_iops",
            "slowdown_p99",
        ):
            row[k] = float("nan")
    if paced:
        bsched = schedule_summary(bframe, start, end) if baseline is not None else {}
        for tag in ("p50", "p99", "p999"):
            row[f"baseline_guest_sched_{tag}_us"] = bsched.get(f"guest_sched_{tag}_us", float("nan"))
    return row


def timeline(model, window: int, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per window of ``window`` ns: guest IOPS and latency, backup bytes copied so far."""
    frame = guest_frame(model.guest) if frame is None else frame
    nwin = max(1, -(-model.t_end // window))
    t0 = np.arange(nwin, dtype=np.int64) * window
    out = pd.DataFrame({"t_s": t0 / 1e9})
    b = (frame["t_done_ns"].to_numpy() // window).astype(np.int64)
    counts = np.bincount(b, minlength=nwin)[:nwin]
    out["guest_iops"] = counts * (1e9 / window)
    lat = pd.Series(frame["latency_ns"].to_numpy() / 1000.0)
    g = lat.groupby(b)
    for q, tag in ((0.5, "p50"), (0.99, "p99")):
        out[f"guest_{tag}_us"] = g.quantile(q).reindex(range(nwin)).to_numpy()
    job = model.job.record if model.job is not None else None
    if job is not None and job.copy_t:
        ct = _np(job.copy_t, np.int64)
        ends = t0 + window
        out["backup_bytes"] = np.searchsorted(ct, ends, side="left") * job.cluster_size
        cw = _np(job.copy_cow, np.int8).astype(bool)
        cb = (ct[cw] // window).astype(np.int64)
        out["cow_copies"] = np.bincount(cb, minlength=nwin)[:nwin] if cb.size else 0
    else:
        out["backup_bytes"] = 0
        out["cow_copies"] = 0
    return out


def latency_histogram(model, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts of guest latencies in the backup window per op, in :data:`HIST_EDGES_NS` bins."""
    frame = guest_frame(model.guest) if frame is None else frame
    m = window_mask(frame, *backup_window(model))
    rows = []
    edges = HIST_EDGES_NS
    for op in ("read", "write"):
        lat = frame["latency_ns"].to_numpy()[m & (frame["op"].to_numpy() == op)]
        counts, _ = np.histogram(np.clip(lat, edges[0], edges[-1] - 1), bins=edges)
        rows.append(pd.DataFrame({"op": op, "lo_ns": edges[:-1], "hi_ns": edges[1:], "count": counts}))
    return pd.concat(rows, ignore_index=True)
