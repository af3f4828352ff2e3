"""``none``: no guest at all (the backup alone on the disk)."""

from __future__ import annotations

from ..params import WORKLOADS
from .base import Guest, WorkloadConfig

__all__ = ["NoGuest", "NoGuestConfig"]


class NoGuestConfig(WorkloadConfig):
    """No parameters of its own."""


@WORKLOADS.register("none")
class NoGuest(Guest):
    """Issues nothing."""

    Config = NoGuestConfig
