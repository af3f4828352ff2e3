"""Device configuration: the fields every device model shares, and one class per model.

``disk`` and ``target`` are each validated by the configuration class of
their ``model`` (:data:`sim.params.DEVICES`), chosen explicitly by the
``model`` key or by the profile's model; a key that belongs to another model
is an error that names the model to choose.  A ``profile`` fills every field
the scenario leaves out (``custom``: none).

* ``linear`` (:class:`DeviceConfig`, :mod:`sim.devices.device`): blk-iocost's
  linear cost model.  ``dist`` shapes the service time around the linear
  model's value: ``fixed``, ``exponential`` (for M/M/1 checks) or ``gamma``
  with coefficient of variation ``cv`` (jitter); ``stall_prob`` /
  ``stall_time`` add rare long stalls (SSD garbage collection).
* ``seek`` (:class:`SeekConfig`, :mod:`sim.devices.hdd`): adds a seek curve
  (``seek_track`` to ``seek_full`` over ``span`` bytes) and rotational latency
  at ``rpm``.
* ``channels`` (:class:`ChannelsConfig`, :mod:`sim.devices.channels`):
  serializes requests per flash channel (``channels``, ``channel_stripe``).
* ``network`` (:class:`NetworkConfig`, :mod:`sim.devices.network`): a link of
  ``link_bw``, a round trip ``rtt`` and a local device of profile ``remote``.

Every model also takes a ``throttle`` table (:class:`ThrottleConfig`): QEMU's
throttle limits in front of the device (:mod:`sim.devices.throttle`).

To add a model: subclass :class:`DeviceConfig` with the model's own fields,
write the device class with ``Config`` set to it and register it with
``@DEVICES.register("name")`` (see ``docs/extending.md``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..params import Bandwidth, Invalid, Section, Size, Time
from .profiles import PROFILES
from .throttle import ThrottleConfig

__all__ = ["DeviceConfig", "SeekConfig", "ChannelsConfig", "NetworkConfig"]


class DeviceConfig(Section):
    """A source disk or backup target: the linear model's fields, shared by every model."""

    profile: str = "sata-ssd"
    model: str = "linear"
    queue_depth: int = Field(1, ge=1, le=4096)
    read_bw: Annotated[Bandwidth, Field(gt=0)] = 1_000_000_000
    write_bw: Annotated[Bandwidth, Field(gt=0)] = 1_000_000_000
    read_seq_base: Time = 0
    read_rand_base: Time = 0
    write_seq_base: Time = 0
    write_rand_base: Time = 0
    seq_window: Size = 16 << 20
    dist: Literal["fixed", "exponential", "gamma"] = "fixed"
    cv: float = Field(0.0, ge=0.0, le=10.0)
    stall_prob: float = Field(0.0, ge=0.0, le=1.0)
    stall_time: Time = 0
    #: memory on this host (a tmpfs file, a RAM disk): moving its bytes is the CPU's copy, so a request's
    #: own CPU work (``Request.cpu_ns``: faults of a fresh buffer, sim/host.py) is part of its transfer
    memory: bool = Field(False, strict=True)
    #: how QEMU submits the device's requests: ``native`` from the loop's own thread (Linux AIO, io_uring, or a
    #: device model's own submission); ``threads`` through the loop's thread pool (the ``file`` driver's default,
    #: ``aio=threads``), which costs ``[thread_pool]`` (sim/threadpool.py)
    aio: Literal["native", "threads"] = "native"
    #: QEMU I/O throttling in front of the device (:mod:`sim.devices.throttle`); None: none
    throttle: ThrottleConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> DeviceConfig:
        if self.profile not in PROFILES and self.profile != "custom":
            raise Invalid("profile", self.profile, "one of " + ", ".join(repr(p) for p in [*PROFILES, "custom"]))
        if self.dist == "gamma" and self.cv <= 0:
            raise Invalid("cv", self.cv, "a value > 0 with dist 'gamma'")
        return self


class SeekConfig(DeviceConfig):
    """A hard disk with a seek curve and rotational latency."""

    rpm: int = Field(7200, ge=1, le=100_000)
    seek_track: Time = 0
    seek_full: Time = 0
    span: Size = 0

    @model_validator(mode="after")
    def _check_seek(self) -> SeekConfig:
        if self.span <= 0 or self.seek_full < self.seek_track:
            raise Invalid("span", self.span, "a size > 0 (and seek_full >= seek_track) for model 'seek'")
        return self


class ChannelsConfig(DeviceConfig):
    """An SSD whose requests are serialized per flash channel."""

    channels: int = Field(8, ge=1, le=4096)
    channel_stripe: Annotated[Size, Field(gt=0)] = 64 << 10


class NetworkConfig(DeviceConfig):
    """A target across a link, with a local device of profile ``remote`` behind it."""

    link_bw: Annotated[Bandwidth, Field(gt=0)] = 125_000_000
    rtt: Time = 0
    remote: str = "hdd"

    @model_validator(mode="after")
    def _check_remote(self) -> NetworkConfig:
        if self.remote not in PROFILES or PROFILES[self.remote].get("model", "linear") == "network":
            raise Invalid(
                "remote",
                self.remote,
                "the profile of a local device: "
                + ", ".join(repr(p) for p, v in PROFILES.items() if v.get("model", "linear") != "network"),
            )
        return self


def fill_from_profile(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` over its profile's values (a profile of another model than asked lends only shared keys)."""
    name = data.get("profile", "sata-ssd")
    prof = PROFILES.get(name) if isinstance(name, str) else None
    if prof is None:
        return data
    model = data.get("model", prof.get("model", "linear"))
    if model != prof.get("model", "linear"):
        prof = {k: v for k, v in prof.items() if k in DeviceConfig.model_fields}
    return {**prof, **data, "model": model}
