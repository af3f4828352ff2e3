"""The ``backupsim`` command (``docs/cli.md``): run, check, report, list, bench.

Exit status: 0 success, 2 bad input (one message naming the file, key and what
was expected; nothing written), 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._version import __version__
from .config import ConfigError, expand_dotted, parse_set

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with a usage error as one line, ``backupsim: error: command line: ...``, and exit 2."""

    def error(self, message: str):
        self.exit(2, f"backupsim: error: {_usage_error(' '.join(message.split()))}\n")


_TYPES = {"int": "an integer", "float": "a number"}


class _Nothing:
    def __repr__(self) -> str:
        return "nothing"


def _usage_error(message: str) -> ConfigError:
    """argparse's message as ``command line: key '--jobs': got 'x', expected an integer``."""
    import re

    m = re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid (\w+) value: (.*)", message)
    if m:
        return ConfigError(m[1], m[3].strip("'"), _TYPES.get(m[2], f"a {m[2]} value"), "command line")
    m = re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid choice: (.*?) \(choose from (.*)\)", message)
    if m:
        return ConfigError(m[1], m[2].strip("'"), f"one of {m[3]}", "command line")
    m = re.fullmatch(r"argument (\S+?)(?:/\S+)?: (expected .*)", message)
    if m:
        return ConfigError(m[1], _Nothing(), m[2][len("expected ") :], "command line")
    m = re.fullmatch(r"the following arguments are required: (.*)", message)
    if m:
        return ConfigError(m[1], _Nothing(), "a value (see `backupsim --help`)", "command line")
    m = re.fullmatch(r"unrecognized arguments: (.*)", message)
    if m:
        return ConfigError(m[1].split()[0], m[1], "a known option (see `backupsim COMMAND --help`)", "command line")
    return ConfigError("(arguments)", message, "valid arguments (see `backupsim --help`)", "command line")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="backupsim", description="Simulate live disk backup pacing.")
    p.add_argument("--version", action="version", version=f"backupsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment batch (default: scenarios/seed-review.toml)")
    run.add_argument("scenario", nargs="?", type=Path, help="scenario file (TOML)")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a base key, e.g. backup.cluster_size=4MiB; a swept key stops being swept",
    )
    run.add_argument("--out", type=Path, help="results folder (default results/<scenario name>)")
    run.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    run.add_argument("--seeds", type=int, default=None, help="replications per sweep point")
    run.add_argument("--executor", choices=["local", "dask"], default="local")
    run.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    run.add_argument(
        "--wait",
        action="store_true",
        help="if another batch is writing the results folder, wait for it instead of refusing",
    )

    check = sub.add_parser("check", help="validate a scenario without running it")
    check.add_argument("scenario", type=Path)
    check.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")

    report = sub.add_parser("report", help="(re)build report.md and figures/ of a results folder")
    report.add_argument("results", type=Path)

    sub.add_parser("list", help="policies, workloads and device profiles with their parameters")

    cal = sub.add_parser("calibrate", help="run the calibration cases on a real QEMU and in backupsim, side by side")
    cal.add_argument("--out", type=Path, default=Path("results") / "calibration", help="results folder")
    cal.add_argument("--reps", type=int, default=3, help="repetitions per case (real) and seeds (simulated)")
    cal.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    cal.add_argument("--sim-only", action="store_true", help="only the simulated side (no QEMU needed)")

    bench = sub.add_parser("bench", help="the performance benchmark; prints JSON on its last line")
    bench.add_argument(
        "--disk-size",
        default="16GiB",
        help="disk size, or comma-separated sizes each run in a fresh process (e.g. 1GiB,16GiB)",
    )
    bench.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    bench.add_argument("--repeats", type=int, default=6, help="yardstick samples per size, interleaved (>= 4)")
    bench.add_argument(
        "--ref-ops", type=int, default=None, help="operations per yardstick sample (default 100000 from 1GiB)"
    )
    bench.add_argument(
        "--profile-size", default="256MiB", help="disk size of the cProfile run counting calls per op (0: none)"
    )
    bench.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one size, in this process
    return p


DEFAULT_SCENARIO = "seed-review.toml"


def default_scenario() -> Path:
    """``scenarios/seed-review.toml`` beside the package (source checkout) or in the cwd."""
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        f = root / "scenarios" / DEFAULT_SCENARIO
        if f.exists():
            return f
    return Path("scenarios") / DEFAULT_SCENARIO


def _sets(items: list[str]) -> dict:
    return expand_dotted(dict(parse_set(s) for s in items))


def main(argv: list[str] | None = None) -> int:
    from .batch import BatchInterrupted
    from .store import ResultsError

    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args, argv)
        if args.command == "check":
            return _check(args)
        if args.command == "list":
            return _list()
        if args.command == "report":
            return _report(args)
        if args.command == "calibrate":
            return _calibrate(args)
        if args.command == "bench":
            return _bench(args)
    except ConfigError as e:
        print(f"backupsim: error: {e}", file=sys.stderr)
        return 2
    except ResultsError as e:  # a busy or damaged results folder (2), a failed write (1)
        print(f"backupsim: error: {e}", file=sys.stderr)
        return e.status
    except BatchInterrupted as e:
        print(f"backupsim: interrupted; {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("backupsim: interrupted", file=sys.stderr)
        return 130
    return 1


def _scenario(args):
    from .scenario import load_scenario

    scn = load_scenario(args.scenario or default_scenario())
    sets = dict(parse_set(s) for s in args.sets)
    seeds = getattr(args, "seeds", None)
    if seeds is not None and seeds < 1:
        raise ConfigError("--seeds", seeds, "an integer >= 1", "command line")
    if sets or seeds:
        try:
            scn = scn.with_overrides(sets, seeds)
        except ConfigError as e:
            if seeds and e.key == "replications":
                raise ConfigError("--seeds", seeds, e.expected, "command line") from None
            raise ConfigError(e.key, e.value, e.expected, "--set") from None
    return scn


def _check(args) -> int:
    scn = _scenario(args)
    from .scenario import available_memory, memory_estimate

    points = scn.points()
    n = len(points)
    print(
        f"{scn.source}: ok: {n} sweep point(s) x {scn.replications} replication(s) = "
        f"{n * scn.replications} runs; scenario hash {scn.hash()}"
    )
    largest = max((memory_estimate(scn._point_config(p)) for p in points), key=lambda e: e.total)
    avail = available_memory()
    print(
        f"memory: the largest run needs about {largest.describe()}"
        + (f"; {avail / 2**30:.1f} GiB available" if avail is not None else "")
    )
    return 0


def _run(args, argv) -> int:
    from .batch import run_batch
    from .console import format_batch

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs", args.jobs, "an integer >= 1", "command line")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError("--seeds", args.seeds, "an integer >= 1", "command line")
    if args.scheduler and args.executor != "dask":
        raise ConfigError("--scheduler", args.scheduler, "--executor dask alongside it", "command line")
    scn = _scenario(args)
    out = args.out or Path("results") / scn.name
    from .batch import check_out, check_scheduler

    check_out(out, "--out", "command line")  # before anything is computed or written
    if args.executor == "dask" and args.scheduler:
        check_scheduler(args.scheduler, "--scheduler", "command line")
    wait = getattr(args, "wait", 0)  # a `--wait` flag (True: as long as it takes) or seconds
    wait = None if wait is True else float(wait or 0)
    command = "backupsim " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        runs = run_batch(
            scn,
            out,
            jobs=args.jobs,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=False if args.quiet else None,
            command=command,
            wait=wait,
            report=True,
        )
    except ConfigError as e:
        if e.source is None and e.key in ("out", "scheduler"):
            raise ConfigError(f"--{e.key}", e.value, e.expected, "command line") from None
        raise
    if not args.quiet:
        print(format_batch(runs, scn))
        print(f"\nresults: {out}/ (runs.parquet, runs.csv, timeline.parquet, latency_hist.parquet, manifest.json)")
        print(f"report:  {out / 'report.md'}")
        print(f"kernel:  {_kernel_line()}")
    return 0


def _kernel_line() -> str:
    from ._version import kernel

    if kernel() == "mypyc":
        return "mypyc (compiled at install)"
    return "python (pure Python; a regular install, pip install ., compiles the kernel: README, 'A compiled kernel')"


def _bench(args) -> int:
    from .bench import _check_repeats, bench, bench_config, bench_one, parse_sizes
    from .params import units

    sets = _sets(args.sets)
    sizes = parse_sizes(args.disk_size, sets)
    _check_repeats(args.repeats)
    if args.ref_ops is not None and args.ref_ops < 1:
        raise ConfigError("--ref-ops", args.ref_ops, "an integer >= 1", "command line")
    profile: str | None = args.profile_size.strip()
    try:
        if units.parse_size(profile) == 0:
            profile = None
    except ValueError as e:
        why = str(e).removeprefix("expected ").split(", got ")[0]
        raise ConfigError(
            "--profile-size", args.profile_size, f"a disk size, or 0 for none ({why})", "command line"
        ) from None
    if profile is not None:
        try:
            bench_config(profile)
        except ConfigError as e:
            raise ConfigError("--profile-size", args.profile_size, e.expected, "command line") from None
    if args.one:  # a child of a several-size bench: that size's figures only
        print(json.dumps(bench_one(sizes[0], sets, args.repeats, args.ref_ops)))
        return 0
    fig = bench(sizes, sets, args.repeats, args.ref_ops, profile, set_args=args.sets, say=print)
    print(json.dumps(fig))
    return 0


def _report(args) -> int:
    from .review import write_report

    if not (args.results / "runs.parquet").exists():
        raise ConfigError(
            "results", str(args.results), "a results folder with runs.parquet (from `backupsim run`)", "command line"
        )
    print(write_report(args.results))
    return 0


from .config import describe_value  # noqa: E402  (shared with the report)


def _params(model) -> str:
    return ", ".join(
        f"{name}={describe_value(f.default, f)}"
        for name, f in model.model_fields.items()
        if name not in ("name", "kind", "mode")
    )


def _doc(cls) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0].replace("``", "") if cls.__doc__ else ""


def _calibrate(args) -> int:
    from .calibrate import CASES
    from .calibrate.compare import calibrate
    from .calibrate.real import INSTALL_HINT, missing_tools

    names = [c.name for c in CASES]
    cases = CASES
    if args.cases:
        wanted = [n.strip() for n in args.cases.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise ConfigError("--cases", unknown[0], "case names among " + ", ".join(names), source="command line")
        cases = tuple(c for c in CASES if c.name in wanted)
    if args.reps < 1:
        raise ConfigError("--reps", args.reps, "an integer >= 1", source="command line")
    if not args.sim_only:
        missing = missing_tools()
        if missing:
            print(f"backupsim calibrate: missing {', '.join(missing)}; {INSTALL_HINT}", file=sys.stderr)
            print("(or run the simulated side alone: backupsim calibrate --sim-only)", file=sys.stderr)
            return 2
    calibrate(args.out, cases, args.reps, sim_only=args.sim_only, say=print)
    files = "calibration.md, calibration.csv" + ("" if args.sim_only else ", calibration.png")
    print(f"results: {args.out}/ ({files})")
    return 0


def _list() -> int:
    import sys as _sys

    from . import devices, jobs, policies, traces, workloads  # noqa: F401  (they register their components)
    from .devices import PROFILES
    from .params import DEVICES, FORMATS, MODES, POLICIES, WORKLOADS

    lines = ["policies (policy.name; parameters with defaults):"]
    for name, cls in POLICIES.items():
        mod = _sys.modules[cls.__module__]
        lines.append(f"  {name:15s} {_doc(mod)}")
        lines.append(f"  {'':15s}   {_params(cls.Config) or '(no parameters)'}")
    lines.append("workloads (workload.kind):")
    for name, cls in WORKLOADS.items():
        mod = _sys.modules[cls.__module__]
        lines.append(f"  {name:15s} {_doc(mod)}")
        lines.append(f"  {'':15s}   {_params(cls.Config)}")
    lines.append("device models (disk.model, target.model; parameters beyond the shared ones):")
    shared = set(devices.DeviceConfig.model_fields)
    for name, cls in DEVICES.items():
        extra = ", ".join(
            f"{k}={describe_value(f.default, f)}" for k, f in cls.Config.model_fields.items() if k not in shared
        )
        lines.append(f"  {name:15s} {_doc(cls)}" + (f" ({extra})" if extra else ""))
    lines.append("device profiles (disk.profile, target.profile):")
    for name, prof in PROFILES.items():
        lines.append(f"  {name:15s} " + ", ".join(f"{k}={v}" for k, v in prof.items()))
    lines.append("backup modes (backup.mode; parameters beyond the shared ones, with defaults):")
    shared_backup = jobs.BackupConfig.model_fields
    for name, cls in MODES.items():
        extra = ", ".join(
            f"{k}={describe_value(f.default, f)}"
            for k, f in cls.Config.model_fields.items()
            if k != "mode" and (k not in shared_backup or f.default != shared_backup[k].default)
        )
        lines.append(f"  {name:15s} {_doc(cls)}")
        if extra:
            lines.append(f"  {'':15s}   {extra}")
    lines.append(f"  shared: {_params(jobs.BackupConfig)}")
    lines.append("trace formats (workload.format):")
    for name in FORMATS:
        lines.append(f"  {name:15s} {traces.summary(name)}")
    lines.append(
        "plug-ins: a 'module:Class' reference in place of a name, or an installed package's entry point "
        "(groups " + ", ".join(r.group for r in (POLICIES, WORKLOADS, DEVICES, FORMATS, MODES)) + ")"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
