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
from .config import ConfigError, build_config, expand_dotted, parse_set

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="backupsim", description="Simulate live disk backup pacing.")
    p.add_argument("--version", action="version", version=f"backupsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one configuration (the defaults plus --set)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="override a configuration key, e.g. backup.cluster_size=4MiB")
    run.add_argument("--out", type=Path, default=Path("results/default"), help="results folder")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")

    sub.add_parser("list", help="policies, workloads and device profiles with their parameters")

    bench = sub.add_parser("bench", help="the performance benchmark; prints JSON on its last line")
    bench.add_argument("--disk-size", default="16GiB")
    bench.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    return p


def _sets(items: list[str]) -> dict:
    return expand_dotted(dict(parse_set(s) for s in items))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "list":
            return _list()
        if args.command == "bench":
            from .bench import bench
            print(json.dumps(bench(args.disk_size, _sets(args.sets))))
            return 0
    except ConfigError as e:
        print(f"backupsim: error: {e}", file=sys.stderr)
        return 2
    return 1


def _run(args) -> int:
    import pandas as pd

    from .report import format_summary
    from .runner import run_one, write_results

    cfg = build_config(_sets(args.sets), source="--set")
    result = run_one(cfg)
    write_results(pd.DataFrame([result.summary]), args.out)
    if not args.quiet:
        print(format_summary(result.summary, cfg))
        print(f"\nresults: {args.out}/runs.parquet, {args.out}/runs.csv")
    return 0


def _list() -> int:
    from .devices import PROFILES
    from .policies import REGISTRY as POLICIES
    from .workloads import REGISTRY as WORKLOADS

    def fields(model) -> str:
        parts = []
        for name, f in model.model_fields.items():
            if name in ("name", "kind"):
                continue
            parts.append(f"{name}={f.default!r}")
        return ", ".join(parts)

    print("policies:")
    for name, cls in POLICIES.items():
        print(f"  {name:16s} {fields(cls.Config)}")
    print("workloads:")
    for name, cls in WORKLOADS.items():
        print(f"  {name:16s} {fields(cls.Config)}")
    print("device profiles:")
    for name, prof in PROFILES.items():
        print(f"  {name:16s} " + ", ".join(f"{k}={v}" for k, v in prof.items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
