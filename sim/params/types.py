"""Units-aware field types and the base class of every configuration section.

``Size`` (bytes), ``Time`` (ns), ``Rate`` (bytes/s or a percent of a reference
rate), ``Bandwidth`` (an absolute rate), ``Percent`` and ``Cluster`` are
pydantic field types that parse the spellings of :mod:`sim.params.units`;
:class:`Section` is the frozen, strict base of every section.  A component's
configuration class (a policy's, a workload's, a device's) is a
:class:`Section` subclass built from these types, so it validates like every
built-in one.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from . import units

__all__ = [
    "Size",
    "Time",
    "Rate",
    "Bandwidth",
    "Percent",
    "Cluster",
    "Section",
    "check_speed",
    "parse_bandwidth",
    "describe_value",
]


def _wrap(parser):
    return BeforeValidator(parser)


def check_speed(value: int | Fraction) -> int | Fraction:
    """A pacing speed: bytes/s >= 0, or a percent of the source's read rate from 0% to 100%."""
    if value < 0 or (isinstance(value, Fraction) and value > 1):
        shown = f"{float(value * 100):g}%" if isinstance(value, Fraction) else value
        raise ValueError(
            f"expected a rate >= 0 such as '64MiB/s', or a percent of disk.read_bw from 0% to 100% "
            f"(for a limit above the disk's rate give bytes/s), got {shown!r}"
        )
    return value


def parse_bandwidth(value: object) -> int:
    """A device's own bandwidth: an absolute rate, never a percent (of what?)."""
    rate = units.parse_rate(value)
    if isinstance(rate, Fraction):
        raise ValueError(
            "expected an absolute rate such as '500MB/s' or '1Gb/s' (a device's own bandwidth "
            f"cannot be a percent), got {value!r}"
        )
    return rate


Size = Annotated[int, _wrap(units.parse_size), Field(ge=0)]
Time = Annotated[int, _wrap(units.parse_time), Field(ge=0)]
Rate = Annotated[int | Fraction, _wrap(units.parse_rate), AfterValidator(check_speed)]
Bandwidth = Annotated[int, _wrap(parse_bandwidth)]
Percent = Annotated[Fraction, _wrap(units.parse_percent)]
Cluster = Annotated[int, Field(strict=True, ge=0)]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)


def describe_value(value, field) -> str:
    """A parameter's default in the units a scenario would use."""
    parsers = {getattr(m, "func", None) for m in field.metadata}
    if value is None:
        return "auto"
    if isinstance(value, Fraction):
        return f"{float(value * 100):g}%"
    if units.parse_time in parsers and isinstance(value, int):
        return units.format_time(value) if value else "0"
    rate = units.parse_rate in parsers or parse_bandwidth in parsers
    if (units.parse_size in parsers or rate) and isinstance(value, int):
        suffix = "/s" if rate else ""
        return units.format_size(value) + suffix
    return repr(value) if isinstance(value, str) else str(value)
