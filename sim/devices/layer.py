"""A layer in front of a device: it takes ``submit(req, done)`` and lends every other attribute from the device.

QEMU stacks block nodes (a ``throttle`` filter over a ``raw`` node over a
``file`` node whose requests go through the thread pool); backupsim stacks
layers over a device the same way (:class:`sim.devices.throttle.ThrottledDevice`,
:class:`sim.devices.pooled.PooledDevice`).  A layer defines ``submit`` and what
it adds; ``completed``, ``mean_in_system``, ``cfg`` and the rest are the
wrapped device's.  To add a layer, subclass :class:`DeviceLayer`, set
``self.inner`` and define ``submit``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DeviceLayer"]


class DeviceLayer:
    """Every attribute a subclass does not define is ``self.inner``'s."""

    inner: Any

    def __getattr__(self, attr: str) -> Any:
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(attr)
        return getattr(inner, attr)
