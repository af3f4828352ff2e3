"""The shared look of backupsim figures: palette, policy colours, fonts, captions, saving.

* Colours come from the Okabe-Ito palette (safe for the common colour-vision
  deficiencies).  Each policy has a fixed colour, so a policy looks the same
  in every figure of every report; other sweep dimensions (loop era, policy
  parameters, workload) change the line style and marker, not the colour.
* Figures are built as :class:`matplotlib.figure.Figure` objects on the Agg
  canvas, never through ``pyplot``'s global state, so library code works in
  worker processes, tests and notebooks alike.
* :func:`stamp` writes a footer naming the scenario and its hash;
  :func:`save` writes a PNG atomically and without a timestamp or version in
  its metadata, so the same data gives the same bytes.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..files import atomic_write

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "OKABE_ITO",
    "POLICY_COLORS",
    "SEQUENCE",
    "LINESTYLES",
    "MARKERS",
    "RC",
    "context",
    "new_figure",
    "log_axis",
    "thousands",
    "policy_color",
    "point_styles",
    "stamp",
    "caption_text",
    "save",
]

#: Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}

#: The policy -> colour mapping used by every figure.
POLICY_COLORS = {
    "none": OKABE_ITO["blue"],
    "fixed-sleep": OKABE_ITO["vermillion"],
    "rate-limit": OKABE_ITO["bluish green"],
    "idle-only": OKABE_ITO["orange"],
    "hybrid": OKABE_ITO["reddish purple"],
    "idle-class": OKABE_ITO["sky blue"],
    "latency-target": OKABE_ITO["black"],
    "deadline": "#B8A200",  # Okabe-Ito yellow, darkened to be visible on white
}
_SPARE = ["#595959", "#8C564B", "#17BECF", "#7F7F00", "#9467BD", "#A0A0A0"]
#: Colours for points when all of them share one policy (Okabe-Ito order, yellow last).
SEQUENCE = [
    OKABE_ITO[k] for k in ("blue", "vermillion", "bluish green", "orange", "reddish purple", "sky blue", "black")
] + ["#B8A200"]

LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

#: Font sizes and defaults, applied while a figure is built.
RC: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "figure.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "savefig.dpi": 150,
    "svg.hashsalt": "backupsim",
}

FOOTER_IN = 0.22  # height of the footer strip (inches)

_FOOTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def context() -> Iterator[None]:
    """Apply :data:`RC` while building a figure (fonts are fixed when artists are made)."""
    with mpl.rc_context(RC):
        yield


def new_figure(width: float, height: float, **subplots) -> tuple[Figure, SubFigure, Any]:
    """A figure on the Agg canvas with a footer strip, its content panel and the panel's axes.

    The content panel is a constrained-layout sub-figure: put suptitles and
    figure legends (``loc="outside ..."``) on it; :func:`stamp` writes into the
    strip below it, so legends and the footer never overlap.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    (panel,), (footer,) = fig.subfigures(2, 1, squeeze=False, height_ratios=[height - FOOTER_IN, FOOTER_IN], hspace=0)
    _FOOTERS[fig] = footer
    return fig, panel, panel.subplots(**subplots)


def log_axis(ax, which: str = "x") -> None:
    """A log scale with plain-number ticks (1, 2, 5 per decade when it spans few decades)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    lim = ax.get_xlim() if which == "x" else ax.get_ylim()
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    if ax.get_autoscalex_on() if which == "x" else ax.get_autoscaley_on():
        lim = ax.get_xlim() if which == "x" else ax.get_ylim()
    else:  # limits set by the caller: keep them
        (ax.set_xlim if which == "x" else ax.set_ylim)(*lim)
    lo, hi = lim
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 10
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 3.5 else (1.0,)))
    axis.set_minor_locator(LogLocator(base=10, subs=[float(k) for k in range(1, 10)]))
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(NullFormatter())


def _thousands(v: float, _pos=None) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:g}"


#: A tick formatter with thousands separators (``40,000``) for linear axes.
thousands = FuncFormatter(_thousands)


def _plain(v: float, _pos=None) -> str:
    if v >= 1:
        return f"{v:,.0f}"
    return f"{v:.6f}".rstrip("0").rstrip(".")


def policy_color(name: str | None, fallback_index: int = 0) -> str:
    """The colour of a policy; unknown policies get a spare colour by ``fallback_index``."""
    if name in POLICY_COLORS:
        return POLICY_COLORS[name]
    return _SPARE[fallback_index % len(_SPARE)]


def point_styles(points: pd.DataFrame) -> dict[int, dict]:
    """Per sweep point (index of ``points``): ``color``, ``linestyle``, ``marker``.

    Colour follows ``policy.name``; the other swept values pick the line style
    and marker (the same values get the same style across policies).  When all
    points share one policy, colour follows those other values instead.  A batch
    that sweeps ``backup.mode`` colours by mode and policy together (a mode with
    no pacing is the mode's own colour).
    """
    pol = points["policy.name"] if "policy.name" in points.columns else pd.Series(None, index=points.index)
    if "backup.mode" in points.columns and points["backup.mode"].nunique() > 1:
        return _mode_styles(points, pol)
    others = [c for c in points.columns if "." in c and c != "policy.name"]
    variant_keys = (
        [tuple(str(v) for v in row) for row in points[others].itertuples(index=False)] if others else [()] * len(points)
    )
    variants: list[tuple] = []
    for v in variant_keys:
        if v not in variants:
            variants.append(v)
    unknown = [n for n in dict.fromkeys(pol.tolist()) if n not in POLICY_COLORS]
    one_policy = pol.nunique(dropna=False) <= 1
    out = {}
    for (p, name), v in zip(pol.items(), variant_keys):
        k = variants.index(v)
        if one_policy and len(variants) > 1:  # colour tells the variants apart
            color = SEQUENCE[k % len(SEQUENCE)]
            k_style = 0 if len(variants) <= len(SEQUENCE) else k
        else:
            color = policy_color(name, unknown.index(name) if name in unknown else 0)
            k_style = k
        out[p] = {
            "color": color,
            "linestyle": LINESTYLES[k_style % len(LINESTYLES)],
            "marker": MARKERS[k_style % len(MARKERS)],
        }
    return out


def _mode_styles(points: pd.DataFrame, pol: pd.Series) -> dict[int, dict]:
    """Colour by (mode, policy); line style and marker by the other swept values."""
    keys = [(str(m), "none" if not isinstance(n, str) else n) for m, n in zip(points["backup.mode"], pol.tolist())]
    colours = list(dict.fromkeys(keys))
    others = [c for c in points.columns if "." in c and c not in ("policy.name", "backup.mode")]
    variants = [tuple(str(v) for v in row) for row in points[others].itertuples(index=False)] if others else []
    order = list(dict.fromkeys(variants))
    out = {}
    for i, p in enumerate(points.index):
        k = order.index(variants[i]) if variants else 0
        out[p] = {
            "color": SEQUENCE[colours.index(keys[i]) % len(SEQUENCE)],
            "linestyle": LINESTYLES[k % len(LINESTYLES)],
            "marker": MARKERS[k % len(MARKERS)],
        }
    return out


def caption_text(name: str, scenario_hash: str, extra: str = "") -> str:
    """The footer text: scenario name and hash (and ``extra``)."""
    text = f"backupsim | scenario {name} | hash {scenario_hash}"
    return f"{text} | {extra}" if extra else text


def stamp(fig: Figure, text: str) -> Figure:
    """Write ``text`` (see :func:`caption_text`) as a small footer at the bottom left."""
    footer = _FOOTERS.get(fig)
    if footer is not None:
        footer.text(0.005, 0.5, text, ha="left", va="center", fontsize=7, color="0.35")
    else:
        fig.text(0.005, 0.005, text, ha="left", va="bottom", fontsize=7, color="0.35")
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write ``fig`` as a PNG at ``path``, atomically, with no software/time metadata."""
    path = Path(path)
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=dpi, metadata={"Software": None}))
    return path
