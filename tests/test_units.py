import pytest

from sim import units


@pytest.mark.parametrize("text,expected", [
    ("64KiB", 65536), ("16GiB", 16 << 30), ("1.5MiB", 3 << 19), (4096, 4096), ("512B", 512), ("1MB", 10**6),
])
def test_sizes(text, expected):
    assert units.parse_size(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1us", 1000), ("250us", 250_000), ("2.5ms", 2_500_000), ("30min", 1800 * 10**9), ("1h", 3600 * 10**9), (7, 7),
])
def test_times(text, expected):
    assert units.parse_time(text) == expected


def test_rates_and_percent():
    assert units.parse_rate("64KiB/s") == 65536
    assert units.parse_rate("10%") * 100 == 10
    assert units.parse_percent(20) * 5 == 1


@pytest.mark.parametrize("bad", ["64 parsecs", "1.5B", "-1KiB", True, None, "fast"])
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        units.parse_size(bad)


def test_format_round_trips():
    for n in (512, 4096, 65536, 16 << 30, 3 << 19):
        assert units.parse_size(units.format_size(n)) == n
    for ns in (1, 1000, 250_000, 10**9, 90 * 10**9):
        assert units.parse_time(units.format_time(ns)) == ns
