"""The run configuration: one validated, frozen section per model component.

A run is described by :class:`Config`, whose sections (``disk``, ``target``,
``loop``, ``block``, ``backup``, ``policy``, ``workload``, ``faults``, ``run``)
are handed to the components they configure, so model code never reads a
global.  Values are validated with pydantic; sizes are bytes, times are
nanoseconds and rates bytes per second once parsed (:mod:`sim.units`).

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
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from . import units
from .devices.profiles import PROFILES

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


class ConfigError(ValueError):
    """Bad input: names the source, the key, the value and what was expected."""

    def __init__(self, key: str, value: Any, expected: str, source: str | None = None):
        self.key, self.value, self.expected, self.source = key, value, expected, source
        where = f"{_printable(source)}: " if source else ""
        shown, key_shown = repr(value), _printable(key)
        if len(shown) > 200:  # one readable line, whatever was given
            shown = f"{shown[:120]}... ({len(shown)} characters)"
        if len(key_shown) > 200:
            key_shown = f"{key_shown[:120]}... ({len(key_shown)} characters)"
        super().__init__(f"{where}key '{key_shown}': got {shown}, expected {_printable(expected)}")

    def __reduce__(self):
        # picklable, so an error raised in a worker process reaches the batch intact
        return (ConfigError, (self.key, self.value, self.expected, self.source))


def _printable(text: Any) -> str:
    """``text`` on one line: control characters (a newline in a key or a file name) escaped."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]


def _wrap(parser):
    return BeforeValidator(parser)


def check_speed(value: int | Fraction) -> int | Fraction:
    """A pacing speed: bytes/s >= 0, or a percent of the source's read rate from 0% to 100%."""
    if value < 0 or (isinstance(value, Fraction) and value > 1):
        shown = f"{float(value * 100):g}%" if isinstance(value, Fraction) else value
        raise ValueError(
            f"expected a rate >= 0 such as '64MiB/s', or a percent of disk.read_bw from 0% to 100% "
            f"(for a limit above the disk's rate give bytes/s), got {shown!r}"
        )
    return value


def parse_bandwidth(value: object) -> int:
    """A device's own bandwidth: an absolute rate, never a percent (of what?)."""
    rate = units.parse_rate(value)
    if isinstance(rate, Fraction):
        raise ValueError(
            "expected an absolute rate such as '500MB/s' or '1Gb/s' (a device's own bandwidth "
            f"cannot be a percent), got {value!r}"
        )
    return rate


Size = Annotated[int, _wrap(units.parse_size), Field(ge=0)]
Time = Annotated[int, _wrap(units.parse_time), Field(ge=0)]
Rate = Annotated[int | Fraction, _wrap(units.parse_rate), AfterValidator(check_speed)]
Bandwidth = Annotated[int, _wrap(parse_bandwidth)]
Percent = Annotated[Fraction, _wrap(units.parse_percent)]
Cluster = Annotated[int, Field(strict=True, ge=0)]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)


class DeviceConfig(Section):
    """A source disk or backup target (MODEL.md section 3, :mod:`sim.devices`).

    ``profile`` fills every field the scenario leaves out (``custom``: none).
    ``dist`` shapes the service time around the linear model's value:
    ``fixed``, ``exponential`` (for M/M/1 checks) or ``gamma`` with coefficient
    of variation ``cv`` (jitter).  ``stall_prob`` / ``stall_time`` add rare long
    stalls (SSD garbage collection).  ``rpm`` > 0 adds a seek curve
    (``seek_track`` to ``seek_full`` over ``span`` bytes) and rotational latency
    (:mod:`sim.devices.hdd`); ``channels`` > 0 serializes requests per flash
    channel (:mod:`sim.devices.channels`); ``link_bw`` > 0 makes it a network
    target with round trip ``rtt`` and a ``remote`` device profile behind it
    (:mod:`sim.devices.network`).
    """

    profile: str = "sata-ssd"
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
    rpm: int = Field(0, ge=0, le=100_000)
    seek_track: Time = 0
    seek_full: Time = 0
    span: Size = 0
    channels: int = Field(0, ge=0, le=4096)
    channel_stripe: Size = 64 << 10
    link_bw: Annotated[Bandwidth, Field(ge=0)] = 0
    rtt: Time = 0
    remote: str = "hdd"

    @model_validator(mode="before")
    @classmethod
    def _fill_from_profile(cls, data: Any) -> Any:
        if isinstance(data, dict):
            name = data.get("profile", "sata-ssd")
            if isinstance(name, str) and name in PROFILES:
                return {**PROFILES[name], **data}
        return data

    @model_validator(mode="after")
    def _check(self) -> DeviceConfig:
        if self.profile not in PROFILES and self.profile != "custom":
            raise _Invalid("profile", self.profile, "one of " + ", ".join(repr(p) for p in [*PROFILES, "custom"]))
        if self.dist == "gamma" and self.cv <= 0:
            raise _Invalid("cv", self.cv, "a value > 0 with dist 'gamma'")
        if self.rpm and (self.span <= 0 or self.seek_full < self.seek_track):
            raise _Invalid("span", self.span, "a size > 0 (and seek_full >= seek_track) when rpm is set")
        if self.channels and self.channel_stripe <= 0:
            raise _Invalid("channel_stripe", self.channel_stripe, "a size > 0 when channels is set")
        if self.link_bw and (self.remote not in PROFILES or PROFILES[self.remote].get("link_bw")):
            raise _Invalid(
                "remote",
                self.remote,
                "the profile of a local device: "
                + ", ".join(repr(p) for p, v in PROFILES.items() if not v.get("link_bw")),
            )
        return self


class LoopConfig(Section):
    """QEMU's main loop (MODEL.md section 3, :mod:`sim.loop`).

    ``era`` sets ``timer_min_rearm`` when it is not given: 250 us in 2013
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
    """

    era: Annotated[Literal["2013", "modern"], BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)] = "2013"
    timer_min_rearm: Time | None = None
    submit_cost: Time = 4_000
    complete_cost: Time = 3_000
    backup_step_cost: Time = 2_000
    wake_cost: Time = 1_000
    iteration_cost: Time = 2_000
    zero_sleep: Literal["yield", "timer"] = "yield"

    @model_validator(mode="after")
    def _era_default(self) -> LoopConfig:
        if self.timer_min_rearm is None:
            object.__setattr__(self, "timer_min_rearm", 250_000 if self.era == "2013" else 0)
        return self


class BlockConfig(Section):
    """The block layer (:mod:`sim.block`): request serialization on or off."""

    serialize_overlaps: StrictBool = True


class BackupConfig(Section):
    """The backup job (:mod:`sim.job`).

    ``start`` is when the job starts (the guest warms up before), ``cancel_at``
    when the user cancels it (relative to ``start``).  ``on_cow_error`` is what
    a guest write whose copy-before-write failed gets: ``fail-guest-write``
    (the write and the job fail), ``break-snapshot`` (QEMU 7.1+: the write
    proceeds and the backup is abandoned) or ``leave-hole`` (what the 2013
    patch really did: the write fails, the cluster stays marked copied, and
    the job completes without it).  ``cow_on_read`` also copies
    before guest reads of uncopied clusters, as the reviewed patch's
    ``before_read`` hook did.  ``target_layout`` is where copies land on the
    target: ``stream`` appends them in the order they are made (the patch's
    dump callback writing a VMA archive), ``image`` writes each cluster at its
    own offset (a raw target image, QEMU since the merge).  ``allocated`` and
    ``zero_fraction`` describe a sparse source (:mod:`sim.layout`); ``sync``
    ``top`` skips unallocated clusters, ``full`` copies them as zeroes.
    """

    mode: Literal["seed-2013", "none"] = "seed-2013"
    disk_size: Size = 16 << 30
    cluster_size: Size = 64 << 10
    start: Time = 2 * 10**9
    cancel_at: Time | None = None
    on_cow_error: Literal["fail-guest-write", "break-snapshot", "leave-hole"] = "fail-guest-write"
    cow_on_read: StrictBool = False
    target_layout: Literal["stream", "image"] = "stream"
    sync: Literal["full", "top"] = "full"
    allocated: float = Field(1.0, gt=0.0, le=1.0)
    zero_fraction: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check(self) -> BackupConfig:
        c = self.cluster_size
        if c < 512 or c & (c - 1):
            raise _Invalid("cluster_size", c, "a power of two of at least 512 bytes")
        if self.disk_size <= 0:
            raise _Invalid("disk_size", self.disk_size, "a size greater than zero")
        if c > self.disk_size:
            raise _Invalid("cluster_size", c, f"at most disk_size ({units.format_size(self.disk_size)})")
        if self.disk_size % c:
            raise _Invalid("disk_size", self.disk_size, f"a multiple of cluster_size ({units.format_size(c)})")
        return self


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
    timeline_window: Annotated[int, _wrap(units.parse_time), Field(gt=0)] = 100 * 10**6
    keep_requests: StrictBool = True


class _Invalid(ValueError):
    """A cross-field check failed on ``field`` of the section being validated."""

    def __init__(self, field: str, value: Any, expected: str):
        self.field, self.value, self.expected = field, value, expected
        super().__init__(f"{field}: got {value!r}, expected {expected}")


class Config(Section):
    """A whole run.  Build it with :func:`build_config`, which names bad keys."""

    disk: DeviceConfig = DeviceConfig(profile="sata-ssd")
    target: DeviceConfig = DeviceConfig(profile="hdd")
    loop: LoopConfig = LoopConfig()
    block: BlockConfig = BlockConfig()
    backup: BackupConfig = BackupConfig()
    policy: Any = None
    workload: Any = None
    faults: FaultsConfig = FaultsConfig()
    run: RunConfig = RunConfig()

    @model_validator(mode="before")
    @classmethod
    def _registered(cls, data: Any) -> Any:
        from .policies import policy_config
        from .workloads import workload_config

        if isinstance(data, dict):
            data = dict(data)
            data["policy"] = policy_config(data.get("policy"))
            data["workload"] = workload_config(data.get("workload"))
        return data

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
        n = b.disk_size // b.cluster_size
        for key in ("source_read_error_clusters", "target_write_error_clusters"):
            outside = [c for c in getattr(self.faults, key) if c >= n]
            if outside:
                raise _Invalid(
                    f"faults.{key}",
                    outside[0],
                    f"cluster numbers from 0 to {n - 1} ({outside[0]} is "
                    f"outside the disk: {units.format_size(b.disk_size)} / "
                    f"{units.format_size(b.cluster_size)} = {n} clusters)",
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
        """A copy with whole sections or dotted keys replaced (``{"run.seed": 3}``)."""
        return build_config(merge(self.to_dict(), expand_dotted(sections)))

    def to_dict(self) -> dict:
        """Every value as resolved, in base units (bytes, ns, bytes/s), JSON-safe."""
        return _plain(self)


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
        raise _from_pydantic(e, data or {}, source) from None


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


_EXPECTED = {
    "finite_number": "a finite number",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a table",
    "model_type": "a table",
    "tuple_type": "a list",
    "list_type": "a list",
}


def _raw(data: Any, path: list[str]) -> Any:
    node = data
    for p in path:
        if not isinstance(node, dict) or p not in node:
            return _MISSING
        node = node[p]
    return node


_MISSING = object()


def _from_pydantic(err: ValidationError, data: dict, source: str | None) -> ConfigError:
    """The first pydantic error as a :class:`ConfigError` with the user's own spelling."""
    first = err.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    ctx = first.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, ConfigError):
        return ConfigError(inner.key, inner.value, inner.expected, source)
    if isinstance(inner, _Invalid):
        path = loc + inner.field.split(".") if "." not in inner.field else inner.field.split(".")
        raw = _raw(data, path)
        return ConfigError(".".join(path), inner.value if raw is _MISSING else raw, inner.expected, source)
    key = ".".join(p for p in loc if not p.startswith(("function-", "tagged-union", "literal[")))
    raw = _raw(data, key.split("."))
    value = first.get("input") if raw is _MISSING else raw
    kind = first["type"]
    if kind == "extra_forbidden":
        return ConfigError(key, value, "a known key (`backupsim list` shows them); this key does not exist", source)
    if kind == "literal_error":
        return ConfigError(key, value, "one of " + str(ctx.get("expected")), source)
    if kind in _EXPECTED:
        return ConfigError(key, value, _EXPECTED[kind], source)
    for bound, text in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx and kind.startswith(("greater", "less")):
            return ConfigError(key, value, f"a value {text} {ctx[bound]}", source)
    msg = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if msg.startswith("expected "):
        msg = msg[len("expected ") :].split(", got ")[0]
    return ConfigError(key, value, msg, source)


def describe_value(value, field) -> str:
    """A parameter's default in the units a scenario would use."""
    parsers = {getattr(m, "func", None) for m in field.metadata}
    if value is None:
        return "auto"
    if isinstance(value, Fraction):
        return f"{float(value * 100):g}%"
    if units.parse_time in parsers and isinstance(value, int):
        return units.format_time(value) if value else "0"
    rate = units.parse_rate in parsers or parse_bandwidth in parsers
    if (units.parse_size in parsers or rate) and isinstance(value, int):
        suffix = "/s" if rate else ""
        return units.format_size(value) + suffix
    return repr(value) if isinstance(value, str) else str(value)
