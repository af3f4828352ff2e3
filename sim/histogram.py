"""A fixed log-binned histogram of non-negative integer nanoseconds (HDR-style).

A run of a 1 TiB disk completes about 10**8 guest requests: their latencies
cannot all be kept, so :mod:`sim.recording` counts them into
:class:`Histogram` objects whose size depends on the range of the values, not
on how many there are.

**Bins.**  Values below 512 ns (:data:`EXACT`) have a bin each.  From there
every power of two ``[2**k, 2**(k+1))`` is cut into 256 (:data:`SUB`) bins of
equal width ``2**(k-8)``, so a bin is never wider than 1/256 (0.39 %) of the
values in it.  The bin of a value costs one ``int.bit_length`` and a shift
(:func:`bin_index`); values up to 1000 s use about 8 700 bins, kept up to the
largest bin seen: a Python list for values added one at a time
(:meth:`Histogram.add`, pure Python int operations), a numpy array for values
added by the array (:meth:`Histogram.add_array`, what a run's buffers do).

**Accuracy.**  :meth:`Histogram.percentile` follows numpy's default
(``method="linear"``): rank ``h = q/100 * (n-1)``, the two order statistics
around it and a linear interpolation between them.  An order statistic is read
from its bin by spreading the bin's values evenly over its width (exact below
512 ns, and the largest is the exact maximum), so it is within the bin's width
of the true one: every percentile is within 0.39 % (relative) of numpy's on
the same values, and equal to it when the values involved lie below 512 ns.
Count, sum, mean and maximum are exact.

**The coarse layout.**  ``latency_hist.parquet`` keeps its 20 bins per decade
(:data:`COARSE_EDGES_NS`, 100 ns to 1000 s).  These edges do not fall on bin
edges, so a bin that straddles one also counts its values below the edge
(:meth:`Histogram.coarse_counts` is then exact: the counts ``numpy.histogram``
gives on the clipped values).

**Why not the ``hdrhistogram`` package.**  HdrHistogram_py (``hdrh``, 0.10.8)
has the same bins, but its ``record_value`` is pure Python going through
several method calls per value (bucket and sub-bucket index, a ``ctypes``
counts array, min/max upkeep): 1.7 us a value on this project's machine
against 0.3-0.4 us for :meth:`Histogram.add` (measured side by side, same
values), and it has no array path (:meth:`Histogram.add_array`: 35 ns a value
in batches of 4096).  It also fixes the range at construction, keeps no exact
sum, reads percentiles as bin edges rather than numpy's interpolation, and
cannot export exact counts into ``latency_hist.parquet``'s decimal edges.  At
10**8 values per run the difference is minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "Histogram",
    "bin_index",
    "bin_indices",
    "bin_lower",
    "bin_width",
    "percentiles_of_bins",
    "COARSE_EDGES_NS",
    "SUB_BITS",
    "SUB",
    "EXACT",
]

#: Bins per power of two (as a power of two) above :data:`EXACT`.
SUB_BITS = 8
SUB = 1 << SUB_BITS
#: Values below this have a bin of their own (width 1 ns).
EXACT = SUB << 1
_SHIFT = SUB_BITS + 1

#: ``latency_hist.parquet``'s bin edges: 20 per decade from 100 ns to 1000 s.
COARSE_EDGES_NS = np.unique(np.round(np.logspace(2, 12, 201)).astype(np.int64))

# The bins of every value below 2**64 ns.
_NBINS = ((64 - _SHIFT) << SUB_BITS) + (SUB << 1)


def bin_index(v: int) -> int:
    """The bin of value ``v`` (>= 0)."""
    if v < EXACT:
        if v < 0:
            raise ValueError(f"a histogram takes values >= 0, not {v}")
        return v
    e = v.bit_length() - _SHIFT
    return (e << SUB_BITS) + (v >> e)


def bin_indices(v: np.ndarray) -> np.ndarray:
    """:func:`bin_index` of each of the int64 values ``v`` (>= 0)."""
    b = v.astype(np.int64, copy=True)
    big = v >= EXACT
    if big.any():
        vb = v[big]
        # frexp's exponent is the bit length of an integer exactly representable as a float64
        e = np.frexp(vb.astype(np.float64))[1].astype(np.int64) - _SHIFT
        huge = vb >= (1 << 53)
        if huge.any():  # (104 days of ns and more) not exact as float64: Python's bit_length
            e[huge] = [int(x).bit_length() - _SHIFT for x in vb[huge]]
        b[big] = (e << SUB_BITS) + (vb >> e)
    return b


def bin_lower(b: int) -> int:
    """The smallest value of bin ``b``."""
    if b < EXACT:
        return b
    e = (b >> SUB_BITS) - 1
    return (b - (e << SUB_BITS)) << e


def bin_width(b: int) -> int:
    """How many integer values bin ``b`` holds."""
    return 1 if b < EXACT else 1 << ((b >> SUB_BITS) - 1)


def _bin_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Lower edge and width of every bin, its coarse bin, and the coarse edge it straddles (0: none)."""
    b = np.arange(_NBINS, dtype=np.int64)
    e = np.maximum((b >> SUB_BITS) - 1, 0)
    exact = b < EXACT
    lo = np.where(exact, b, (b - (e << SUB_BITS)) << e)
    width = np.where(exact, 1, np.int64(1) << e)
    edges = COARSE_EDGES_NS
    last = len(edges) - 2

    def coarse(v: np.ndarray) -> np.ndarray:  # numpy.histogram of the values clipped to the edges
        return np.clip(np.searchsorted(edges, v, side="right") - 1, 0, last)

    c_lo = coarse(lo)
    c_hi = coarse(lo + (width - 1))
    # a bin is far narrower than a coarse bin: it straddles at most one coarse edge
    assert np.all(c_hi - c_lo <= 1)
    cut = np.where(c_hi > c_lo, edges[np.minimum(c_lo + 1, len(edges) - 1)], 0)
    return lo, width, c_lo, cut.tolist()


_LO, _WIDTH, _COARSE, _CUT = _bin_tables()
_CUT_ARRAY = np.asarray(_CUT, dtype=np.int64)
_STRADDLES = _CUT_ARRAY > 0
_EMPTY = np.zeros(0, dtype=np.int64)


def _padded_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` of two count arrays, the shorter padded with zeros."""
    if a.size < b.size:
        a, b = b, a
    out = a.copy()
    out[: b.size] += b
    return out


class Histogram:
    """Counts of non-negative integers in fixed log bins, with their exact count, sum and maximum.

    Values come one at a time (:meth:`add`, pure Python: ``counts``, a list by
    bin, and ``below``, by straddling bin the values below its coarse edge) or
    in arrays (:meth:`add_array`, numpy: ``acc`` and ``acc_below``, arrays by
    bin); :meth:`bin_counts` and :meth:`below_counts` are their sums.
    """

    __slots__ = ("counts", "below", "acc", "acc_below", "n", "total", "max")

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.below: dict[int, int] = {}
        self.acc = _EMPTY
        self.acc_below = _EMPTY
        self.n = 0
        self.total = 0
        self.max = -1  # -1: empty

    def add(self, v: int) -> None:
        """Count value ``v`` (an int >= 0)."""
        if v < EXACT:
            if v < 0:
                raise ValueError(f"a histogram takes values >= 0, not {v}")
            b = v
        else:
            e = v.bit_length() - _SHIFT
            b = (e << SUB_BITS) + (v >> e)
            if v < _CUT[b]:
                self.below[b] = self.below.get(b, 0) + 1
        try:
            self.counts[b] += 1
        except IndexError:
            self.grow(b)
        self.n += 1
        self.total += v
        if v > self.max:
            self.max = v

    def grow(self, b: int) -> None:
        """Extend the counts to bin ``b`` and count one value in it (``add``'s rare case)."""
        counts = self.counts
        counts.extend([0] * (b - len(counts)))
        counts.append(1)

    def add_array(self, values: np.ndarray, bins: np.ndarray | None = None) -> None:
        """Count every value of the int64 array ``values`` (>= 0); ``bins``: their :func:`bin_indices`, if known."""
        if values.size == 0:
            return
        low = int(values.min())
        if low < 0:
            raise ValueError(f"a histogram takes values >= 0, not {low}")
        b = bin_indices(values) if bins is None else bins
        self.acc = _padded_add(self.acc, np.bincount(b))
        under = values < _CUT_ARRAY[b]
        if under.any():
            self.acc_below = _padded_add(self.acc_below, np.bincount(b[under]))
        top = int(values.max())
        self.n += int(values.size)
        # exact: no int64 overflow below 2**50 a value (13 days of ns) for 8192 values
        self.total += int(values.sum()) if top < (1 << 50) and values.size <= 8192 else sum(values.tolist())
        if top > self.max:
            self.max = top

    # -- reading ---------------------------------------------------------------

    def bin_counts(self) -> np.ndarray:
        """The number of values in each bin (int64, up to the last bin used)."""
        return _padded_add(np.asarray(self.counts, dtype=np.int64), self.acc)

    def below_counts(self) -> np.ndarray:
        """For each bin that straddles a coarse edge, its values below the edge (0 elsewhere)."""
        below = np.zeros(max(self.below, default=-1) + 1, dtype=np.int64)
        for b, c in self.below.items():
            below[b] = c
        return _padded_add(below, self.acc_below)

    @property
    def count(self) -> int:
        return self.n

    @property
    def mean(self) -> float:
        """The exact mean (nan when empty)."""
        return self.total / self.n if self.n else math.nan

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100), numpy's default convention, nan when empty."""
        return self.percentiles((q,))[0]

    def percentiles(self, qs: Iterable[float]) -> list[float]:
        """:meth:`percentile` of each of ``qs``."""
        qs = list(qs)
        if not self.n:
            return [math.nan] * len(qs)
        counts = self.bin_counts()
        nz = np.flatnonzero(counts)
        return percentiles_of_bins(nz.tolist(), counts[nz].tolist(), self.n, self.max, qs)

    def coarse_counts(self) -> np.ndarray:
        """Counts in :data:`COARSE_EDGES_NS` bins of the values clipped to the edges (as ``numpy.histogram``)."""
        counts = self.bin_counts()
        n = counts.size
        out = np.bincount(_COARSE[:n], weights=counts, minlength=len(COARSE_EDGES_NS) - 1).astype(np.int64)
        # the values of a straddling bin at or above its edge belong to the next coarse bin
        below = np.zeros(n, dtype=np.int64)
        bc = self.below_counts()[:n]
        below[: bc.size] = bc
        above = np.where(_STRADDLES[:n], counts - below, 0)
        moved = np.bincount(_COARSE[:n], weights=above, minlength=out.size).astype(np.int64)
        out -= moved
        out[1:] += moved[:-1]
        return out

    # -- combining -------------------------------------------------------------

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s values to this histogram; returns self."""
        if len(other.counts) > len(self.counts):
            self.counts.extend([0] * (len(other.counts) - len(self.counts)))
        counts = self.counts
        for b, c in enumerate(other.counts):
            if c:
                counts[b] += c
        for b, c in other.below.items():
            self.below[b] = self.below.get(b, 0) + c
        self.acc = _padded_add(self.acc, other.acc)
        self.acc_below = _padded_add(self.acc_below, other.acc_below)
        self.n += other.n
        self.total += other.total
        if other.max > self.max:
            self.max = other.max
        return self

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        """A new histogram holding the values of all ``parts``."""
        out = cls()
        for p in parts:
            out.merge(p)
        return out

    def storage(self) -> int:
        """Entries this histogram stores (bins and straddle counts): bounded by the values' range."""
        return len(self.counts) + len(self.below) + int(self.acc.size) + int(self.acc_below.size)


def percentiles_of_bins(
    bins: Sequence[int], counts: Sequence[int], n: int, vmax: int, qs: Iterable[float]
) -> list[float]:
    """Percentiles (numpy's ``linear``) of ``n`` values counted in ascending ``bins``, the largest ``vmax``."""
    cum = np.cumsum(np.asarray(counts, dtype=np.int64))

    def order(r: int) -> float:
        """The ``r``-th smallest value (0-based), spread evenly over its bin."""
        if r >= n - 1:
            return float(vmax)
        i = int(np.searchsorted(cum, r, side="right"))
        b = bins[i]
        c = int(counts[i])
        j = r - (int(cum[i]) - c)
        w = int(_WIDTH[b])
        lo = int(_LO[b])
        if w == 1:
            return float(lo)
        return min(lo + (j + 0.5) * w / c - 0.5, float(vmax))

    out = []
    for q in qs:
        h = (q / 100) * (n - 1)
        k = math.floor(h)
        g = h - k
        a = order(k)
        if g == 0:
            out.append(a)
            continue
        b = order(k + 1)
        d = b - a
        out.append(a + d * g if g < 0.5 else b - d * (1 - g))  # numpy's _lerp
    return out
