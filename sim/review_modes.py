"""The report's answers for today's backups: workers, fleecing, a speed limit, 2013 against today.

:func:`modes_section` adds to ``report.md`` (:mod:`sim.review`) the questions a
design review of a modern backup asks, when the batch sweeps ``backup.mode``
over the block-copy modes (``scenarios/modern-review.toml``):

* **How many workers?** Each worker count against the mode's default (64 for
  ``block-copy``, QEMU's ``x-perf.max-workers``; 16 for ``proxmox``), same
  target and fleecing;
* **Does fleecing help?** Fleecing on against off, same mode, workers and target;
* **Does a speed limit help?** ``rate-limit`` against no pacing, same mode and target;
* **2013 against today**: each mode at its defaults against the 2013 job, per target.

Every comparison pairs the two sweep points replication by replication (the
same seed gives the same guest: :func:`sim.analysis.paired_difference`) and
reports the geometric mean of the ratios with its 95 % interval.  The
sentences under each table are written from those numbers.  To add a question,
add a function that returns its lines and call it from :func:`modes_section`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from . import analysis
from .review_tables import ci, ratio, table

__all__ = ["modes_section", "modern_batch", "DEFAULT_WORKERS", "QUESTION_TODAY"]

#: Each modern mode's own worker count (``backup.max_workers`` default).
DEFAULT_WORKERS = {"block-copy": 64, "proxmox": 16}

MODERN = tuple(DEFAULT_WORKERS)

#: The question as a 2026 review asks it (shown when the batch runs a modern mode).
QUESTION_TODAY = (
    "Nobody runs the 2013 job today. Since QEMU 6.0 the backup is one asynchronous block-copy call under a "
    "copy-before-write filter, with up to 64 parallel workers copying chunks of 1 MiB or more, and Proxmox VE "
    "backs up to its backup server with 4 MiB clusters, 16 workers and one upload at a time, optionally "
    "fleecing to a local image. The same question stands: how much does each of these cost the guest, and "
    "what do fewer workers, fleecing or a speed limit buy, at what backup time?"
)


def modern_batch(agg: pd.DataFrame) -> bool:
    """Does the batch run a modern mode (``block-copy`` or ``proxmox``)?"""
    if "backup.mode" not in agg.columns:
        return False
    return bool(set(agg["backup.mode"].dropna().astype(str)) & set(MODERN))


def modes_section(res: analysis.Results, agg: pd.DataFrame) -> list[str]:
    """The report's lines for today's backups (empty unless the batch sweeps a modern mode)."""
    if not modern_batch(agg):
        return []
    lines = [
        "",
        "**Today's backups: the review's question asked again**",
        "",
        "Ratios pair the two sweep points replication by replication (same seed, same guest requests) "
        "and give the geometric mean with its 95% interval; a ratio below 1 means less. "
        "Guest latencies are over the requests submitted during the backup.",
    ]
    lines += _workers(res, agg)
    lines += _fleecing(res, agg)
    lines += _speed_limit(res, agg)
    lines += _then_and_now(res, agg)
    return lines


# ------------------------------------------------------------------- helpers


def _val(row: pd.Series, key: str) -> Any:
    v = row.get(key)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _policy(row: pd.Series) -> str:
    return str(_val(row, "policy.name") or "none")


def _workers_of(row: pd.Series) -> int | None:
    mode = str(_val(row, "backup.mode"))
    w = _val(row, "backup.max_workers")
    if w is not None:
        return int(w)
    return DEFAULT_WORKERS.get(mode)


def _fleecing_of(row: pd.Series) -> bool:
    v = _val(row, "backup.fleecing")
    return bool(v) if v is not None else False


def _target(row: pd.Series) -> str:
    for key in ("target.profile", "target.model"):
        v = _val(row, key)
        if v is not None:
            return str(v)
    return "the target"


def _ratio(res: analysis.Results, a: int, b: int, metric: str) -> dict:
    return analysis.paired_difference(res.runs, a, b, metric, ratio=True)


def _eff(row: pd.Series, key: str) -> Any:
    """A swept value as in force: a mode's workers and fleecing when the point left them unset."""
    if key == "backup.max_workers":
        return _workers_of(row)
    if key == "backup.fleecing":
        return _fleecing_of(row)
    if key == "policy.name":
        return _policy(row)
    return _val(row, key)


def _find(agg: pd.DataFrame, like: int, **changes: Any) -> int | None:
    """The sweep point equal to ``like`` in every swept key but ``changes`` (None: none such)."""
    ref = agg.loc[like]
    swept = analysis.swept_columns(agg.reset_index())
    for p, row in agg.iterrows():
        ok = True
        for k in swept:
            want = changes[k] if k in changes else _eff(ref, k)
            have = _eff(row, k)
            if want is None or have is None:
                ok = want is None and have is None
            else:
                ok = _same(have, want)
            if not ok:
                break
        if ok and int(p) != like:
            return int(p)
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal swept values (a count read back as a float equals the int)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return str(a) == str(b)


def _order(ratio: dict, more: str = "higher", less: str = "lower") -> str:
    """A few words for a ratio: how many times ``more`` / ``less``, or no clear difference."""
    est, lo, hi = ratio["estimate"], ratio["lo"], ratio["hi"]
    if not math.isfinite(est) or est <= 0:
        return "not comparable"
    if math.isfinite(lo) and math.isfinite(hi) and lo <= 1.0 <= hi:
        return "no clear difference"
    if abs(math.log(est)) < 0.05:
        return "about the same"
    return f"{est:.2g}x {more}" if est > 1 else f"{1 / est:.2g}x {less}"


# ------------------------------------------------------------------ questions


def _workers(res: analysis.Results, agg: pd.DataFrame) -> list[str]:
    if "backup.max_workers" not in agg.columns:
        return []
    rows, notes = [], []
    for p, row in agg.iterrows():
        mode = str(_val(row, "backup.mode"))
        if mode not in MODERN or _policy(row) != "none":
            continue
        w = _workers_of(row)
        default = DEFAULT_WORKERS[mode]
        if w is None or w == default:
            continue
        q = _find(agg, int(p), **{"backup.max_workers": default})
        if q is None:
            continue
        dur = _ratio(res, int(p), q, "backup_duration_s")
        p50 = _ratio(res, int(p), q, "guest_p50_us")
        p99 = _ratio(res, int(p), q, "guest_p99_us")
        fl = "fleecing" if _fleecing_of(row) else "no fleecing"
        rows.append(
            [
                mode,
                _target(row),
                fl,
                f"{w} vs {default}",
                ci(row, "backup_duration_s"),
                ratio(dur),
                ratio(p50),
                ratio(p99),
            ]
        )
        if w == 1:
            notes.append(
                f"- {mode} to {_target(row)}, {fl}: one worker instead of {default}: guest p99 "
                f"{_order(p99)}, p50 {_order(p50)}; backup duration {_order(dur, 'longer', 'shorter')}."
            )
    if not rows:
        return []
    lines = ["", "*How many workers?* Each worker count against the mode's default (ratios: fewer over default).", ""]
    lines += table(
        [
            "mode",
            "target",
            "fleecing",
            "workers",
            "backup (s)",
            "duration ratio",
            "guest p50 ratio",
            "guest p99 ratio",
        ],
        rows,
    )
    return lines + ([""] + notes if notes else [])


def _fleecing(res: analysis.Results, agg: pd.DataFrame) -> list[str]:
    if "backup.fleecing" not in agg.columns:
        return []
    rows, notes = [], []
    for p, row in agg.iterrows():
        mode = str(_val(row, "backup.mode"))
        if mode not in MODERN or not _fleecing_of(row):
            continue
        q = _find(agg, int(p), **{"backup.fleecing": False})
        if q is None:
            continue
        dur = _ratio(res, int(p), q, "backup_duration_s")
        p99 = _ratio(res, int(p), q, "guest_p99_us")
        w = _workers_of(row)
        rows.append(
            [
                mode,
                _target(row),
                str(w),
                _policy(row),
                ratio(p99),
                ratio(dur),
                ci(row, "fleece_peak_bytes", 1 / (1 << 20)),
            ]
        )
        if w == DEFAULT_WORKERS[mode] and _policy(row) == "none":
            notes.append(
                f"- {mode} ({w} workers) to {_target(row)}: with fleecing, guest p99 {_order(p99)}; "
                f"backup duration {_order(dur, 'longer', 'shorter')}."
            )
    if not rows:
        return []
    lines = ["", "*Does fleecing help?* Fleecing on against off (ratios: on over off).", ""]
    lines += table(
        ["mode", "target", "workers", "policy", "guest p99 ratio", "duration ratio", "fleecing image peak (MiB)"],
        rows,
    )
    return lines + ([""] + notes if notes else [])


def _speed_limit(res: analysis.Results, agg: pd.DataFrame) -> list[str]:
    if "policy.name" not in agg.columns:
        return []
    rows: list[list[str]] = []
    notes: list[str] = []
    for p, row in agg.iterrows():
        mode = str(_val(row, "backup.mode"))
        if _policy(row) != "rate-limit":
            continue
        changes: dict[str, Any] = {"policy.name": "none"}
        for k in agg.columns:
            if k.startswith("policy.") and k != "policy.name":
                changes[k] = None
        q = _find(agg, int(p), **changes)
        if q is None:
            continue
        dur = _ratio(res, int(p), q, "backup_duration_s")
        p99 = _ratio(res, int(p), q, "guest_p99_us")
        speed = _val(row, "policy.speed")
        rows.append([mode, _target(row), str(speed), ratio(p99), ratio(dur)])
        notes.append(
            f"- {mode} to {_target(row)}: a speed limit of {speed}: guest p99 {_order(p99)}; "
            f"backup duration {_order(dur, 'longer', 'shorter')}."
        )
    if not rows:
        return []
    lines = [
        "",
        "*Does a speed limit help?* `rate-limit` against no pacing (ratios: limited over unlimited). "
        "On the block-copy modes the limit charges copy-before-write but never delays it.",
        "",
    ]
    return lines + table(["mode", "target", "speed", "guest p99 ratio", "duration ratio"], rows) + [""] + notes


def _then_and_now(res: analysis.Results, agg: pd.DataFrame) -> list[str]:
    rows: list[list[str]] = []
    notes: list[str] = []
    for p, row in agg.iterrows():
        if str(_val(row, "backup.mode")) != "seed-2013" or _policy(row) != "none":
            continue
        for mode in MODERN:
            changes: dict[str, Any] = {"backup.mode": mode}
            if "backup.max_workers" in agg.columns:
                changes["backup.max_workers"] = DEFAULT_WORKERS[mode]
            if "backup.fleecing" in agg.columns:
                changes["backup.fleecing"] = False
            q = _find(agg, int(p), **changes)
            if q is None and "backup.max_workers" in changes:
                changes["backup.max_workers"] = None
                q = _find(agg, int(p), **changes)
            if q is None:
                continue
            dur = _ratio(res, q, int(p), "backup_duration_s")
            p99 = _ratio(res, q, int(p), "guest_p99_us")
            rows.append(
                [
                    _target(row),
                    f"{mode} ({DEFAULT_WORKERS[mode]} workers)",
                    ci(agg.loc[q], "backup_duration_s"),
                    ratio(dur),
                    ci(agg.loc[q], "guest_p99_us"),
                    ratio(p99),
                ]
            )
            notes.append(
                f"- to {_target(row)}: {mode} against the 2013 job: guest p99 {_order(p99)}; "
                f"backup duration {_order(dur, 'longer', 'shorter')}."
            )
    if not rows:
        return []
    lines = [
        "",
        "*2013 against today*: each mode at its defaults, no fleecing, no pacing, against the 2013 job "
        "(ratios: today over 2013).",
        "",
    ]
    return lines + table(["target", "mode", "backup (s)", "duration ratio", "guest p99 (µs)", "guest p99 ratio"], rows)
