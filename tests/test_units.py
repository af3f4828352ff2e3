import pytest

from sim.params import units


@pytest.mark.parametrize(
    "text,expected",
    [
        ("64KiB", 65536),
        ("16GiB", 16 << 30),
        ("1.5MiB", 3 << 19),
        (4096, 4096),
        ("512B", 512),
        ("1MB", 10**6),
    ],
)
def test_sizes(text, expected):
    assert units.parse_size(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1us", 1000),
        ("250us", 250_000),
        ("2.5ms", 2_500_000),
        ("30min", 1800 * 10**9),
        ("1h", 3600 * 10**9),
        (7, 7),
    ],
)
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


# ---- one rule for every unit (see the sim.params.units docstring)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1kB", 1000),
        ("1KB", 1000),
        ("1MB", 10**6),
        ("1GB", 10**9),
        ("1TB", 10**12),
        ("1KiB", 1024),
        ("1MiB", 1 << 20),
        ("1GiB", 1 << 30),
        ("1TiB", 1 << 40),
        ("7B", 7),
        ("7", 7),
        (" 2 MiB ", 2 << 20),
        ("0.5KiB", 512),
        (".5KiB", 512),
        ("1e3B", 1000),
        ("4096.0", 4096),
        (4096.0, 4096),
        ("+1KiB", 1024),
    ],
)
def test_size_spellings(text, expected):
    assert units.parse_size(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1Gb/s", 125_000_000),
        ("10Gb/s", 1_250_000_000),
        ("100Mb/s", 12_500_000),
        ("8kb/s", 1000),
        ("8Kb/s", 1000),
        ("1Tb/s", 125 * 10**9),
        ("100Mbit/s", 12_500_000),
        ("8bit/s", 1),
        ("1Gbit/s", 125_000_000),
        ("1MB/s", 10**6),
        ("1kB/s", 1000),
        ("1MiB/s", 1 << 20),
        ("64KiB/s", 65536),
        ("100B/s", 100),
        ("100/s", 100),
        ("100", 100),
        (100, 100),
        ("8TB/s", 8 * 10**12),
    ],
)
def test_rate_spellings(text, expected):
    assert units.parse_rate(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1ns", 1),
        ("1us", 1000),
        ("1µs", 1000),
        ("1μs", 1000),
        ("1ms", 10**6),
        ("1s", 10**9),
        ("2min", 120 * 10**9),
        ("1h", 3600 * 10**9),
        ("1.5s", 1_500_000_000),
        ("1e-3s", 10**6),
    ],
)
def test_time_spellings(text, expected):
    assert units.parse_time(text) == expected


@pytest.mark.parametrize(
    "parser,text,hint",
    [
        (units.parse_size, "8mb", None),  # milli-bits? refused, not guessed
        (units.parse_size, "8kib", "'KiB'"),
        (units.parse_size, "8mib", "'MiB'"),
        (units.parse_size, "8gb", None),
        (units.parse_size, "8k", None),  # a prefix needs its unit
        (units.parse_size, "8M", None),
        (units.parse_size, "8Mb", "'MB'"),  # bits are for rates only
        (units.parse_size, "8b", "'B'"),
        (units.parse_size, "8KIB", "'KiB'"),
        (units.parse_time, "1MS", "'ms'"),
        (units.parse_time, "1Ms", "'ms'"),
        (units.parse_time, "1S", "'s'"),
        (units.parse_time, "1m", None),  # minutes are 'min'
        (units.parse_rate, "10mb/s", None),
        (units.parse_rate, "8b/s", "'B'"),  # bits need an SI prefix
        (units.parse_rate, "1gb/s", None),
        (units.parse_rate, "1Gib/s", None),
        (units.parse_rate, "1kib/s", "'KiB'"),
        (units.parse_rate, "1MiB", None),  # a rate ends in /s
    ],
)
def test_wrong_units_are_refused_with_what_is_accepted(parser, text, hint):
    with pytest.raises(ValueError) as e:
        parser(text)
    msg = str(e.value)
    assert msg.startswith("expected ") and f"got {text!r}" in msg
    if hint:
        assert f"did you mean {hint}" in msg, msg


def test_the_old_inconsistency_is_gone():
    # before: 'kb/s' meant kilobits but 'mb/s' megabytes; now lower-case b is always bits and m is refused
    assert units.parse_rate("8kb/s") == 1000
    with pytest.raises(ValueError):
        units.parse_rate("8mb/s")
    with pytest.raises(ValueError):
        units.parse_size("8mb")


@pytest.mark.parametrize("parser", [units.parse_size, units.parse_time, units.parse_rate])
@pytest.mark.parametrize(
    "bad",
    [
        -1,
        -1.0,
        "-1",
        "-5KiB",
        float("nan"),
        float("inf"),
        1.5,
        2**63,
        "1e300",
        "9" * 5000,
        "1e99999999",
        [],
        None,
        True,
        "",
        "   ",
        "1 2",
        "--1",
    ],
)
def test_bad_values_raise_value_error_quickly(parser, bad):
    with pytest.raises(ValueError, match="^expected "):
        parser(bad)


def test_largest_value_is_int64():
    assert units.parse_time(units.MAX_VALUE) == 2**63 - 1
    with pytest.raises(ValueError, match="below 2\\*\\*63"):
        units.parse_time("1e10s")  # 1e19 ns


@pytest.mark.parametrize("bad", ["-10%", -5, "10", "x%", float("nan")])
def test_bad_percents(bad):
    if bad == "10":  # a plain number is a percent
        assert units.parse_percent(bad) * 10 == 1
        return
    with pytest.raises(ValueError):
        units.parse_percent(bad)


def test_shipped_scenarios_and_tests_parse_the_same():
    """Every unit spelling in scenarios, tests and notebooks means what it meant (e.g. traces.toml's links)."""
    assert units.parse_rate("1Gb/s") == 125_000_000  # the network-1g profile's link
    assert units.parse_rate("8TB/s") == 8 * 10**12  # test_queueing's infinitely fast device
    assert units.parse_size("1MB") == 10**6
