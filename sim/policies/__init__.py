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

from ..params import POLICIES
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
    return POLICIES.section(data, DEFAULT, PolicyConfig)


def make_policy(cfg: PolicyConfig, ctx: PolicyContext) -> Policy:
    """The policy object for a validated config."""
    return POLICIES.get(cfg.name)(cfg, ctx)
