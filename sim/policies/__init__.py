"""Pacing policies for the backup's background copy, one module each.

Each policy registers itself in :data:`sim.params.POLICIES` under the name a
scenario gives as ``policy.name`` (``@POLICIES.register("rate-limit")``) and
carries its ``Config``.  A name that is not built in is looked up among
installed plug-ins and as a ``module:Class`` reference
(:mod:`sim.params.registry`).  See :mod:`sim.policies.base` for the interface
and ``docs/extending.md`` for how to add a policy.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from ..params import POLICIES, ConfigError, from_validation_error
from .base import Policy, PolicyConfig, PolicyContext

for _module in (
    "none",
    "fixed_sleep",
    "rate_limit",
    "idle_only",
    "hybrid",
    "idle_class",
    "latency_target",
    "deadline",
):  # registered in this order, as `backupsim list` shows them
    importlib.import_module(f".{_module}", __name__)

__all__ = ["POLICIES", "Policy", "PolicyConfig", "PolicyContext", "policy_config", "make_policy"]

DEFAULT = "none"


def policy_config(data: Any) -> PolicyConfig:
    """Validate a ``policy`` table against the config class of the policy it names."""
    if isinstance(data, PolicyConfig):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("policy", data, "a table with a 'name' key")
    name = data.get("name", DEFAULT)
    cls = POLICIES.get(name)
    try:
        return cls.Config.model_validate({**data, "name": name})
    except ValidationError as e:
        raise from_validation_error(e, data, None, "policy.") from None


def make_policy(cfg: PolicyConfig, ctx: PolicyContext) -> Policy:
    """The policy object for a validated config."""
    return POLICIES.get(cfg.name)(cfg, ctx)
