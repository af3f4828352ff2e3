"""The copy bitmap against a plain Python set (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.bitmap import CopyBitmap

ops = st.lists(st.tuples(st.sampled_from(["set", "clear", "next", "get"]), st.integers(0, 299)), max_size=200)


@given(n=st.integers(1, 300), ops=ops)
@settings(max_examples=300, deadline=None)
def test_bitmap_matches_a_set(n, ops):
    bm, ref = CopyBitmap(n), set()
    for op, i in ops:
        i %= n
        if op == "set":
            assert bm.set(i) == (i not in ref)
            ref.add(i)
        elif op == "clear":
            assert bm.clear(i) == (i in ref)
            ref.discard(i)
        elif op == "get":
            assert bm.get(i) == (i in ref)
        else:
            expected = next((j for j in range(i, n) if j not in ref), n)
            assert bm.next_clear(i) == expected
        assert bm.count() == len(ref)
    assert sorted(ref) == [i for i, v in enumerate(bm.to_array()) if v]


def test_next_clear_skips_full_words_and_stops_at_n():
    bm = CopyBitmap(1000)
    for i in range(700):
        bm.set(i)
    assert bm.next_clear(0) == 700
    for i in range(700, 1000):
        bm.set(i)
    assert bm.next_clear(0) == 1000
    assert bm.next_clear(5000) == 1000


def test_out_of_range_is_an_error():
    bm = CopyBitmap(10)
    for bad in (-1, 10):
        try:
            bm.get(bad)
        except IndexError:
            continue
        raise AssertionError(f"get({bad}) did not raise")


@given(
    n=st.integers(1, 300),
    first=st.lists(st.booleans(), max_size=300),
    other=st.lists(st.booleans(), max_size=300),
    start8=st.integers(0, 37),
)
@settings(max_examples=200, deadline=None)
def test_bulk_set_operations_match_a_set(n, first, other, start8):
    import numpy as np

    bm, ref = CopyBitmap(n), set()
    start = min(start8 * 8, (n // 8) * 8)
    mask = np.array(first[: n - start], dtype=bool)
    bm.set_range_from(start, mask)
    ref |= {start + i for i, v in enumerate(mask) if v}
    assert bm.count() == len(ref)
    o = CopyBitmap(n)
    for i, v in enumerate(other[:n]):
        if v:
            o.set(i)
    bm.set_all_clear_of(o)
    ref |= {i for i in range(n) if not o.get(i)}
    assert bm.count() == len(ref)
    assert [i for i, v in enumerate(bm.to_array()) if v] == sorted(ref)
    assert bm.next_clear(0) == next((j for j in range(n) if j not in ref), n)
