"""Parsing of the units that scenario files and ``--set`` use.

One rule for every unit, and units are **case-sensitive**:

* ``B`` is a byte.  ``b`` (or ``bit``) is a bit, and only in a rate with an SI
  prefix: ``kb/s Mb/s Gb/s Tb/s`` (also ``kbit/s Mbit/s ...`` and ``bit/s``),
  the way link speeds are quoted (``1Gb/s`` = 125,000,000 bytes/s).
* SI prefixes ``k M G T`` are powers of 1000 (``K`` is read as ``k``); IEC
  prefixes ``Ki Mi Gi Ti`` are powers of 1024.  A prefix needs its unit:
  ``64KiB`` or ``64kB``, not ``64K``.
* Sizes: ``B kB MB GB TB KiB MiB GiB TiB``.  Rates: a size unit or a bit unit
  followed by ``/s`` (``64KiB/s``, ``500MB/s``, ``1Gb/s``), or a percent
  (``10%``) where the key says of what.  Times: ``ns us µs ms s min h``.
* Anything else (``mb``, ``kib``, ``64k``, ``1MS``) is refused with a message
  listing what is accepted (and the spelling meant when only the case is
  wrong), never guessed: ``mb`` would be a milli-bit.

A plain number is the base unit (bytes, nanoseconds, bytes per second).
Values are non-negative and below 2**63 base units (int64 nanoseconds is
about 292 years).  Every parser returns an integer (bytes, nanoseconds,
bytes per second) so that simulated time stays integral (``docs/model.md`` section 2).

The parsers raise :class:`ValueError` with a message ``expected ..., got ...``;
the configuration layer turns that into a message naming the key.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["parse_size", "parse_time", "parse_rate", "parse_percent", "format_size", "format_time", "MAX_VALUE"]

#: The largest value any parser returns (int64, as numpy and the results tables store them).
MAX_VALUE = 2**63 - 1

_SI = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_IEC = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
_SIZE = {"": 1, "B": 1, **{p + "B": f for p, f in _SI.items()}, **{p + "B": f for p, f in _IEC.items()}}
# bits per second, as a Fraction of bytes per second
_BITS = {"bit": Fraction(1, 8), **{p + s: Fraction(f, 8) for p, f in _SI.items() for s in ("b", "bit")}}
_TIME = {
    "": 1,
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "min": 60 * 10**9,
    "h": 3600 * 10**9,
}

_SIZE_UNITS = "B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
_RATE_UNITS = f"{_SIZE_UNITS} per second ('64KiB/s'), bits per second kb/s, Mb/s, Gb/s, Tb/s, or a percent '10%'"
_TIME_UNITS = "ns, us, ms, s, min or h"

_NUM = re.compile(r"^\s*([+-]?)((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?)\s*([^\s0-9.]*)\s*$")
_MAX_TEXT = 64


def _split(text: str, what: str) -> tuple[Fraction, str]:
    m = _NUM.match(text) if len(text) <= _MAX_TEXT else None
    if not m:
        raise ValueError(f"expected {what}, got {text!r}")
    if m.group(1) == "-" and Fraction(m.group(2)) != 0:
        raise ValueError(f"expected {what} (not negative), got {text!r}")
    return Fraction(m.group(2)), m.group(3)


def _hint(unit: str, table) -> str:
    """``" (units are case-sensitive: did you mean 'MB'?)"`` when only the case is wrong."""
    same = sorted({u for u in table if u.lower() == unit.lower() and u != unit and u})
    if len(same) == 1:
        return f" (units are case-sensitive: did you mean {same[0]!r}?)"
    if same:
        return " (units are case-sensitive: did you mean " + " or ".join(repr(u) for u in same) + "?)"
    return ""


def _exact_int(value: Fraction, text: object, what: str) -> int:
    if value.denominator != 1:
        raise ValueError(f"expected {what} that is a whole number of the base unit, got {text!r}")
    if value > MAX_VALUE:
        raise ValueError(f"expected {what} below 2**63 of the base unit, got {text!r}")
    return int(value)


def _number(value: object, what: str) -> int | None:
    """A plain (non-string) number as an int of the base unit, or None for a string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected {what}, got {value!r}")
    if isinstance(value, str):
        return None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected {what} that is a whole number of the base unit, got {value!r}")
    if value < 0:
        raise ValueError(f"expected {what} (not negative), got {value!r}")
    return _exact_int(Fraction(value), value, what)


def parse_size(value: object) -> int:
    """Bytes from ``4096``, ``"4KiB"``, ``"16GiB"``, ``"1.5MiB"``, ``"1MB"``."""
    what = "a size such as '64KiB'"
    n = _number(value, what)
    if n is not None:
        return n
    assert isinstance(value, str)  # _number returned None: a string is left
    num, unit = _split(value, what)
    factor = _SIZE.get(unit)
    if factor is None:
        raise ValueError(f"expected a size unit {_SIZE_UNITS}{_hint(unit, _SIZE)}, got {value!r}")
    return _exact_int(num * factor, value, "a size")


def parse_time(value: object) -> int:
    """Nanoseconds from ``1000``, ``"1us"``, ``"2.5ms"``, ``"30min"``."""
    what = "a time such as '250us'"
    n = _number(value, what)
    if n is not None:
        return n
    assert isinstance(value, str)  # _number returned None: a string is left
    num, unit = _split(value, what)
    factor = _TIME.get(unit)
    if factor is None:
        raise ValueError(f"expected a time unit {_TIME_UNITS}{_hint(unit, _TIME)}, got {value!r}")
    return _exact_int(num * factor, value, "a time")


def parse_percent(value: object) -> Fraction:
    """A fraction from ``"10%"`` or ``10`` (meaning 10 percent)."""
    what = "a percent such as '10%'"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected {what}, got {value!r}")
    if isinstance(value, str):
        num, unit = _split(value, what)
        if unit not in ("%", ""):
            raise ValueError(f"expected {what}, got {value!r}")
        return num / 100
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"expected {what}, got {value!r}")
    if value < 0:
        raise ValueError(f"expected {what} (not negative), got {value!r}")
    return Fraction(value) / 100


def parse_rate(value: object) -> int | Fraction:
    """Bytes per second as an int, or a :class:`Fraction` of a reference rate for ``"10%"``.

    The caller resolves a percent against the device it refers to.
    """
    what = "a rate such as '64KiB/s', '1Gb/s' or '10%'"
    n = _number(value, what)
    if n is not None:
        return n
    assert isinstance(value, str)  # _number returned None: a string is left
    text = value.strip()
    if text.endswith("%"):
        return parse_percent(text)
    if not text.endswith("/s"):
        num, unit = _split(text, what)
        if unit:
            raise ValueError(f"expected {what} (a rate ends in '/s'), got {value!r}")
        return _exact_int(num, value, "a rate")
    num, unit = _split(text[:-2], what)
    if unit in _SIZE:
        return _exact_int(num * _SIZE[unit], value, "a rate")
    if unit in _BITS:
        return _exact_int(num * _BITS[unit], value, "a rate (in bits: a whole number of bytes)")
    raise ValueError(f"expected a rate unit {_RATE_UNITS}{_hint(unit, {**_SIZE, **_BITS})}, got {value!r}")


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
