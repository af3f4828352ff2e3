"""Block devices: the source disk and the backup target (MODEL.md section 3).

:func:`make_device` picks the model a :class:`sim.config.DeviceConfig` asks
for: the linear-cost :class:`Device`, a :class:`SeekingDisk` (``rpm`` > 0), a
:class:`ChannelSSD` (``channels`` > 0) or a :class:`NetworkTarget`
(``link_bw`` > 0) with a local device of profile ``remote`` behind it.
"""

from __future__ import annotations

from .channels import ChannelSSD
from .device import Device
from .hdd import SeekingDisk
from .network import NetworkTarget
from .profiles import PROFILES

__all__ = ["Device", "SeekingDisk", "ChannelSSD", "NetworkTarget", "PROFILES", "make_device"]


def make_device(env, cfg, draws=None, name: str = "disk", trace: list | None = None):
    """The device object for ``cfg``."""
    if cfg.link_bw:
        from ..config import DeviceConfig

        remote = make_device(env, DeviceConfig.model_validate({"profile": cfg.remote}), draws, f"{name}.remote", trace)
        return NetworkTarget(env, cfg, remote, name, trace)
    if cfg.rpm:
        return SeekingDisk(env, cfg, draws, name, trace)
    if cfg.channels:
        return ChannelSSD(env, cfg, draws, name, trace)
    return Device(env, cfg, draws, name, trace)
