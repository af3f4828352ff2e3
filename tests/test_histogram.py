"""The log-binned histogram (sim/histogram.py) against numpy on the same values.

Percentiles follow numpy's default convention within a bin's width (at most
1/256 of the value, so within 0.4 %; the issue asks for 1 %), exactly below
512 ns; count, sum, mean and maximum are exact; merging and the export to
``latency_hist.parquet``'s coarse bins are exact.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.histogram import COARSE_EDGES_NS, EXACT, Histogram, bin_index, bin_lower, bin_width
from sim.metrics import HIST_EDGES_NS

QS = (0, 1, 25, 50, 90, 99, 99.9, 99.99, 100)
#: a bin is at most 1/256 of its smallest value wide: the relative error bound of a percentile
REL = 1 / 256


def _hist(values) -> Histogram:
    h = Histogram()
    for v in values:
        h.add(int(v))
    return h


def _assert_close(h: Histogram, values, qs=QS, rel=REL) -> None:
    a = np.asarray(values, dtype=np.int64)
    for q, got in zip(qs, h.percentiles(qs)):
        want = float(np.percentile(a, q))
        assert abs(got - want) <= rel * want + 1e-9, (q, got, want)


def test_the_edges_of_latency_hist_parquet_are_kept():
    assert np.array_equal(HIST_EDGES_NS, np.unique(np.round(np.logspace(2, 12, 201)).astype(np.int64)))
    assert HIST_EDGES_NS is COARSE_EDGES_NS


def test_bins_tile_the_integers_and_are_at_most_1_256th_of_their_values():
    prev_end = 0
    for b in range(0, 9000):
        lo, w = bin_lower(b), bin_width(b)
        assert lo == prev_end  # contiguous, no gap, no overlap
        prev_end = lo + w
        assert bin_index(lo) == b and bin_index(lo + w - 1) == b
        if b >= EXACT:
            assert w <= lo / 256
        else:
            assert w == 1
    for v in (0, 1, 511, 512, 513, 10**6, 10**12, 2**62 + 12345):
        b = bin_index(v)
        assert bin_lower(b) <= v < bin_lower(b) + bin_width(b)
    with pytest.raises(ValueError):
        Histogram().add(-1)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dist", ["lognormal", "pareto", "mixture"])
def test_percentiles_of_heavy_tailed_values_are_within_1_256th_of_numpy(dist, seed):
    rng = np.random.default_rng(seed)
    n = 50_000
    if dist == "lognormal":
        v = rng.lognormal(11, 1.5, n)
    elif dist == "pareto":
        v = 20_000 * (1 + rng.pareto(1.2, n))
    else:  # a fast mode, a slow mode and a rare very slow tail (a copy-before-write)
        v = np.concatenate([rng.gamma(9, 20_000, n // 2), rng.gamma(4, 500_000, n // 2), rng.uniform(5e7, 2e9, 50)])
    values = v.astype(np.int64)
    h = _hist(values)
    _assert_close(h, values)
    assert h.n == values.size and h.total == int(values.sum()) and h.max == int(values.max())
    assert h.mean == pytest.approx(values.mean(), rel=1e-12)


def test_small_values_are_exact():
    rng = np.random.default_rng(1)
    values = rng.integers(0, EXACT, 10_001)
    h = _hist(values)
    for q, got in zip(QS, h.percentiles(QS)):
        assert got == float(np.percentile(values, q)), q


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(0, 2_000), st.integers(0, 10**7), st.integers(0, 10**13)),
        min_size=1,
        max_size=400,
    ),
    st.floats(0, 100),
)
def test_any_values_any_quantile_property(values, q):
    h = _hist(values)
    got = h.percentile(q)
    want = float(np.percentile(np.asarray(values, dtype=np.int64), q))
    assert abs(got - want) <= REL * want + 1e-9 * max(1.0, want)
    assert h.n == len(values) and h.total == sum(values) and h.max == max(values)


def test_empty_histogram():
    h = Histogram()
    assert h.n == 0 and math.isnan(h.mean) and all(math.isnan(x) for x in h.percentiles((50, 99)))
    assert h.coarse_counts().sum() == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**11), max_size=300), st.lists(st.integers(0, 10**11), max_size=300))
def test_merge_is_the_histogram_of_both(a, b):
    ha, hb, both = _hist(a), _hist(b), _hist(a + b)
    m = Histogram.merged((ha, hb))
    assert (m.n, m.total, m.max) == (both.n, both.total, both.max)
    assert np.array_equal(np.trim_zeros(m.bin_counts(), "b"), np.trim_zeros(both.bin_counts(), "b"))
    assert np.array_equal(np.trim_zeros(m.below_counts(), "b"), np.trim_zeros(both.below_counts(), "b"))
    if a or b:
        assert m.percentiles(QS) == both.percentiles(QS)
    ha.merge(hb)  # in place
    assert ha.n == both.n and ha.percentiles((50,)) == both.percentiles((50,)) if a or b else ha.n == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10**12), max_size=500), st.integers(0, 500))
def test_arrays_count_as_single_values(values, split):
    """add_array (the runs' buffers) and add (one value) fill the same bins; mixed and merged too."""
    one, arr, mixed = Histogram(), Histogram(), Histogram()
    for v in values:
        one.add(v)
    arr.add_array(np.asarray(values, dtype=np.int64))
    for v in values[:split]:
        mixed.add(v)
    mixed.add_array(np.asarray(values[split:], dtype=np.int64))
    for h in (arr, mixed, Histogram.merged((arr, Histogram())), Histogram.merged((Histogram(), mixed))):
        assert (h.n, h.total, h.max) == (one.n, one.total, one.max)
        assert np.array_equal(np.trim_zeros(h.bin_counts(), "b"), np.trim_zeros(one.bin_counts(), "b"))
        assert np.array_equal(h.coarse_counts(), one.coarse_counts())
        if values:
            assert h.percentiles(QS) == one.percentiles(QS)


def test_coarse_export_equals_numpy_histogram_of_the_clipped_values():
    rng = np.random.default_rng(7)
    # every coarse edge, its neighbours, values below 100 ns and above 1000 s
    edges = HIST_EDGES_NS
    values = np.concatenate(
        [
            edges,
            edges - 1,
            edges + 1,
            rng.integers(0, 100, 500),
            rng.lognormal(13, 3, 100_000).astype(np.int64),
            [10**12, 10**13, 2**60],
        ]
    )
    values = values[values >= 0]
    h = _hist(values)
    want, _ = np.histogram(np.clip(values, edges[0], edges[-1] - 1), bins=edges)
    assert np.array_equal(h.coarse_counts(), want)
    h = Histogram()
    h.add_array(values.astype(np.int64))
    assert np.array_equal(h.coarse_counts(), want)


def test_storage_depends_on_the_range_not_the_count():
    rng = np.random.default_rng(3)
    small, large = Histogram(), Histogram()
    for v in rng.lognormal(11, 1, 1_000).astype(np.int64):
        small.add(int(v))
    for v in rng.lognormal(11, 1, 200_000).astype(np.int64):
        large.add(int(v))
    assert large.n == 200 * small.n
    # bounded by the largest value's bin (about 8700 bins up to 1000 s), however many values
    assert large.storage() <= bin_index(large.max) + 1 + len(large.below)
    assert large.storage() < 10_000
