"""``multi``: several guest streams on one disk at once, recorded as one guest.

``streams`` is a list of workload tables, each with its own ``kind`` and keys,
for example a database's random reads beside its log's sequential writes::

    [base.workload]
    kind = "multi"
    streams = [
      { kind = "fio", rw = "randread", bs = "8KiB", iodepth = 16, size = "12GiB" },
      { kind = "fio", rw = "write", bs = "64KiB", iodepth = 1, offset = "15GiB" },
    ]

Each stream is a full guest of its kind (closed or open loop, or a trace)
with its own random stream: the multi guest's generator spawns one child per
stream (``numpy.random.Generator.spawn``), so streams are independent,
deterministic, and the same with and without a backup.  A stream may have its
own ``duration``; the multi guest's ``duration`` stops them all.  Requests of
all streams are recorded by the multi guest itself, in one set of records;
with ``run.keep_requests``, ``stream_id`` tells which stream each row of the
request table came from.  Streams cannot nest
(no ``multi`` inside ``multi``).
"""

from __future__ import annotations

from array import array
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from ..params import WORKLOADS, ConfigError
from ..request import Request
from ..rng import Draws
from .base import Guest, WorkloadConfig, reject_stream_keys, workload_config

__all__ = ["MultiGuest", "MultiConfig"]

MAX_STREAMS = 64


def _streams(value):

    if isinstance(value, dict) or not isinstance(value, (list, tuple)):
        raise ConfigError("streams", value, "a list of workload tables, each with a 'kind'")
    out = []
    for i, item in enumerate(value):
        if (
            isinstance(item, dict)
            and item.get("kind", "fio") == "multi"
            or (isinstance(item, WorkloadConfig) and item.kind == "multi")
        ):
            raise ConfigError(f"streams.{i}.kind", "multi", "a kind other than 'multi' (streams do not nest)")
        try:
            out.append(workload_config(item))
        except ConfigError as e:
            key = e.key[len("workload.") :] if e.key.startswith("workload.") else e.key
            raise ConfigError(f"streams.{i}.{key}", e.value, e.expected) from None
    return tuple(out)


class MultiConfig(WorkloadConfig):
    streams: Annotated[tuple[Any, ...], BeforeValidator(_streams)] = ()

    @model_validator(mode="after")
    def _check_multi(self) -> MultiConfig:
        reject_stream_keys(self, "multi")
        if not self.streams or len(self.streams) > MAX_STREAMS:
            raise ConfigError("streams", list(self.streams), f"a list of 1 to {MAX_STREAMS} workload tables")
        return self

    def check_disk(self, disk_size: int) -> None:
        """Each stream's own check against a disk of ``disk_size`` bytes (keys ``streams.N.*``)."""
        for i, sub in enumerate(self.streams):
            try:
                sub.check_disk(disk_size)
            except ConfigError as e:
                raise ConfigError(f"streams.{i}.{e.key}", e.value, e.expected) from None


class _Tap:
    """Stands in for the block layer before one stream: submits to the real one, records in the multi guest."""

    def __init__(self, multi: MultiGuest, k: int):
        self.multi = multi
        self.k = k
        self.guest: Guest | None = None

    def submit_guest(self, req: Request, _on_done) -> None:
        m = self.multi
        req.index = m.issued  # one numbering across streams
        m.issued += 1
        m.blk.submit_guest(req, self.done)

    def done(self, req: Request) -> None:
        m = self.multi
        if m.stats.log is not None:
            m.stream_id.append(self.k)
        m._record(req)
        if self.guest is not None:
            self.guest._completed(req)  # the stream's own reaction (closed loop: the next request)

    def __getattr__(self, name: str):
        return getattr(self.multi.blk, name)


@WORKLOADS.register("multi")
class MultiGuest(Guest):
    """Runs each of ``streams`` as its own guest; keeps their records in one place."""

    Config = MultiConfig

    def __init__(self, env, cfg: MultiConfig, blk, disk_size: int, draws: Draws):
        from . import make_guest

        super().__init__(env, cfg, blk, disk_size, draws)
        self.stream_id = array("h")
        children = draws.gen.spawn(len(cfg.streams))
        self.streams: list[Guest] = []
        for k, (sub, gen) in enumerate(zip(cfg.streams, children)):
            tap = _Tap(self, k)
            tap.guest = make_guest(env, sub, tap, disk_size, Draws(gen))
            self.streams.append(tap.guest)

    def start(self) -> None:
        super().start()
        for g in self.streams:
            g.start()

    def stop(self) -> None:
        super().stop()
        for g in self.streams:
            g.stop()
