"""``idle-class``: CFQ's idle I/O class with a preemption interval.

What the patch author asked for in the seed thread (25 Feb 2013): "We
previously used LVM and run backup with 'idle' IO priority (CFQ) ... I want to
set an IO priority".  CFQ dispatched an idle-class queue only when no other
queue had asked for I/O for ``CFQ_IDLE_GRACE`` = HZ/10 (100 ms, Linux 2.6
``block/cfq-iosched.c``), one request at a time; ``ionice(1)``: the idle class
gets disk time only "when no other program has asked for disk io for a defined
grace period".  Eggert and Touch ("Idletime scheduling with preemption
intervals", SOSP 2005) generalise this: after foreground activity, background
requests are held back for a preemption interval even if the disk is idle.

A copy starts only after the guest has been quiet (nothing in flight, nothing
submitted or completed) for ``grace``; at most ``depth`` copies are in flight;
no new copy starts once guest I/O arrives (copies in flight finish).
"""

from __future__ import annotations

import simpy
from pydantic import Field

from ..params import POLICIES, Time
from .base import Policy, PolicyConfig
from .quiet import QuietDetector

__all__ = ["IdleClassPolicy", "IdleClassConfig"]


class IdleClassConfig(PolicyConfig):
    grace: Time = 100_000_000
    depth: int = Field(1, ge=1, le=1024)


@POLICIES.register("idle-class")
class IdleClassPolicy(Policy):
    """Copy only after ``grace`` of guest quiet, up to ``depth`` copies at once."""

    Config = IdleClassConfig
    cfg: IdleClassConfig

    def __init__(self, cfg, ctx):
        super().__init__(cfg, ctx)
        self.quiet = QuietDetector(ctx.env, ctx.guest, cfg.grace)

    def before_cluster(self) -> int | simpy.Event:
        return 0 if self.quiet.quiet() else self.quiet.event()

    def depth(self) -> int:
        return self.cfg.depth
