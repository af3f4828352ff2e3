"""``none``: no guest at all (the backup alone on the disk)."""

from __future__ import annotations

from typing import Literal

from .base import Guest, WorkloadConfig

__all__ = ["NoGuest", "NoGuestConfig"]


class NoGuestConfig(WorkloadConfig):
    kind: Literal["none"] = "none"


class NoGuest(Guest):
    """Issues nothing."""

    kind = "none"
    Config = NoGuestConfig
