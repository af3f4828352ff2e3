"""Block devices: the source disk and the backup target (MODEL.md section 3)."""

from .device import Device
from .profiles import PROFILES

__all__ = ["Device", "PROFILES"]
