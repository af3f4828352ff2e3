"""Pacing policies for the backup's background copy, one module each.

``REGISTRY`` maps a scenario's ``policy.name`` to its class; each class
carries its ``Config``.  See :mod:`sim.policies.base` for the interface and how
to add a policy.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .base import Policy, PolicyConfig, PolicyContext
from .deadline import DeadlinePolicy
from .fixed_sleep import FixedSleepPolicy
from .hybrid import HybridPolicy
from .idle_class import IdleClassPolicy
from .idle_only import IdleOnlyPolicy
from .latency_target import LatencyTargetPolicy
from .none import NonePolicy
from .rate_limit import RateLimitPolicy

__all__ = ["REGISTRY", "Policy", "PolicyConfig", "PolicyContext", "policy_config", "make_policy"]

REGISTRY: dict[str, type[Policy]] = {
    NonePolicy.name: NonePolicy,
    FixedSleepPolicy.name: FixedSleepPolicy,
    RateLimitPolicy.name: RateLimitPolicy,
    IdleOnlyPolicy.name: IdleOnlyPolicy,
    HybridPolicy.name: HybridPolicy,
    IdleClassPolicy.name: IdleClassPolicy,
    LatencyTargetPolicy.name: LatencyTargetPolicy,
    DeadlinePolicy.name: DeadlinePolicy,
}

DEFAULT = "none"


def policy_config(data: Any) -> PolicyConfig:
    """Validate a ``policy`` table against the config class of the policy it names."""
    from ..config import ConfigError, _from_pydantic

    if isinstance(data, PolicyConfig):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("policy", data, "a table with a 'name' key")
    name = data.get("name", DEFAULT)
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ConfigError("policy.name", name, "one of " + ", ".join(repr(n) for n in REGISTRY))
    try:
        return cls.Config.model_validate({**data, "name": name})
    except ValidationError as e:
        err = _from_pydantic(e, data, None)
        raise ConfigError("policy." + err.key, err.value, err.expected) from None


def make_policy(cfg: PolicyConfig, ctx: PolicyContext) -> Policy:
    """The policy object for a validated config."""
    return REGISTRY[cfg.name](cfg, ctx)
