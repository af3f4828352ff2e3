"""Block devices: the source disk and the backup target.

Each device model registers itself in :data:`sim.params.DEVICES` with its
configuration class (:mod:`sim.devices.config`): the linear-cost
:class:`Device` (``linear``), a :class:`SeekingDisk` (``seek``), a
:class:`ChannelSSD` (``channels``) and a :class:`NetworkTarget` (``network``)
with a local device of profile ``remote`` behind it.  :func:`device_config`
validates a ``disk`` or ``target`` table against its model's class;
:func:`make_device` builds the device, behind a :class:`ThrottledDevice`
(QEMU's throttle filter and group, :mod:`sim.devices.throttle`) when its
configuration has a ``throttle`` table.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..params import DEVICES, ConfigError, from_validation_error
from ..threadpool import ThreadPool
from .channels import ChannelSSD
from .config import DeviceConfig, fill_from_profile
from .device import Device
from .hdd import SeekingDisk
from .network import NetworkTarget
from .pooled import PooledDevice
from .profiles import PROFILES
from .throttle import ThrottleConfig, ThrottledDevice, ThrottleGroup, throttled

__all__ = [
    "Device",
    "SeekingDisk",
    "ChannelSSD",
    "NetworkTarget",
    "ThrottledDevice",
    "ThrottleGroup",
    "ThrottleConfig",
    "PROFILES",
    "DeviceConfig",
    "device_config",
    "make_device",
]


def device_config(data: Any, section: str = "disk") -> DeviceConfig:
    """Validate a ``disk`` / ``target`` table against the configuration class of its model."""
    if isinstance(data, DeviceConfig):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(section, data, "a table of device keys")
    data = fill_from_profile(data)
    model = data.get("model", "linear")
    DEVICES.refuse_foreign_keys(data, model, section, "device model")
    cls = DEVICES.get(model, f"{section}.model").Config
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise from_validation_error(e, data, None, f"{section}.") from None


def make_device(
    env,
    cfg: DeviceConfig,
    draws=None,
    name: str = "disk",
    trace: list | None = None,
    groups: dict[str, ThrottleGroup] | None = None,
    pool: ThreadPool | None = None,
):
    """The device object for ``cfg``, behind a throttle node when ``cfg.throttle`` is set.

    ``groups`` holds one run's throttle groups by name, so that the devices of
    one run whose ``throttle.group`` is the same share a group (pass one dict
    for every device of a run; None: a group of this device's own).  A device
    with ``aio = "threads"`` is reached through ``pool``, the loop's thread pool
    (:mod:`sim.threadpool`; None: the device is reached directly).
    """

    def make(profile: str, sub_name: str):
        return make_device(env, device_config({"profile": profile}), draws, sub_name, trace)

    device = DEVICES.get(cfg.model).build(env, cfg, draws, name, trace, make)
    if cfg.aio == "threads" and pool is not None:
        device = PooledDevice(device, pool)  # below the throttle node: file-posix is the bottom of the graph
    if cfg.throttle is not None:
        device = throttled(env, device, cfg.throttle, name, trace, groups, f"{name}.throttle")
    return device
