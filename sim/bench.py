"""The performance benchmark behind ``backupsim bench`` (``docs/cli.md``, README "Tests and benchmark").

For each disk size it times three things in one process:

1. **the yardstick** (:func:`simpy_reference`): ``slots`` bare SimPy
   processes each doing request, timeout, release on a ``simpy.Resource``.
   It is the fastest SimPy code there is for this kind of work, and it only
   measures how fast this machine runs SimPy *right now*.
2. **the plain-SimPy model** (:func:`plain_simpy_model`): the same work (the
   guest's requests through a queue-depth-limited disk, the backup's cluster
   copies to the target, copy-before-write) as a SimPy user would write it in
   an afternoon, with no event loop, block layer, policies or records.  Its
   ratio to the yardstick is what bare modelling of this work costs.
3. **the backupsim run**: a backup of the disk with 64 KiB clusters under a
   4 KiB random iodepth-8 fio guest, baseline off (``--set`` changes it).

They are interleaved: yardstick, plain model, yardstick, backupsim run (with
``repeats - 4`` yardstick samples *inside* it, at equal fractions of the
backup's progress, from a SimPy callback whose time is subtracted from the
run's wall time), yardstick, plain model, yardstick.  A machine that gets
busier or quieter meanwhile moves some samples with it; the figures are
taken against the yardstick's median, and the plain model's speed is the
median of its two samples (each on at most :data:`PLAIN_MAX_DISK` of disk:
its speed per op does not depend on the disk's size), so one slow moment does
not move them.

``sim_ops_per_s`` counts simulated guest I/Os plus cluster copies per wall
second (the run alone, without building it or the yardstick samples inside
it); ``efficiency`` is its ratio to the yardstick's median, so the figure
travels between machines, and ``model_vs_plain`` its ratio to the plain model:
what the model's extra realism costs.  ``events_per_op`` is how many SimPy
events the run scheduled per op (``env.scheduled``); ``calls_per_op`` the Python
function calls per op, counted by :mod:`cProfile` on a separate small run
(``profile_size``), never on the timed one.

With several sizes (:func:`bench` with ``"1GiB,16GiB"``) each size runs in a
fresh ``python -m sim bench --one`` process, so that its peak RSS is its own.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import simpy

from . import _version
from .clock import Environment
from .config import Config, ConfigError, build_config, merge
from .model import Model
from .params import units

__all__ = [
    "simpy_reference",
    "plain_simpy_model",
    "bench",
    "bench_one",
    "parse_sizes",
    "bench_config",
    "DEFAULT_REPEATS",
    "DEFAULT_PROFILE_SIZE",
    "PLAIN_MAX_DISK",
]

#: Yardstick samples per size, by default (4 around the two plain-model samples, 2 inside the run).
DEFAULT_REPEATS = 6
#: The plain model's samples simulate at most this disk (1 GiB: about 3 s each here).
PLAIN_MAX_DISK = 1 << 30
#: Disk size of the separate run that cProfile counts calls on (at most the smallest size benched).
DEFAULT_PROFILE_SIZE = "256MiB"
#: Yardstick operations per sample at 1 GiB and above (fewer on smaller disks, at least ``_MIN_REF_OPS``).
_REF_OPS = 100_000
_MIN_REF_OPS = 10_000
#: Simulated time between two checks of the backup's progress during the timed run (10 ms).
_PROBE_NS = 10_000_000

_SIZES_EXPECTED = "a disk size or comma-separated sizes, e.g. 16GiB or 1GiB,16GiB"


# ---------------------------------------------------------------- the yardstick


def _yardstick(ops: int, slots: int = 8) -> tuple[float, float]:
    """``(operations per wall second, SimPy events per operation)`` of one yardstick sample."""
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=slots)
    per_proc = max(1, ops // slots)

    def user(env, res):
        for _ in range(per_proc):
            with res.request() as req:
                yield req
                yield env.timeout(1000)

    for _ in range(slots):
        env.process(user(env, res))
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    done = per_proc * slots
    return done / wall, next(env._eid) / done


def simpy_reference(ops: int = 300_000, slots: int = 8) -> float:
    """Resource request/timeout/release cycles per wall second in plain SimPy (the yardstick)."""
    return _yardstick(ops, slots)[0]


def _ref_ops(disk_size: int) -> int:
    """Yardstick operations per sample: 100,000 from 1 GiB (about 1.5 s here), proportionally fewer below."""
    return max(_MIN_REF_OPS, min(_REF_OPS, _REF_OPS * disk_size // (1 << 30)))


# ---------------------------------------------------------------- the plain-SimPy model


def plain_simpy_model(cfg: Config, disk_size: int | None = None) -> dict:
    """The benchmark's work written as plain, idiomatic SimPy; returns its counts and speed.

    What a SimPy user would write in an afternoon for "a guest and a backup
    sharing a disk": ``iodepth`` guest processes in a closed loop, each issuing
    ``bs``-byte random reads (share ``rwmixread``) and writes through a
    ``simpy.Resource`` disk of the configured ``disk.queue_depth``, holding a
    slot for the linear model's service time (random base cost plus
    ``bs / bandwidth``).  From ``backup.start`` a backup process copies every
    cluster in order: hold a disk slot for a sequential ``cluster``-byte read,
    then a target slot (``target.queue_depth``) for a sequential write.  A
    guest write to a cluster not copied yet copies it first
    (copy-before-write), or waits for the copy already under way.  The run ends
    when the backup has copied the last cluster.  ``disk_size`` replaces
    ``backup.disk_size`` (rounded down to whole clusters).

    Only the ``linear`` service times are used (``disk`` and ``target`` of
    ``cfg``: by default a ``sata-ssd`` disk, queue depth 4, and an ``hdd``
    target, queue depth 1); no event loop, CPU costs, block layer,
    serialization, policies or per-request records.  Returns ``guest_ops``,
    ``cluster_copies``, ``ops`` (their sum), ``wall_s``, ``ops_per_s``,
    ``events_per_op`` and ``simulated_s``.
    """
    disk_cfg, target_cfg, wl, bk = cfg.disk, cfg.target, cfg.workload, cfg.backup
    bs = getattr(wl, "bs", 4096)
    iodepth = getattr(wl, "iodepth", 8)
    read_share = getattr(wl, "rwmixread", 70) / 100
    cluster = bk.cluster
    size = bk.disk_size if disk_size is None else max(cluster, disk_size // cluster * cluster)
    n = size // cluster
    nblocks = size // bs
    rng = random.Random(cfg.run.seed)

    # slot times in ns: base cost + bytes / bandwidth
    guest_read = disk_cfg.read_rand_base + bs * 10**9 // disk_cfg.read_bw
    guest_write = disk_cfg.write_rand_base + bs * 10**9 // disk_cfg.write_bw
    copy_read = disk_cfg.read_seq_base + cluster * 10**9 // disk_cfg.read_bw
    copy_write = target_cfg.write_seq_base + cluster * 10**9 // target_cfg.write_bw

    env = simpy.Environment()
    disk = simpy.Resource(env, capacity=disk_cfg.queue_depth)
    target = simpy.Resource(env, capacity=target_cfg.queue_depth)
    copied = bytearray(n)  # 0: not yet, 1: being copied, 2: on the target
    in_copy: dict[int, simpy.Event] = {}
    counts = {"guest": 0, "copies": 0}
    state = {"backup": False, "done": False}

    def io(device: simpy.Resource, ns: int):
        with device.request() as slot:
            yield slot
            yield env.timeout(ns)

    def copy(c: int):
        copied[c] = 1
        in_copy[c] = landed = env.event()
        yield from io(disk, copy_read)
        yield from io(target, copy_write)
        copied[c] = 2
        del in_copy[c]
        counts["copies"] += 1
        landed.succeed()

    def guest():
        while not state["done"]:
            block = rng.randrange(nblocks)
            if rng.random() < read_share:
                yield from io(disk, guest_read)
            else:
                c = block * bs // cluster
                if state["backup"] and copied[c] == 0:
                    yield from copy(c)
                elif copied[c] == 1:
                    yield in_copy[c]
                yield from io(disk, guest_write)
            counts["guest"] += 1

    def backup():
        yield env.timeout(bk.start)
        state["backup"] = True
        for c in range(n):
            if copied[c] == 0:
                yield from copy(c)
            elif copied[c] == 1:
                yield in_copy[c]
        state["done"] = True

    for _ in range(iodepth):
        env.process(guest())
    job = env.process(backup())
    t0 = time.perf_counter()
    env.run(until=job)
    wall = time.perf_counter() - t0
    ops = counts["guest"] + counts["copies"]
    return {
        "guest_ops": counts["guest"],
        "cluster_copies": counts["copies"],
        "ops": ops,
        "disk_size": size,
        "simulated_s": round(env.now / 1e9, 3),
        "wall_s": wall,
        "ops_per_s": ops / wall,
        "events_per_op": next(env._eid) / max(1, ops),
    }


# ---------------------------------------------------------------- the backupsim run


def bench_config(disk_size: str | int, sets: dict | None = None) -> Config:
    """The benchmark's run: ``disk_size``, 64 KiB clusters, a 4 KiB random iodepth-8 fio guest, no baseline."""
    return build_config(
        merge(
            {
                "backup": {"disk_size": disk_size, "cluster_size": "64KiB", "start": "100ms"},
                "workload": {"kind": "fio", "rw": "randrw", "bs": "4KiB", "iodepth": 8},
                "run": {"seed": 1, "baseline": False, "keep_requests": False},
            },
            sets or {},
        )
    )


def _scheduled(env: simpy.Environment | Environment) -> int:
    """How many SimPy events (and fast-agenda calls) ``env`` has scheduled: its event counter."""
    if isinstance(env, Environment):
        return env.scheduled
    return next(env._eid)  # SimPy's own environment: an itertools.count


def _guest_ops(model: Model) -> int:
    """Guest requests completed (``Guest.completed``, or the length of the older per-request arrays)."""
    guest: Any = model.guest
    done = getattr(guest, "completed", None)
    return int(done) if isinstance(done, int) else len(guest.t_done)


def _copies(model: Model) -> int:
    """Clusters copied (background and copy-before-write): the job's progress in clusters."""
    if model.job is None:
        return 0
    record: Any = model.job.record
    progress, size = getattr(record, "progress", None), getattr(record, "cluster_size", None)
    if isinstance(progress, int) and size:
        return progress // size
    copies = getattr(record, "copies", None)
    return int(copies) if isinstance(copies, int) else len(record.copy_t)


class _Interleave:
    """A SimPy callback that runs yardstick samples inside the timed run, at fractions of the backup's progress.

    It only reads the job's progress and schedules its own timeouts (counted
    in ``events``, so that they can be left out of the events per op); it
    touches nothing of the model, whose events keep their relative order.
    """

    def __init__(self, model: Model, fractions: Sequence[float], sample: Callable[[], None]):
        self.model = model
        self.fractions = list(fractions)
        self.sample = sample
        self.paused = 0.0  # wall seconds spent in samples
        self.events = 0
        record: Any = model.job.record if model.job is not None else None
        total = getattr(record, "n", 0) * getattr(record, "cluster_size", 0)
        self.record, self.total = record, total
        if self.fractions and record is not None and total and hasattr(record, "progress"):
            self._arm()

    def _arm(self) -> None:
        self.events += 1
        self.model.env.timeout(_PROBE_NS).callbacks.append(self)

    def __call__(self, _event: simpy.Event) -> None:
        if self.record.progress >= self.fractions[0] * self.total:
            t0 = time.perf_counter()
            self.sample()
            self.paused += time.perf_counter() - t0
            self.fractions.pop(0)
        if self.fractions and self.record.status in ("pending", "running"):
            self._arm()


def _calls_per_op(cfg: Config) -> tuple[float, float]:
    """Python function calls per op (cProfile's primitive calls) of backupsim and of the plain model on ``cfg``."""
    prof = cProfile.Profile()
    prof.enable()
    model = Model(cfg).run()
    prof.disable()
    ops = _guest_ops(model) + _copies(model)
    model_calls = pstats.Stats(prof).prim_calls / max(1, ops)  # type: ignore[attr-defined]
    prof = cProfile.Profile()
    prof.enable()
    plain = plain_simpy_model(cfg)
    prof.disable()
    plain_calls = pstats.Stats(prof).prim_calls / max(1, plain["ops"])  # type: ignore[attr-defined]
    return model_calls, plain_calls


def _check_repeats(repeats: int) -> None:
    if repeats < 4:
        raise ConfigError(
            "--repeats", repeats, "an integer >= 4 (around each plain-model sample and the run)", "command line"
        )


def bench_one(
    disk_size: str = "16GiB",
    sets: dict | None = None,
    repeats: int = DEFAULT_REPEATS,
    ref_ops: int | None = None,
) -> dict:
    """One size in this process: yardstick samples interleaved with the plain model and the backupsim run.

    Returns the figures of that size (the keys of the JSON line but ``sizes``
    and the cProfile ones).  ``repeats`` (at least 4) yardstick samples of
    ``ref_ops`` operations each (default: 100,000 from 1 GiB, fewer below).
    """
    _check_repeats(repeats)
    cfg = bench_config(disk_size, sets)
    ops_per_sample = ref_ops or _ref_ops(cfg.backup.disk_size)
    plain_size = min(cfg.backup.disk_size, PLAIN_MAX_DISK)
    samples: list[float] = []
    ref_events: list[float] = []
    plains: list[dict] = []

    def sample() -> None:
        rate, events = _yardstick(ops_per_sample)
        samples.append(rate)
        ref_events.append(events)

    sample()
    plains.append(plain_simpy_model(cfg, plain_size))
    sample()
    t0 = time.perf_counter()
    model = Model(cfg)
    build = time.perf_counter() - t0
    inside = repeats - 4
    probe = _Interleave(model, [(i + 1) / (inside + 1) for i in range(inside)], sample)
    t0 = time.perf_counter()
    model.run()
    wall = time.perf_counter() - t0 - probe.paused
    events = _scheduled(model.env) - probe.events
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux: the run's peak
    while len(samples) < repeats - 2:  # samples the run did not reach (a run without progress)
        sample()
    sample()
    plains.append(plain_simpy_model(cfg, plain_size))
    sample()
    plain = plains[0]
    plain_rate = statistics.median(p["ops_per_s"] for p in plains)

    guest_ops = _guest_ops(model)
    copies = _copies(model)
    ops = guest_ops + copies
    sim_ops = ops / wall
    ref = statistics.median(samples)
    lo, hi = min(samples), max(samples)
    return {
        "disk_size": disk_size,
        "kernel": _version.kernel(),
        "status": model.job.status if model.job else "no-backup",
        "guest_ops": guest_ops,
        "cluster_copies": copies,
        "simulated_s": round(model.t_end / 1e9, 3),
        "wall_s": round(wall, 3),
        "build_s": round(build, 3),
        "sim_ops_per_s": round(sim_ops),
        "simpy_ops_per_s": round(ref),
        "efficiency": round(sim_ops / ref, 4),
        "peak_rss_mib": round(rss, 1),
        "simpy_samples": [round(s) for s in samples],
        "simpy_ops_per_s_min": round(lo),
        "simpy_ops_per_s_max": round(hi),
        "simpy_spread": round((hi - lo) / ref, 4),
        "efficiency_range": [round(sim_ops / hi, 4), round(sim_ops / lo, 4)],
        "plain_disk_size": units.format_size(plain_size),
        "plain_guest_ops": plain["guest_ops"],
        "plain_cluster_copies": plain["cluster_copies"],
        "plain_wall_s": round(plain["wall_s"], 3),
        "plain_samples": [round(p["ops_per_s"]) for p in plains],
        "plain_ops_per_s": round(plain_rate),
        "plain_efficiency": round(plain_rate / ref, 4),
        "model_vs_plain": round(sim_ops / plain_rate, 4),
        "events_per_op": round(events / max(1, ops), 2),
        "plain_events_per_op": round(plain["events_per_op"], 2),
        "simpy_events_per_op": round(statistics.median(ref_events), 2),
    }


# ---------------------------------------------------------------- several sizes


def parse_sizes(text: str | Sequence[str], sets: dict | None = None) -> list[str]:
    """``"1GiB,16GiB"`` -> ``["1GiB", "16GiB"]``, each checked as a benchmark disk size.

    Raises :class:`ConfigError` naming ``--disk-size`` for an empty list, a
    value that is not a size, or a size the benchmark's run refuses (not a
    multiple of its 64 KiB clusters), and naming ``--set`` when it is the
    overrides ``sets`` that the run refuses with that size.
    """
    shown = text if isinstance(text, str) else ",".join(text)
    items = [s.strip() for s in shown.split(",")]
    if not shown.strip() or any(not s for s in items):
        raise ConfigError("--disk-size", shown, _SIZES_EXPECTED, "command line")
    for s in items:
        try:
            size = units.parse_size(s)
        except ValueError as e:
            why = str(e).removeprefix("expected ").split(", got ")[0]
            raise ConfigError("--disk-size", s, f"{_SIZES_EXPECTED} ({why})", "command line") from None
        if size <= 0:
            raise ConfigError("--disk-size", s, "a size greater than zero", "command line")
        try:
            bench_config(s, sets)
        except ConfigError as e:
            try:
                bench_config(s)
            except ConfigError as alone:  # the size itself
                raise ConfigError("--disk-size", s, alone.expected, "command line") from None
            raise ConfigError(e.key, e.value, e.expected, "--set") from None
    return items


def _line(fig: dict) -> str:
    """One human line per size."""
    return (
        f"bench {fig['disk_size']}: {fig['wall_s']:.2f} s wall, peak RSS {fig['peak_rss_mib']:.0f} MiB, "
        f"{fig['guest_ops'] + fig['cluster_copies']} ops ({fig['guest_ops']} guest + {fig['cluster_copies']} copies) "
        f"= {fig['sim_ops_per_s']} ops/s; yardstick median {fig['simpy_ops_per_s']} ops/s "
        f"({fig['simpy_ops_per_s_min']}-{fig['simpy_ops_per_s_max']}, {len(fig['simpy_samples'])} samples); "
        f"efficiency {fig['efficiency']:.3f} ({fig['efficiency_range'][0]:.3f}-{fig['efficiency_range'][1]:.3f}); "
        f"plain SimPy {fig['plain_ops_per_s']} ops/s (efficiency {fig['plain_efficiency']:.3f}), "
        f"model/plain {fig['model_vs_plain']:.3f}; {fig['events_per_op']:.1f} events/op "
        f"(plain {fig['plain_events_per_op']:.1f}, yardstick {fig['simpy_events_per_op']:.1f})"
    )


def _child(size: str, set_args: Sequence[str], repeats: int, ref_ops: int | None) -> dict:
    cmd = [sys.executable, "-m", "sim", "bench", "--one", "--disk-size", size, "--repeats", str(repeats)]
    if ref_ops:
        cmd += ["--ref-ops", str(ref_ops)]
    for s in set_args:
        cmd += ["--set", s]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"backupsim bench: the {size} run failed (status {r.returncode}): {' '.join(cmd)}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench(
    disk_size: str | Sequence[str] = "16GiB",
    sets: dict | None = None,
    repeats: int = DEFAULT_REPEATS,
    ref_ops: int | None = None,
    profile_size: str | None = DEFAULT_PROFILE_SIZE,
    isolate: bool | None = None,
    set_args: Sequence[str] = (),
    say: Callable[[str], Any] | None = None,
) -> dict:
    """Run the benchmark for every size; returns the figures printed as the JSON line.

    The top-level keys are those of the last size (as before), plus
    ``sizes`` (one entry per size: ``disk_size``, ``wall_s``,
    ``peak_rss_mib``, ``guest_ops``, ``cluster_copies``, ``sim_ops_per_s``,
    ``efficiency``, ...) and ``calls_per_op`` / ``plain_calls_per_op``,
    counted under cProfile on a separate run of ``profile_size`` (at most the
    smallest size; ``None``: not counted).  ``isolate`` runs each size in a
    fresh process (default: when there are several sizes), which needs the
    ``--set`` items as text (``set_args``).  ``say`` gets one line per size.
    """
    sizes = parse_sizes(disk_size, sets)
    _check_repeats(repeats)
    profile_cfg = None
    if profile_size:
        smallest = min(sizes, key=units.parse_size)
        profile_size = profile_size if units.parse_size(profile_size) <= units.parse_size(smallest) else smallest
        profile_cfg = bench_config(profile_size, sets)  # refused now, not after the timed runs
    if isolate is None:
        isolate = len(sizes) > 1
    figs = []
    for size in sizes:
        fig = _child(size, set_args, repeats, ref_ops) if isolate else bench_one(size, sets, repeats, ref_ops)
        if say is not None:
            say(_line(fig))
        figs.append(fig)
    out = dict(figs[-1])
    out["sizes"] = [
        {
            k: f[k]
            for k in (
                "disk_size",
                "status",
                "wall_s",
                "peak_rss_mib",
                "guest_ops",
                "cluster_copies",
                "sim_ops_per_s",
                "simpy_ops_per_s",
                "efficiency",
                "plain_ops_per_s",
                "model_vs_plain",
                "events_per_op",
            )
        }
        for f in figs
    ]
    if profile_cfg is not None:
        model_calls, plain_calls = _calls_per_op(profile_cfg)
        out["profile_disk_size"] = profile_size
        out["calls_per_op"] = round(model_calls, 1)
        out["plain_calls_per_op"] = round(plain_calls, 1)
    return out
