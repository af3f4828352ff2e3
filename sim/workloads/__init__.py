"""Guest workloads, one module each; ``REGISTRY`` maps ``workload.kind`` to a class."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .base import Guest, RequestStream, WorkloadConfig
from .bursty import BurstyGuest
from .diurnal import DiurnalGuest
from .fio import FioGuest
from .idle import NoGuest
from .multi import MultiGuest
from .poisson import PoissonGuest
from .script import ScriptGuest
from .trace import TraceGuest

__all__ = ["REGISTRY", "Guest", "WorkloadConfig", "RequestStream", "workload_config", "make_guest"]

REGISTRY: dict[str, type[Guest]] = {
    NoGuest.kind: NoGuest,
    FioGuest.kind: FioGuest,
    PoissonGuest.kind: PoissonGuest,
    ScriptGuest.kind: ScriptGuest,
    BurstyGuest.kind: BurstyGuest,
    DiurnalGuest.kind: DiurnalGuest,
    TraceGuest.kind: TraceGuest,
    MultiGuest.kind: MultiGuest,
}

DEFAULT = "fio"


def workload_config(data: Any) -> WorkloadConfig:
    """Validate a ``workload`` table against the config class of its ``kind``."""
    from ..config import ConfigError, _from_pydantic

    if isinstance(data, WorkloadConfig):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("workload", data, "a table with a 'kind' key")
    kind = data.get("kind", DEFAULT)
    cls = REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError("workload.kind", kind, "one of " + ", ".join(repr(n) for n in REGISTRY))
    try:
        return cls.Config.model_validate({**data, "kind": kind})
    except ValidationError as e:
        err = _from_pydantic(e, data, None)
        raise ConfigError("workload." + err.key, err.value, err.expected) from None


def make_guest(env, cfg: WorkloadConfig, blk, disk_size: int, draws) -> Guest:
    """The guest object for a validated config."""
    return REGISTRY[cfg.kind](env, cfg, blk, disk_size, draws)
