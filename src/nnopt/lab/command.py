"""`nnopt lab list | NAME | all [--fast] [--seeds N] [--out DIR] [--on RECIPE.toml]`."""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from ..errors import ConfigError
from ..paths import check_output
from ..report.table import format_table

LIST_WIDTH = 100  # `nnopt lab list` fits a terminal this wide
SEEDS_MAX = 100  # --seeds: each seed is a full set of the experiment's runs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="an experiment (see `nnopt lab list`), `all`, or `list`")
    p.add_argument("--fast", action="store_true", help="the small budget (≤ 6 s each) the tests use")
    p.add_argument("--seeds", type=int, default=3, help="seeds per measurement (3 to 100)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: lab/<NAME>-<time>; "
                                                "with `all`, one subdirectory per experiment)")
    p.add_argument("--on", metavar="RECIPE.toml",
                   help="run the experiment's protocol on your own workload (experiments marked 'yes' "
                        "under --on in `nnopt lab list`)")


def list_table() -> str:
    """Number, name, whether it takes --on, measured wall time (fast / full), the claim cut to fit
    LIST_WIDTH columns."""
    from .base import all_experiments

    rows = [[e.number or "", e.name, "yes" if e.accepts_recipe else "",
             f"{e.cost_s[0]:.2g} / {e.cost_s[1]:.2g}" if e.cost_s else "?", e.claim] for e in all_experiments()]
    header = ["#", "experiment", "--on", "time s (fast/full)", "claim"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    room = max(LIST_WIDTH - sum(widths) - 2 * 4, 20)
    for r in rows:
        r[4] = r[4] if len(r[4]) <= room else r[4][:room - 1] + "…"
    return format_table(header, rows)


def run(args) -> int:
    from .base import all_experiments, format_finding, get, run_experiment

    if args.name == "list":
        print(list_table())
        print("\ntime: CPU seconds measured on one thread (about the wall time on a quiet core), 3 seeds,\n"
              "--fast / full. --on: runs its protocol on your recipe (nnopt lab NAME --on RECIPE.toml)")
        return 0
    if args.on is not None:
        from ..recipe import Recipe

        Recipe.load(args.on)  # a missing or invalid recipe: its error before anything is written
    if args.name == "all":
        names = [e.name for e in all_experiments() if args.on is None or e.accepts_recipe]
    else:
        names = [get(args.name).name]
    if not 3 <= args.seeds <= SEEDS_MAX:
        raise ConfigError(f"--seeds = {args.seeds} — must be in [3, {SEEDS_MAX}] (a verdict is never decided on "
                          f"fewer than 3; {SEEDS_MAX} already takes {SEEDS_MAX // 3}× the listed time)")
    out = check_output("--out", args.out if args.out is not None else
                       Path("lab") / f"{args.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"--out {out} exists and is not empty; choose another directory")
    verdicts = []
    for name in names:
        where = out / name if args.name == "all" else out
        try:
            record = run_experiment(name, where, args.seeds, args.fast, on=args.on)
        except ConfigError:  # e.g. the protocol does not apply to the --on recipe: no half-written directory
            shutil.rmtree(where, ignore_errors=True)
            raise
        print(format_finding(record) + "\n")
        verdicts.append([name, record["verdict"], f"{record['time_s']:.1f}"])
    if len(names) > 1:
        print(format_table(["experiment", "verdict", "time (s)"], verdicts))
    print(f"\nlab directory: {out}", file=sys.stderr)
    return 0
