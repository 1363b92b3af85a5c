"""`nnopt lab list | NAME | all [--fast] [--seeds N] [--out DIR]`."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import ConfigError
from ..report.table import format_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="an experiment (see `nnopt lab list`), `all`, or `list`")
    p.add_argument("--fast", action="store_true", help="the small budget (≤ 6 s each) the tests use")
    p.add_argument("--seeds", type=int, default=3, help="seeds per measurement (>= 3)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: lab/<NAME>-<time>; "
                                                "with `all`, one subdirectory per experiment)")


def run(args) -> int:
    from .base import all_experiments, format_finding, get, run_experiment

    if args.name == "list":
        rows = [[e.name, e.claim, f"{e.budget_s:.0f} s"] for e in all_experiments()]
        print(format_table(["experiment", "claim", "budget"], rows))
        return 0
    names = [e.name for e in all_experiments()] if args.name == "all" else [get(args.name).name]
    out = Path(args.out) if args.out else Path("lab") / f"{args.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"--out {out} exists and is not empty; choose another directory")
    verdicts = []
    for name in names:
        record = run_experiment(name, out / name if args.name == "all" else out, args.seeds, args.fast)
        print(format_finding(record) + "\n")
        verdicts.append([name, record["verdict"], f"{record['time_s']:.1f}"])
    if len(names) > 1:
        print(format_table(["experiment", "verdict", "time (s)"], verdicts))
    print(f"\nlab directory: {out}", file=sys.stderr)
    return 0
