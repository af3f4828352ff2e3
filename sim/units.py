"""Parsing of the units that scenario files and ``--set`` use.

Sizes take ``B KiB MiB GiB TiB`` (also ``KB MB GB TB`` as powers of 1000),
times take ``ns us ms s min h``, rates take ``B/s KiB/s MiB/s GiB/s`` (and the
decimal ``KB/s MB/s GB/s``), network rates in bits ``Mb/s Gb/s`` (powers of
1000, lower-case ``b``), or a percent.  Every parser returns an integer
(bytes, nanoseconds, bytes per second) so that simulated time stays integral
(MODEL.md section 2).  Plain numbers are accepted as the base unit.

The parsers raise :class:`ValueError` with a message saying what was expected;
the configuration layer turns that into a message naming the key.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["parse_size", "parse_time", "parse_rate", "parse_percent", "format_size", "format_time"]

_SIZE = {
    "b": 1, "": 1,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
    "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
_TIME = {
    "ns": 1, "": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9,
    "min": 60 * 10**9, "h": 3600 * 10**9,
}
_BITS = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([kKMGT]?)(?:b|bit)/s\s*$")
_NUM = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([A-Za-zµ/%]*)\s*$")


def _split(text: str, what: str) -> tuple[Fraction, str]:
    m = _NUM.match(text)
    if not m:
        raise ValueError(f"expected {what}, got {text!r}")
    return Fraction(m.group(1)), m.group(2)


def _exact_int(value: Fraction, text: object, what: str) -> int:
    if value.denominator != 1:
        raise ValueError(f"expected {what} that is a whole number of the base unit, got {text!r}")
    return int(value)


def parse_size(value: object) -> int:
    """Bytes from ``4096``, ``"4KiB"``, ``"16GiB"``, ``"1.5MiB"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as '64KiB', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as '64KiB', got {value!r}")
    num, unit = _split(value, "a size such as '64KiB'")
    factor = _SIZE.get(unit.lower())
    if factor is None:
        raise ValueError(f"expected a size unit B, KiB, MiB, GiB or TiB, got {value!r}")
    return _exact_int(num * factor, value, "a size")


def parse_time(value: object) -> int:
    """Nanoseconds from ``1000``, ``"1us"``, ``"2.5ms"``, ``"30min"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a time such as '1us', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a time such as '1us', got {value!r}")
    num, unit = _split(value, "a time such as '250us'")
    factor = _TIME.get(unit if unit == "µs" else unit.lower())
    if factor is None:
        raise ValueError(f"expected a time unit ns, us, ms, s, min or h, got {value!r}")
    return _exact_int(num * factor, value, "a time")


def parse_percent(value: object) -> Fraction:
    """A fraction from ``"10%"`` or ``10`` (meaning 10 percent)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percent such as '10%', got {value!r}")
    if isinstance(value, (int, float)):
        return Fraction(value) / 100
    if isinstance(value, str):
        num, unit = _split(value, "a percent such as '10%'")
        if unit in ("%", ""):
            return num / 100
    raise ValueError(f"expected a percent such as '10%', got {value!r}")


def parse_rate(value: object) -> int | Fraction:
    """Bytes per second as an int, or a :class:`Fraction` of a reference rate for ``"10%"``.

    The caller resolves a percent against the device it refers to.
    """
    if isinstance(value, str) and value.strip().endswith("%"):
        return parse_percent(value)
    if isinstance(value, bool):
        raise ValueError(f"expected a rate such as '64KiB/s' or '10%', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a rate such as '64KiB/s' or '10%', got {value!r}")
    text = value.strip()
    if not text.lower().endswith("/s"):
        raise ValueError(f"expected a rate such as '64KiB/s' or '10%', got {value!r}")
    bits = _BITS.match(text)
    if bits:  # network rates in bits per second: 'Gb/s', 'Mbit/s' (powers of 1000)
        prefix = bits.group(2).lower()
        factor = 1000 ** ("kmgt".index(prefix) + 1) if prefix else 1
        return _exact_int(Fraction(bits.group(1)) * factor / 8, value, "a rate")
    return parse_size(text[:-2])


def format_size(n: int) -> str:
    """The shortest exact binary spelling of ``n`` bytes (``65536`` -> ``'64KiB'``)."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


def format_time(ns: int) -> str:
    """The shortest exact spelling of ``ns`` nanoseconds (``250000`` -> ``'250us'``)."""
    for unit, factor in (("h", 3600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns and ns % factor == 0:
            return f"{ns // factor}{unit}"
    return f"{ns}ns"
