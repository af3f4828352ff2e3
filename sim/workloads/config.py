"""The parameters of the guests compiled into the kernel: the keys every guest shares, ``fio``'s and ``bursty``'s.

:class:`WorkloadConfig` holds the keys of the common request stream
(:class:`sim.workloads.base.RequestStream`), with the checks of its region
(:func:`stream_region`) and of guests that do not use it
(:func:`reject_stream_keys`); :func:`workload_config` validates a
``workload`` table against the ``Config`` of the kind it names.

Why these classes are here and not beside their models: a regular install
(``pip install .``) compiles :mod:`sim.workloads.base`, :mod:`sim.workloads.fio`
and :mod:`sim.workloads.bursty` with mypyc (``docs/kernel.md``), and pydantic
cannot build a model whose validators are compiled functions (it reads each
validator's signature, and a compiled function has none).  So the
configuration of a compiled module lives in a module that stays interpreted,
as the devices' does (:mod:`sim.devices.config`).  A guest that is not
compiled (a trace, a script, a plug-in) keeps its ``Config`` in its own module.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ..params import WORKLOADS, ConfigError, Section, Time, units

__all__ = [
    "WorkloadConfig",
    "FioConfig",
    "BurstyConfig",
    "STREAM_KEYS",
    "reject_stream_keys",
    "stream_region",
    "workload_config",
]


def _duration(value):
    if value == "backup":
        return value
    return units.parse_time(value)


def _size_or_none(value):
    return None if value is None else units.parse_size(value)


class WorkloadConfig(Section):
    """Fields every synthetic guest has: its mix, block size, region, offsets and how long it runs.

    ``offset`` / ``size`` bound the region the stream covers (``size`` unset:
    to the end of the disk; a sequential stream starts at ``offset`` and wraps
    back to it, as fio does).  ``offset_dist`` is ``uniform`` or ``zipf``
    (random streams only; see the module docstring).

    ``rw`` ``"trim"`` / ``"randtrim"`` issue only discards (sequential or
    random), as fio's.  ``trim_fraction`` and ``write_zeroes_fraction`` (each
    0-1, at most 1 together, default 0) turn that share of the write ops into
    discards and write-zeroes: each write op then takes one more uniform draw
    of the ``workload`` stream (none when both are 0, nor when one is 1); they
    change nothing when ``rw`` issues no writes.
    """

    kind: str = ""
    rw: Literal["read", "write", "randread", "randwrite", "randrw", "rw", "trim", "randtrim"] = "randrw"
    rwmixread: int = Field(70, ge=0, le=100)
    trim_fraction: float = Field(0.0, ge=0.0, le=1.0)
    write_zeroes_fraction: float = Field(0.0, ge=0.0, le=1.0)
    bs: Annotated[int, BeforeValidator(units.parse_size), Field(ge=512)] = 4096
    duration: Annotated[Literal["backup"] | int, BeforeValidator(_duration)] = "backup"
    offset: Annotated[int, BeforeValidator(units.parse_size), Field(ge=0)] = 0
    size: Annotated[Annotated[int, Field(gt=0)] | None, BeforeValidator(_size_or_none)] = None
    offset_dist: Literal["uniform", "zipf"] = "uniform"
    zipf_theta: float = Field(0.99, ge=0.0, le=10.0)
    zipf_regions: int = Field(100, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _check_stream(self) -> WorkloadConfig:
        if self.offset_dist == "zipf" and not self.rw.startswith("rand"):
            raise ConfigError(
                "offset_dist", self.offset_dist, f"'uniform' with a sequential rw ({self.rw!r}); zipf needs a random rw"
            )
        if self.size is not None and self.size < self.bs:
            raise ConfigError("size", self.size, f"at least bs ({units.format_size(self.bs)})")
        if self.trim_fraction + self.write_zeroes_fraction > 1.0:
            raise ConfigError(
                "write_zeroes_fraction",
                self.write_zeroes_fraction,
                f"at most 1 - trim_fraction ({1.0 - self.trim_fraction:g}): both are shares of the write ops",
            )
        return self

    def check_disk(self, disk_size: int) -> None:
        """Raise :class:`~sim.config.ConfigError` (key relative to ``workload``) if this
        workload does not fit a disk of ``disk_size`` bytes.  Meant for the
        configuration's cross-section check, which knows ``backup.disk_size``."""
        stream_region(self, disk_size)


STREAM_KEYS = (
    "rw",
    "rwmixread",
    "trim_fraction",
    "write_zeroes_fraction",
    "bs",
    "offset",
    "size",
    "offset_dist",
    "zipf_theta",
    "zipf_regions",
)


def reject_stream_keys(cfg: WorkloadConfig, kind: str) -> None:
    """Raise if ``cfg`` sets a common-stream key to other than its default (the guest ignores them)."""
    for name in STREAM_KEYS:
        value = getattr(cfg, name)
        if value != type(cfg).model_fields[name].default:
            raise ConfigError(name, value, f"no value: a '{kind}' workload does not use it")


def stream_region(cfg: WorkloadConfig, disk_size: int) -> tuple[int, int]:
    """``(offset, size)`` of the region a stream covers on a disk of ``disk_size`` bytes."""
    span = cfg.size if cfg.size is not None else disk_size - cfg.offset
    if cfg.offset + span > disk_size or span < cfg.bs:
        raise ConfigError(
            "offset",
            cfg.offset,
            f"a region (offset + size, of at least bs) inside the disk ({units.format_size(disk_size)})",
        )
    return cfg.offset, span


DEFAULT = "fio"


def workload_config(data: Any) -> WorkloadConfig:
    """Validate a ``workload`` table against the config class of its ``kind`` (:data:`sim.params.WORKLOADS`)."""
    return WORKLOADS.section(data, DEFAULT, WorkloadConfig)


class FioConfig(WorkloadConfig):
    iodepth: int = Field(8, ge=1, le=65536)
    think_time: Time = 0


PositiveTime = Annotated[int, BeforeValidator(units.parse_time), Field(gt=0)]


class BurstyConfig(WorkloadConfig):
    iops: float = Field(1000.0, gt=0)
    on_mean: PositiveTime = 100 * 10**6
    off_mean: PositiveTime = 400 * 10**6
    period_dist: Literal["exponential", "pareto"] = "exponential"
    pareto_shape: float = Field(1.5, gt=1.0, le=100.0)
