"""The run configuration: one validated, frozen section per model component.

A run is described by :class:`Config`, whose sections (``disk``, ``target``,
``loop``, ``block``, ``backup``, ``policy``, ``workload``, ``faults``, ``run``)
are handed to the components they configure, so model code never reads a
global.  Values are validated with pydantic; sizes are bytes, times are
nanoseconds and rates bytes per second once parsed (:mod:`sim.params.units`).

Every error becomes a :class:`ConfigError` naming the key path, the bad value
and what was expected.  To add a parameter, add a field with its default to the
section it belongs to; to add a policy or workload, register its own config
class in :mod:`sim.policies` or :mod:`sim.workloads` (see those packages).
"""

from __future__ import annotations

import tomllib
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from .devices import DeviceConfig, device_config
from .host import HostConfig
from .jobs import BackupConfig, backup_config
from .nbd import NbdConfig
from .params import (
    Cluster,
    ConfigError,
    Percent,
    Rate,
    Section,
    Size,
    Time,
    describe_value,
    from_validation_error,
    units,
)
from .params import Invalid as _Invalid
from .policies import PolicyConfig, policy_config
from .threadpool import ThreadPoolConfig
from .workloads import WorkloadConfig, workload_config

__all__ = [
    "Config",
    "ConfigError",
    "describe_value",
    "DeviceConfig",
    "LoopConfig",
    "BlockConfig",
    "BackupConfig",
    "FaultsConfig",
    "RunConfig",
    "Size",
    "Time",
    "Rate",
    "Percent",
    "parse_set",
    "build_config",
]


#: The host alarm's floor per era: ``MIN_TIMER_REARM_NS`` of QEMU 1.x qemu-timer.c (dynticks), and none
#: since QEMU's timers moved to ppoll/timerfd with ns precision.
ERA_REARM_NS = {"2013": 250_000, "modern": 0}


class LoopConfig(Section):
    """QEMU's main loop (``docs/model.md`` section 4, :mod:`sim.loop`).

    ``era`` gives the timer floor when ``timer_min_rearm`` is not set (``rearm_ns``
    derives it from the current era, so replacing the era moves it): 250 us in 2013
    (``MIN_TIMER_REARM_NS`` of qemu-timer.c's dynticks alarm), 0 in today's
    QEMU (ppoll/timerfd).  The ``*_cost`` fields are CPU time per handler run;
    ``iteration_cost`` is the CPU time of each iteration between its last ready
    handler and its timer phase: in QEMU 1.4's ``main_loop_wait`` the rest of
    the glib dispatch, ``qemu_iohandler_poll`` over the registered fd handlers,
    ``slirp_pollfds_poll`` and the clock reads of ``qemu_run_all_timers``.  No
    published figure exists; 2 us is an estimate of that code path on a 2013
    server core, of the same order as the per-handler costs (themselves
    assumptions), and ``scenarios/seed-review.toml`` sweeps 0, 1, 2 and 5 us
    because a 1 us sleep is due at the timer check exactly when this cost is
    at least 1 us.  ``zero_sleep`` says whether a 0 ns sleep is a plain yield (re-entered in
    the next iteration) or a timer like any other (as ``co_sleep_ns(0)`` was).
    ``idle_wake`` is the time a loop blocked in poll takes to run again when an
    event arrives (the host CPU leaving its idle state and the scheduler running
    the thread); it is 0 by default and is measured by ``backupsim calibrate``
    (fio over NBD at queue depth 1, paced against back to back).  With
    ``idle_wake_p99`` each wake is drawn (stream ``loop``) from a lognormal
    distribution with median ``idle_wake`` and that 99th percentile.
    ``halt_poll``: only a loop blocked in poll for at least this long pays
    ``idle_wake`` (a virtual CPU idle for less is still polling: KVM's
    ``halt_poll_ns``, 200 us by default); 0 (the default): every wake pays it.
    """

    era: Annotated[Literal["2013", "modern"], BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] = "2013"
    timer_min_rearm: Time | None = None
    submit_cost: Time = 4_000
    complete_cost: Time = 3_000
    backup_step_cost: Time = 2_000
    wake_cost: Time = 1_000
    iteration_cost: Time = 2_000
    zero_sleep: Literal["yield", "timer"] = "yield"
    idle_wake: Time = 0
    idle_wake_p99: Time | None = None
    halt_poll: Time = 0

    @property
    def rearm_ns(self) -> int:
        """The host alarm's floor in force: ``timer_min_rearm`` if given, else the era's."""
        if self.timer_min_rearm is not None:
            return self.timer_min_rearm
        return ERA_REARM_NS[self.era]


class BlockConfig(Section):
    """The block layer (:mod:`sim.block`): request serialization on or off."""

    serialize_overlaps: StrictBool = True


class FaultsConfig(Section):
    """Injected I/O errors of the backup's own I/O (:mod:`sim.faults`).

    Source read errors hit the job's reads (background copy and
    copy-before-write); target write errors hit its writes to the target.
    Either by probability per request or at the listed clusters.
    """

    source_read_error_prob: float = Field(0.0, ge=0.0, le=1.0)
    source_read_error_clusters: tuple[Cluster, ...] = ()
    target_write_error_prob: float = Field(0.0, ge=0.0, le=1.0)
    target_write_error_clusters: tuple[Cluster, ...] = ()


class RunConfig(Section):
    """One run: its seed, time cap, baseline switch and what it records."""

    seed: int = Field(0, ge=0)
    replication: int = Field(0, ge=0)
    max_time: Time = 30 * 60 * 10**9
    baseline: StrictBool = True
    trace: StrictBool = False
    timeline_window: Annotated[int, BeforeValidator(units.parse_time), Field(gt=0)] = 100 * 10**6
    # one row per guest request in RunResult.requests (and per cluster copied in the job's
    # record): memory that grows with the run, for notebooks and small runs; the summary
    # comes from histograms either way (sim.recording)
    keep_requests: StrictBool = False


# The sections whose class depends on a registered name: validated by the class that name picks
Disk = Annotated[DeviceConfig, BeforeValidator(lambda v: device_config(v, "disk"))]
Target = Annotated[DeviceConfig, BeforeValidator(lambda v: device_config(v, "target"))]
Fleece = Annotated[DeviceConfig, BeforeValidator(lambda v: device_config(v, "fleece"))]
PolicySection = Annotated[PolicyConfig, BeforeValidator(policy_config)]
BackupSection = Annotated[BackupConfig, BeforeValidator(backup_config)]
WorkloadSection = Annotated[WorkloadConfig, BeforeValidator(workload_config)]


class Config(Section):
    """A whole run.  Build it with :func:`build_config`, which names bad keys."""

    disk: Disk = device_config({"profile": "sata-ssd"}, "disk")
    target: Target = device_config({"profile": "hdd"}, "target")
    fleece: Fleece = device_config({"profile": "nvme"}, "fleece")
    loop: LoopConfig = LoopConfig()
    block: BlockConfig = BlockConfig()
    backup: BackupSection = backup_config(None)
    policy: PolicySection = policy_config(None)
    workload: WorkloadSection = workload_config(None)
    nbd: NbdConfig = NbdConfig()
    host: HostConfig = HostConfig()
    thread_pool: ThreadPoolConfig = ThreadPoolConfig()
    faults: FaultsConfig = FaultsConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="after")
    def _cross(self) -> Config:
        bs = getattr(self.workload, "bs", None)
        if bs is not None and bs > self.backup.disk_size:
            raise _Invalid("workload.bs", bs, f"at most backup.disk_size ({units.format_size(self.backup.disk_size)})")
        check = getattr(self.workload, "check_disk", None)
        if check is not None:
            try:
                check(self.backup.disk_size)
            except ConfigError as e:
                raise _Invalid(
                    e.key if e.key.startswith("workload.") else "workload." + e.key, e.value, e.expected
                ) from None
        if (
            self.backup.mode == "none"
            and self.workload.duration == "backup"
            and self.workload.kind not in ("trace", "script", "none")
        ):
            raise _Invalid(
                "workload.duration",
                "backup",
                "a time when backup.mode is 'none' (without a backup only a trace or a script ends by itself)",
            )
        self._check_times_and_clusters()
        return self

    def _check_times_and_clusters(self) -> None:
        b, cap = self.backup, self.run.max_time
        n = b.clusters
        for key in ("source_read_error_clusters", "target_write_error_clusters"):
            outside = [c for c in getattr(self.faults, key) if c >= n]
            if outside:
                raise _Invalid(
                    f"faults.{key}",
                    outside[0],
                    f"cluster numbers from 0 to {n - 1} ({outside[0]} is "
                    f"outside the disk: {units.format_size(b.disk_size)} / "
                    f"{units.format_size(b.cluster)} = {n} clusters)",
                )
        if b.mode == "none":
            return
        if b.start > cap:
            raise _Invalid(
                "backup.start",
                units.format_time(b.start),
                f"a time at most run.max_time ({units.format_time(cap)}): the run would end before the backup starts",
            )
        if b.cancel_at is not None and b.start + b.cancel_at > cap:
            raise _Invalid(
                "backup.cancel_at",
                units.format_time(b.cancel_at),
                "a time at most run.max_time - "
                f"backup.start ({units.format_time(cap - b.start)}): the run would end before the cancel",
            )

    def replace(self, **sections: Any) -> Config:
        """A copy with whole sections or dotted keys replaced (``{"run.seed": 3}``).

        Only the sections named are validated again, from their current values
        (nothing is turned back into text), then the checks across sections.
        """
        changes = expand_dotted(sections)
        data: dict[str, Any] = {k: getattr(self, k) for k in type(self).model_fields}
        for name, value in changes.items():
            if name not in data:
                raise ConfigError(name, value, "a section of the configuration: " + ", ".join(data))
            current = data[name]
            if isinstance(value, dict) and not (name in ("policy", "workload") and _renames(current, value)):
                if name == "backup" and _renames(current, value):
                    # another mode: keep the keys every mode shares, drop the old mode's own
                    shared = BackupConfig.model_fields
                    value = {**{k: v for k, v in current.__dict__.items() if k in shared}, **value}
                else:
                    value = {**current.__dict__, **value}  # the current values, parsed, under the new ones
            data[name] = value
        return build_config(data)

    def to_dict(self) -> dict:
        """Every value as resolved, in base units (bytes, ns, bytes/s), JSON-safe."""
        return _plain(self)


def _renames(current: Any, value: dict) -> bool:
    """Does a ``policy`` / ``workload`` / ``backup`` table name another component (then it replaces the whole table)?"""
    for key in ("name", "kind", "mode"):
        if key in value and value[key] != getattr(current, key, None):
            return True
    return False


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Fraction):
        return f"{float(value * 100):g}%"
    return value


def expand_dotted(flat: dict[str, Any]) -> dict:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``; nested dict values merge too."""
    out: dict = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(key, value, "a key below a table, not below a value")
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = merge(node[parts[-1]], value)
        else:
            node[parts[-1]] = value
    return out


def merge(base: dict, over: dict) -> dict:
    """Recursive dict merge: ``over`` wins; a table value replaces key by key."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("policy", "workload"):
            out[k] = merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            # a policy or workload table: a new name replaces the whole table
            out[k] = (
                v
                if ("name" in v and v.get("name") != out[k].get("name"))
                or ("kind" in v and v.get("kind") != out[k].get("kind"))
                else merge(out[k], v)
            )
        else:
            out[k] = v
    return out


def parse_set(item: str) -> tuple[str, Any]:
    """``"backup.cluster_size=4MiB"`` -> ``("backup.cluster_size", "4MiB")``.

    The value is read as a TOML value when it is one (``8``, ``true``,
    ``[1, 2]``, ``{name = "none"}``), else taken as a bare string.
    """
    if "=" not in item:
        raise ConfigError(item, item, "KEY=VALUE", source="--set")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(item, item, "KEY=VALUE with a non-empty key", source="--set")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (ValueError, RecursionError):  # not TOML (or a number beyond Python's 4300 digits)
        value = raw
    return key, value


def build_config(data: dict | None = None, source: str | None = None) -> Config:
    """A validated :class:`Config` from a nested dict, or a :class:`ConfigError`."""
    check_strings(data or {}, "", source)
    try:
        return Config.model_validate(data or {})
    except ConfigError as e:
        raise ConfigError(e.key, e.value, e.expected, source) from None
    except ValidationError as e:
        raise from_validation_error(e, data or {}, source) from None


def check_strings(data: Any, prefix: str = "", source: str | None = None) -> None:
    """Refuse a NUL character in any string or key of ``data`` (it cannot reach a file name or a path)."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ConfigError(prefix or "(value)", data, "a string without NUL characters", source)
    elif isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(k, str) and "\x00" in k:
                raise ConfigError(key, k, "a key without NUL characters", source)
            check_strings(v, key, source)
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            check_strings(v, f"{prefix}.{i}" if prefix else str(i), source)
