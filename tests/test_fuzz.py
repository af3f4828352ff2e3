"""Fuzzing: random scenarios and command lines either run or exit 2 with one message.

Hypothesis generates scenarios (valid small ones, and ones mutated with unknown
keys, values of the wrong type, random units, random sweep shapes) and command
lines for ``backupsim check`` / ``backupsim run``.  Every example must either
succeed or exit 2 with exactly one line on stderr, ``backupsim: error: ...``;
any other exception or output is a failure.  Random *valid* small scenarios
also check conservation on :func:`sim.run_one`: every guest request completes
exactly once, a completed backup put every byte of the disk on the target
(or accounted for it as a zero or unallocated cluster), copy-before-write never
copies more clusters than the disk has, and with request serialization on every
run is consistent (and complete when it completed).

The default run is a few hundred examples, derandomized (the same every time);
``pytest -m slow tests/test_fuzz.py`` runs ten thousand random ones.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import sim
from sim.cli import main
from sim.config import Config
from sim.devices import PROFILES
from sim.params import POLICIES, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
SLOW_EXAMPLES = 10_000
SECTIONS = ("disk", "target", "loop", "block", "backup", "faults", "run")

# every configuration key a scenario may set, for mutations, sweeps and --set
KNOWN_KEYS = sorted(
    {f"{s}.{f}" for s in SECTIONS for f in type(getattr(Config(), s)).model_fields}
    | {f"policy.{f}" for cls in POLICIES.values() for f in cls.Config.model_fields}
    | {f"workload.{f}" for cls in WORKLOADS.values() for f in cls.Config.model_fields}
)

VALID_UNITS = [
    "",
    "B",
    "KiB",
    "MiB",
    "GiB",
    "kB",
    "MB",
    "GB",
    "ns",
    "us",
    "µs",
    "ms",
    "s",
    "min",
    "h",
    "KiB/s",
    "MiB/s",
    "MB/s",
    "Gb/s",
    "Mbit/s",
    "kb/s",
    "%",
    "B/s",
]
BAD_UNITS = ["mb", "kib", "k", "M", "MS", "Us", "b/s", "mb/s", "Mb", "fortnights", "/s", "%%", " KiB", "e3", "-"]
SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


# ---------------------------------------------------------------- TOML writer


class Raw(str):
    """Text written into the TOML file as it is (not quoted)."""


def toml_value(v) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(type(v))


def toml_text(data: dict) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items() if v is not None)


# ---------------------------------------------------------------- strategies


def _time(lo_us: int, hi_us: int):
    return st.integers(lo_us, hi_us).map(lambda us: f"{us}us")


@st.composite
def policies(draw):
    name = draw(st.sampled_from(sorted(POLICIES)))
    p: dict = {"name": name}
    if name == "fixed-sleep":
        p["sleep"] = draw(_time(0, 200))
    elif name == "rate-limit":
        p["speed"] = draw(st.sampled_from(["5%", "20%", "100%", "0", "64MiB/s", "1Gb/s", "200MB/s"]))
        p["limiter"] = draw(st.sampled_from(["fractional", "2013"]))
        if draw(st.booleans()):
            p["schedule"] = [[draw(_time(0, 50_000)), draw(st.sampled_from(["50%", "128MiB/s", "0"]))]]
    elif name == "hybrid":
        p["busy_speed"] = draw(st.sampled_from(["10%", "50%", "100MB/s"]))
        p["window"] = draw(_time(100, 20_000))
    elif name == "idle-class":
        p["grace"] = draw(_time(0, 20_000))
        p["depth"] = draw(st.integers(1, 4))
    elif name == "latency-target":
        p["target"] = draw(_time(100, 5_000))
        p["max_depth"] = draw(st.integers(1, 4))
        p["floor"] = draw(st.sampled_from(["1%", "10%", "8MiB/s"]))
    elif name == "deadline":
        p["deadline"] = draw(_time(10_000, 500_000))
    return p


@st.composite
def stream(draw, disk: int, kinds=("none", "fio", "poisson", "bursty", "diurnal", "script")):
    kind = draw(st.sampled_from(kinds))
    w: dict = {"kind": kind}
    if kind in ("none", "script"):
        if kind == "script":
            w["requests"] = [
                [
                    f"{draw(st.integers(0, 100_000))}us",
                    draw(st.sampled_from(["r", "w"])),
                    draw(st.integers(0, disk // 4096 - 1)) * 4096,
                    "4KiB",
                ]
                for _ in range(draw(st.integers(1, 12)))
            ]
        return w
    w["rw"] = draw(st.sampled_from(["read", "write", "randread", "randwrite", "randrw", "rw"]))
    w["bs"] = draw(st.sampled_from(["4KiB", "16KiB", "64KiB"]))
    if draw(st.booleans()):
        w["duration"] = draw(_time(1_000, 200_000))
    if kind == "fio":
        w["iodepth"] = draw(st.integers(1, 4))
        w["think_time"] = draw(_time(500, 5_000))
    else:
        w["iops"] = draw(st.integers(50, 2_000))
    if kind == "bursty":
        w["on_mean"] = draw(_time(1_000, 50_000))
        w["off_mean"] = draw(_time(1_000, 50_000))
        w["period_dist"] = draw(st.sampled_from(["exponential", "pareto"]))
    if kind == "diurnal":
        w["period"] = draw(_time(10_000, 200_000))
    if w["rw"].startswith("rand") and draw(st.booleans()):
        w["offset_dist"] = "zipf"
    return w


@st.composite
def small_configs(draw, serialize: bool | None = True) -> dict:
    """A valid configuration small enough to run in well under a second."""
    cluster = draw(st.sampled_from([16 << 10, 64 << 10, 256 << 10]))
    disk = cluster * draw(st.integers(4, (8 << 20) // cluster))
    start_us = draw(st.integers(0, 20_000))
    max_us = start_us + draw(st.integers(50_000, 400_000))
    backup = {
        "disk_size": disk,
        "cluster_size": cluster,
        "start": f"{start_us}us",
        "target_layout": draw(st.sampled_from(["stream", "image"])),
        "cow_on_read": draw(st.booleans()),
        "on_cow_error": draw(st.sampled_from(["fail-guest-write", "break-snapshot", "leave-hole"])),
    }
    if draw(st.integers(0, 3)) == 0:
        backup["sync"] = draw(st.sampled_from(["full", "top"]))
        backup["allocated"] = draw(st.sampled_from([0.25, 0.5, 1.0]))
        backup["zero_fraction"] = draw(st.sampled_from([0.0, 0.3]))
    if draw(st.integers(0, 5)) == 0:
        backup["cancel_at"] = f"{draw(st.integers(0, max_us - start_us))}us"
    faults: dict = {}
    if draw(st.integers(0, 4)) == 0:
        n = disk // cluster
        faults = draw(
            st.sampled_from(
                [
                    {"source_read_error_prob": 0.05},
                    {"target_write_error_prob": 0.05},
                    {"source_read_error_clusters": [draw(st.integers(0, n - 1))]},
                    {"target_write_error_clusters": [draw(st.integers(0, n - 1))]},
                ]
            )
        )
    disk_dev = {"profile": draw(st.sampled_from(["sata-ssd", "nvme", "hdd", "ssd-gc", "nvme-channels", "hdd-seek"]))}
    if draw(st.booleans()):
        disk_dev.update(dist="gamma", cv=draw(st.sampled_from([0.3, 1.0])))
    if draw(st.integers(0, 6)) == 0:
        workload = {"kind": "multi", "streams": [draw(stream(disk, ("fio", "poisson", "script"))) for _ in range(2)]}
    else:
        workload = draw(stream(disk, ("none", "fio", "poisson", "bursty", "diurnal", "script")))
    return {
        "disk": disk_dev,
        "target": {"profile": draw(st.sampled_from(["hdd", "sata-ssd", "nvme", "network-1g", "network-10g"]))},
        "loop": {"era": draw(st.sampled_from(["2013", "modern"]))},
        "block": {"serialize_overlaps": draw(st.booleans()) if serialize is None else serialize},
        "backup": backup,
        "policy": draw(policies()),
        "workload": workload,
        "faults": faults,
        "run": {
            "baseline": draw(st.integers(0, 4)) == 0,
            "max_time": f"{max_us}us",
            "timeline_window": draw(st.sampled_from(["10ms", "50ms", "100ms"])),
            "keep_requests": True,
        },
    }


def junk_values():
    number = st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32))
    return st.one_of(
        st.integers(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.booleans(),
        SAFE_TEXT,
        st.builds(lambda n, u: f"{n}{u}", number, st.sampled_from(VALID_UNITS + BAD_UNITS)),
        st.builds(lambda n, u: f"{n}{u}", number, SAFE_TEXT),
        st.just("\x00"),
        st.just(""),
        st.just("9" * 5000),
        st.just("1e999999999s"),
        st.lists(st.integers(-5, 5), max_size=3),
        st.dictionaries(SAFE_TEXT, st.integers(), max_size=2),
        st.just([["1ms", "-5%"]]),
        st.just([[-1, "1MiB/s"]]),
        st.just([{"kind": "multi"}]),
        st.just(Raw("9" * 5000)),
        st.just(Raw("[" * 2000 + "]" * 2000)),
        st.just(Raw("1e999")),
        st.builds(Raw, st.text(alphabet="0123456789[]{}.,=+-_:\"' \n\\abcdefinxo", max_size=20)),
    )


def _set_path(d: dict, key: str, value) -> None:
    parts = key.split(".")
    node = d
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value


@st.composite
def sweeps(draw, base: dict) -> dict:
    sweep: dict = {}
    for _ in range(draw(st.integers(0, 3))):
        shape = draw(st.integers(0, 5))
        if shape == 0:  # a whole-table sweep of policies
            sweep["policy"] = draw(st.lists(policies(), min_size=1, max_size=3))
        elif shape == 1:  # an overlapping key
            sweep["policy.name"] = draw(st.lists(st.sampled_from(sorted(POLICIES)), min_size=1, max_size=3))
        elif shape == 2:  # duplicates
            v = draw(st.sampled_from(["1us", 2, "modern"]))
            sweep[draw(st.sampled_from(KNOWN_KEYS))] = [v, v]
        elif shape == 3:  # a sub-table spelling
            sweep["workload"] = {"iodepth": draw(st.lists(st.integers(1, 4), min_size=1, max_size=2, unique=True))}
        elif shape == 4:  # junk: not a list, empty, random values
            sweep[draw(st.sampled_from(KNOWN_KEYS + ["nope", "run.seed", "run"]))] = draw(
                st.one_of(junk_values(), st.lists(junk_values(), max_size=3))
            )
        else:  # a plausible key with plausible values
            key = draw(st.sampled_from(["loop.era", "backup.cluster_size", "policy.sleep", "run.timeline_window"]))
            sweep[key] = draw(
                st.lists(
                    st.sampled_from(["2013", "modern", "64KiB", "128KiB", "1us", "20ms"]),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            )
    return sweep


@st.composite
def scenarios(draw) -> dict:
    """A scenario: valid and small, then (usually) mutated."""
    base = draw(small_configs(serialize=None))
    data: dict = {"name": "fuzz", "root_seed": draw(st.integers(0, 2**32)), "replications": 1, "base": base}
    for _ in range(draw(st.integers(0, 3))):
        what = draw(st.integers(0, 7))
        if what == 0:  # a known key, a junk value
            _set_path(base, draw(st.sampled_from(KNOWN_KEYS)), draw(junk_values()))
        elif what == 1:  # an unknown key somewhere
            _set_path(
                base,
                draw(st.sampled_from(list(SECTIONS) + ["policy", "workload", "nope"]))
                + "."
                + draw(SAFE_TEXT.filter(lambda s: s and "." not in s)),
                draw(junk_values()),
            )
        elif what == 2:  # a section of the wrong type
            base[draw(st.sampled_from(list(SECTIONS) + ["policy", "workload"]))] = draw(junk_values())
        elif what == 3:  # top-level keys
            key = draw(st.sampled_from(["name", "description", "root_seed", "replications", "base", "sweep", "bogus"]))
            data[key] = draw(st.one_of(junk_values(), st.just(10**12), st.just("a/b"), st.just(".x")))
        elif what == 4:
            data["sweep"] = draw(sweeps(base))
        elif what == 5:  # a value with a random unit
            key = draw(st.sampled_from(KNOWN_KEYS))
            _set_path(base, key, f"{draw(st.integers(0, 10**4))}{draw(st.sampled_from(VALID_UNITS + BAD_UNITS))}")
        elif what == 6:  # the seed of a run
            _set_path(base, "run.seed", draw(st.integers(-1, 10)))
        else:
            data["replications"] = draw(st.sampled_from([1, 2, 0, -1, 10**12, "3", 2.5]))
    return data


@st.composite
def set_items(draw) -> list[str]:
    items = []
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.one_of(st.sampled_from(KNOWN_KEYS + ["run.seed", "nope", "", "policy", "backup."]), SAFE_TEXT))
        value = draw(
            st.one_of(
                st.builds(toml_value, junk_values()),
                SAFE_TEXT,
                st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**4), st.sampled_from(VALID_UNITS + BAD_UNITS)),
            )
        )
        items.append(f"{key}={value}" if draw(st.integers(0, 9)) else key)
    return items


# ---------------------------------------------------------------- checks


def assert_one_error(rc, err: str, ctx) -> None:
    """``rc`` is 0, or 2 with exactly one line on stderr starting ``backupsim: error:``."""
    assert "Traceback" not in err, (ctx, err)
    if rc == 0:
        return
    assert rc == 2, (ctx, rc, err)
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("backupsim: error:"), (ctx, err)


def call(argv, capsys):
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse: usage errors, --help
        rc = e.code
    err = capsys.readouterr().err
    key = re.search(r"key '([^']*)'", err)
    event(f"{argv[0]}: exit {rc}" + (f" (key {key.group(1).split('.')[0]})" if rc and key else ""))
    return rc, err


def check_conservation(config: dict) -> None:
    res = sim.run_one(config, keep_model=True)
    s, model = res.summary, res.model
    # every guest request completes exactly once (or is still in flight when the run's
    # drain after its end gave up, after another run.max_time, on an overloaded disk)
    index = res.requests["index"].to_numpy()
    issued, in_flight = model.guest.issued, model.blk.activity.in_flight
    assert len(index) + in_flight == issued, (len(index), in_flight, issued)
    assert len(set(index.tolist())) == len(index) and set(index.tolist()) <= set(range(issued))
    assert s["guest_ops"] == len(index)
    # copy-before-write never copies more clusters than the disk has
    n = config["backup"]["disk_size"] // config["backup"]["cluster_size"]
    assert s["backup_clusters"] == n
    assert 0 <= s["cow_clusters"] <= n
    assert s["status"] in ("completed", "failed", "cancelled", "timeout"), s["status"]
    if s["status"] == "failed":
        assert config["faults"], s["error"]
    hole = config["backup"]["on_cow_error"] == "leave-hole" and s["cow_errors"] > 0
    if s["status"] == "completed" and not hole:
        cs = config["backup"]["cluster_size"]
        assert s["target_bytes"] + (s["zero_clusters"] + s["skipped_clusters"]) * cs == config["backup"]["disk_size"]
        assert s["complete"]
    if config["block"]["serialize_overlaps"]:
        assert s["consistent"] and s["torn_reads"] == 0, s
        if s["status"] == "completed" and not hole:
            assert s["good_backup"]
    check_streaming_statistics(res)


def check_streaming_statistics(res) -> None:
    """The summary, counted as the run went (sim.recording), against the exact figures of the request table.

    The split by the backup window is exact, so are counts, means and maxima;
    percentiles come from histograms whose bins are at most 1/256 of their values wide.
    """
    from sim.metrics import backup_window, latency_summary

    s, frame = res.summary, res.requests
    start, end = backup_window(res.model)
    exact = latency_summary(frame, start, end)
    for key, want in exact.items():
        got = s[key]
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), (key, got)
        elif key.endswith(("_max_us", "_mean_us", "_iops")):
            assert got == want, (key, got, want)
        else:
            assert abs(got - want) <= want / 256 + 1e-9, (key, got, want)
    writes = frame[(frame["t_submit_ns"] >= start) & (frame["t_submit_ns"] < end) & (frame["op"] == "write")]
    delayed = writes["cow_ns"][writes["cow_ns"] > 0]
    assert s["cow_delayed_share"] == (float(delayed.size / len(writes)) if len(writes) else 0.0)
    assert s["cow_extra_mean_us"] == (float(delayed.mean()) / 1000.0 if delayed.size else 0.0)


def fuzz_check(data: dict, sets: list[str], capsys) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "fuzz.toml"
        f.write_text(toml_text(data), encoding="utf-8")
        argv = ["check", str(f)]
        for item in sets:
            argv += ["--set", item]
        rc, err = call(argv, capsys)
        assert_one_error(rc, err, argv)


def fuzz_run(data: dict, sets: list[str], extra: list[str], capsys) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "fuzz.toml"
        f.write_text(toml_text(data), encoding="utf-8")
        out = Path(tmp) / "out"
        argv = ["run", str(f), "--out", str(out), "--quiet", *extra]
        for item in sets:
            argv += ["--set", item]
        rc, err = call(argv, capsys)
        assert_one_error(rc, err, argv)
        if rc == 2:
            assert not out.exists(), argv


def _profile(n: int, **kw):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=n < SLOW_EXAMPLES,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        **kw,
    )


# ---------------------------------------------------------------- tests


@_profile(250)
@given(data=scenarios(), sets=set_items())
def test_check_fuzz(data, sets, capsys):
    fuzz_check(data, sets, capsys)


@pytest.mark.slow
@_profile(SLOW_EXAMPLES)
@given(data=scenarios(), sets=set_items())
def test_check_fuzz_slow(data, sets, capsys):
    fuzz_check(data, sets, capsys)


@_profile(200)
@given(config=small_configs())
def test_conservation_fuzz(config):
    check_conservation(config)


@pytest.mark.slow
@_profile(SLOW_EXAMPLES)
@given(config=small_configs(serialize=None))
def test_conservation_fuzz_slow(config):
    check_conservation(config)


RUN_OPTIONS = st.lists(
    st.sampled_from(
        [
            ["--seeds", "1"],
            ["--seeds", "0"],
            ["--seeds", "x"],
            ["--jobs", "1"],
            ["--jobs", "-3"],
            ["--executor", "nope"],
            ["--bogus"],
            ["--scheduler", "tcp://x:1"],
        ]
    ),
    max_size=2,
)


@_profile(12)
@given(data=scenarios(), sets=set_items(), extra=RUN_OPTIONS)
def test_run_command_line_fuzz(data, sets, extra, capsys):
    fuzz_run(data, sets, [x for opt in extra for x in opt], capsys)


@pytest.mark.slow
@_profile(SLOW_EXAMPLES // 5)
@given(data=scenarios(), sets=set_items(), extra=RUN_OPTIONS)
def test_run_command_line_fuzz_slow(data, sets, extra, capsys):
    fuzz_run(data, sets, [x for opt in extra for x in opt], capsys)


@_profile(300)
@given(text=st.one_of(SAFE_TEXT, st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_garbage_files_fuzz(text, capsys):
    """Arbitrary text (or bytes that are not UTF-8) as a scenario: one message, never a traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "g.toml"
        f.write_bytes(
            text.encode("latin-1") if all(ord(c) < 256 for c in text) else text.encode("utf-8", "surrogatepass")
        )
        rc, err = call(["check", str(f)], capsys)
        assert_one_error(rc, err, text)


@_profile(5)
@given(data=scenarios(), sets=set_items())
def test_check_in_a_subprocess_fuzz(data, sets):
    """The real command: exit status and stderr of ``python -m sim check``."""
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "fuzz.toml"
        f.write_text(toml_text(data), encoding="utf-8")
        argv = [sys.executable, "-m", "sim", "check", str(f)] + [x for s in sets for x in ("--set", s)]
        p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert_one_error(p.returncode, p.stderr, argv)


def test_toml_writer_round_trips():
    import tomllib

    data = {
        "name": "x",
        "base": {"disk": {"profile": "hdd", "cv": 0.5}, "faults": {"x": [1, 2]}},
        "sweep": {"policy": [{"name": "none"}], "a.b": [1.5, "s\x00"]},
    }
    assert tomllib.loads(toml_text(data)) == data


def test_fuzz_strategies_cover_every_policy_and_workload():
    assert {k.split(".")[0] for k in KNOWN_KEYS} == {*SECTIONS, "policy", "workload"}
    assert set(PROFILES) >= {"hdd", "sata-ssd", "network-1g"}
