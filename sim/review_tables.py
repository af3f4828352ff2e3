"""Numbers and Markdown tables for ``report.md`` (:mod:`sim.review`, :mod:`sim.review_modes`).

A mean with its interval shows enough digits to tell the bounds apart
(:func:`ci`); a ratio shows two decimals, or two significant digits below 0.1
(:func:`ratio`); table cells are escaped for pipe tables (:func:`md`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

__all__ = ["ci", "md", "num", "one_line", "ratio", "table", "decimals"]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def md(text: Any) -> str:
    """Text safe inside a pipe-table cell."""
    return one_line(str(text)).replace("|", "\\|")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = [
        "| " + " | ".join(md(h) for h in header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out


def decimals(x: float) -> int:
    a = abs(x)
    if a >= 100:
        return 0
    if a >= 10:
        return 1
    if a >= 1:
        return 2
    if a == 0:
        return 0
    return min(6, 2 - int(math.floor(math.log10(a))))


def num(x: Any, nd: int | None = None) -> str:
    """A number with three significant digits (thousands separated); ``n/a`` for NaN."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(x):
        return "n/a"
    d = decimals(x) if nd is None else nd
    return f"{x:,.{d}f}"


def ci(row: pd.Series, m: str, scale: float = 1.0) -> str:
    """``mean [lo, hi]`` of metric ``m`` (times ``scale``), with enough digits to show the interval."""
    v = row.get(m, math.nan) * scale
    lo, hi = row.get(f"{m}_lo", math.nan) * scale, row.get(f"{m}_hi", math.nan) * scale
    if not math.isfinite(v):
        return "n/a"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return num(v)
    width = hi - lo
    d = decimals(v)
    if width > 1e-9 * max(abs(v), 1e-300):
        d = max(d, min(4, 1 - int(math.floor(math.log10(width)))))
    return f"{num(v, d)} [{num(lo, d)}, {num(hi, d)}]"


def _ratio_num(x: float) -> str:
    return f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.2g}"


def ratio(d: dict) -> str:
    """A paired ratio (:func:`sim.analysis.paired_difference`) as ``estimate [lo, hi]``."""
    if not math.isfinite(d["estimate"]):
        return "n/a"
    if math.isfinite(d["lo"]) and math.isfinite(d["hi"]):
        return f"{_ratio_num(d['estimate'])} [{_ratio_num(d['lo'])}, {_ratio_num(d['hi'])}]"
    return _ratio_num(d["estimate"])
