"""The pacing policy interface: when may the backup's background loop copy next?

A policy is a small object with one job.  Before each cluster the job calls
:meth:`Policy.before_cluster`, which answers either

* an ``int``: sleep that many ns first (0 = just yield to the loop), or
* a :class:`simpy.Event`: wait until it fires, then ask again.

:meth:`Policy.depth` bounds how many background copies may be in flight at
once; the patch copies one cluster at a time (depth 1), and a policy that
allows more makes the job run further copies beside its loop.

The job reports every cluster copy through :meth:`Policy.on_copy` (background
and copy-before-write alike; only the background copies are paced).  A policy
sees the guest through :class:`sim.activity.GuestActivity` and the job's
progress through ``ctx.job``, a read-only :class:`sim.jobs.JobProgress`; it
draws randomness only from the ``policy`` stream it is given.

On the modern modes (``block-copy``, ``proxmox``) the job asks
:meth:`Policy.before_cluster` before each background *task* (a chunk of up to
1 MiB or more), :meth:`Policy.depth` bounds its workers below
``backup.max_workers`` (QEMU's ``x-perf.max-workers``), and
:meth:`Policy.on_copy` is called when a task is *created*, with its bytes, as
QEMU's limiter charges them.

To add a policy: write a module in this package with a :class:`PolicyConfig`
subclass whose ``name`` is a ``Literal`` of the policy's name, and a
:class:`Policy` subclass with ``Config`` set to it and a docstring citing
where the policy comes from, registered in :data:`sim.params.POLICIES`
(``@POLICIES.register("name")``); a built-in policy also goes into the list of
modules ``__init__`` imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import simpy

from ..clock import Environment
from ..params import Section

if TYPE_CHECKING:
    from ..activity import GuestActivity
    from ..devices.config import DeviceConfig
    from ..rng import Draws

__all__ = ["Policy", "PolicyConfig", "PolicyContext"]


class PolicyConfig(Section):
    """Parameters of one policy; subclasses add fields with their defaults.

    ``name`` is the name the policy is registered under (or the ``module:Class``
    reference of a plug-in); :func:`sim.policies.policy_config` sets it.
    """

    name: str = ""


class PolicyContext:
    """What a policy may see: the simulation clock, the guest, the devices, the job's progress."""

    def __init__(
        self,
        env: Environment,
        guest: GuestActivity,
        disk: DeviceConfig,
        target: DeviceConfig,
        draws: Draws,
        job=None,
    ):
        self.env = env
        self.guest = guest
        self.disk = disk
        self.target = target
        self.draws = draws
        self.job = job


class Policy:
    """Base class: never waits (subclasses override :meth:`before_cluster`)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[PolicyConfig]] = PolicyConfig
    #: Consult the policy before clusters already copied too.  The patch and the
    #: merged job do (a sleep or yield per cluster, copied or not: the spinning the
    #: review discussed); policies written since jump to the next uncopied cluster.
    gates_copied: ClassVar[bool] = False

    def __init__(self, cfg: PolicyConfig, ctx: PolicyContext):
        self.cfg = cfg
        self.ctx = ctx

    def start(self) -> None:
        """The job starts now (``ctx.job.t_start``): arm timers, reset state."""

    def stop(self) -> None:
        """The job has ended: stop any timers of the policy."""

    def before_cluster(self) -> int | simpy.Event:
        """How long to wait before the next background cluster (see module doc)."""
        return 0

    def depth(self) -> int:
        """How many background copies may be in flight at once; 0 leaves it to the mode.

        The 2013 job copies one cluster at a time unless a policy allows more;
        the modern modes run up to ``backup.max_workers`` tasks, and never more
        than a nonzero depth.
        """
        return 0

    def on_copy(self, nbytes: int, cow: bool) -> None:
        """A cluster of ``nbytes`` was copied (``cow``: by a guest write's copy-before-write)."""
