"""The ``backupsim`` command (INTERFACE.md): run, check, list, bench.

Exit status: 0 success, 2 bad input (one message naming the file, key and what
was expected; nothing written), 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, expand_dotted, parse_set

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="backupsim", description="Simulate live disk backup pacing.")
    p.add_argument("--version", action="version", version=f"backupsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment batch (default: scenarios/seed-review.toml)")
    run.add_argument("scenario", nargs="?", type=Path, help="scenario file (TOML)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="override a base key, e.g. backup.cluster_size=4MiB; a swept key stops being swept")
    run.add_argument("--out", type=Path, help="results folder (default results/<scenario name>)")
    run.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    run.add_argument("--seeds", type=int, default=None, help="replications per sweep point")
    run.add_argument("--executor", choices=["local", "dask"], default="local")
    run.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary")

    check = sub.add_parser("check", help="validate a scenario without running it")
    check.add_argument("scenario", type=Path)
    check.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")

    report = sub.add_parser("report", help="(re)build report.md and figures/ of a results folder")
    report.add_argument("results", type=Path)

    sub.add_parser("list", help="policies, workloads and device profiles with their parameters")

    bench = sub.add_parser("bench", help="the performance benchmark; prints JSON on its last line")
    bench.add_argument("--disk-size", default="16GiB")
    bench.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
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
        if args.command == "bench":
            from .bench import bench
            print(json.dumps(bench(args.disk_size, _sets(args.sets))))
            return 0
    except ConfigError as e:
        print(f"backupsim: error: {e}", file=sys.stderr)
        return 2
    return 1


def _scenario(args):
    from .scenario import load_scenario
    scn = load_scenario(args.scenario or default_scenario())
    sets = dict(parse_set(s) for s in args.sets)
    if sets or getattr(args, "seeds", None):
        try:
            scn = scn.with_overrides(sets, getattr(args, "seeds", None))
        except ConfigError as e:
            raise ConfigError(e.key, e.value, e.expected, "--set") from None
    return scn


def _check(args) -> int:
    scn = _scenario(args)
    n = len(scn.points())
    print(f"{scn.source}: ok: {n} sweep point(s) x {scn.replications} replication(s) = "
          f"{n * scn.replications} runs; scenario hash {scn.hash()}")
    return 0


def _run(args, argv) -> int:
    from .batch import run_batch
    from .report import format_batch

    if args.jobs is not None and args.jobs < 1:
        raise ConfigError("--jobs", args.jobs, "an integer >= 1", "command line")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError("--seeds", args.seeds, "an integer >= 1", "command line")
    if args.scheduler and args.executor != "dask":
        raise ConfigError("--scheduler", args.scheduler, "--executor dask alongside it", "command line")
    scn = _scenario(args)
    out = args.out or Path("results") / scn.name
    command = "backupsim " + " ".join(argv if argv is not None else sys.argv[1:])
    runs = run_batch(scn, out, jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
                     progress=False if args.quiet else None, command=command)
    from .reporting import write_report
    report = write_report(out)
    if not args.quiet:
        print(format_batch(runs, scn))
        print(f"\nresults: {out}/ (runs.parquet, runs.csv, timeline.parquet, latency_hist.parquet, manifest.json)")
        print(f"report:  {report}")
    return 0


def _report(args) -> int:
    from .reporting import write_report
    if not (args.results / "runs.parquet").exists():
        raise ConfigError("results", str(args.results), "a results folder with runs.parquet (from `backupsim run`)",
                          "command line")
    print(write_report(args.results))
    return 0


from .config import describe_value  # noqa: E402  (shared with the report)


def _params(model) -> str:
    return ", ".join(f"{name}={describe_value(f.default, f)}" for name, f in model.model_fields.items()
                     if name not in ("name", "kind"))


def _doc(cls) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0].replace("``", "") if cls.__doc__ else ""


def _list() -> int:
    import sys as _sys

    from .devices import PROFILES
    from .policies import REGISTRY as POLICIES
    from .workloads import REGISTRY as WORKLOADS

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
    lines.append("device profiles (disk.profile, target.profile):")
    for name, prof in PROFILES.items():
        lines.append(f"  {name:15s} " + ", ".join(f"{k}={v}" for k, v in prof.items()))
    try:
        from .traces import FORMATS
        lines.append("trace formats (workload.format): " + ", ".join(FORMATS))
    except ImportError:
        pass
    print("\n".join(lines))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
