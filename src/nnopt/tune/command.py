"""`nnopt tune` (also ``python -m nnopt.tune``): search a recipe's knobs with Optuna.

    nnopt tune recipe.toml --space examples/spaces/mlp.toml --method hyperband --trials 40
    nnopt tune --space space.toml --method random --trials 100 --workers 4
    nnopt tune --space space.toml --method asha --trials 20 --nproc 2        # each trial on 2 processes (DDP)
    nnopt tune --space space.toml --method bayes --trials 200 --storage postgresql://u@db/hpo --study s1
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from ..paths import check_output
from ..user_code import add_import_argument, prepare

WORKERS_MAX = 256  # --workers: processes on one machine


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", help="base recipe TOML file (default: the built-in recipe)")
    p.add_argument("--space", required=True, metavar="SPACE.toml", help="the search space")
    p.add_argument("--method", default="bayes", choices=("grid", "random", "bayes", "hyperband", "asha", "bohb"),
                   help="search method (default bayes = TPE; hyperband/asha/bohb prune over epochs; "
                        "bohb = TPE + Hyperband)")
    p.add_argument("--model", default="tpe", choices=("tpe", "gp"), help="bayes: TPE or Gaussian process")
    p.add_argument("--trials", type=int, metavar="N",
                   help="complete + pruned trials the study should hold, exactly, over all workers "
                        "(grid: default the whole grid)")
    p.add_argument("--workers", type=int, default=1, metavar="K", help="worker processes on this machine")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="each trial a data-parallel job of N processes, as nnopt run --nproc N trains it")
    p.add_argument("--storage", metavar="URL",
                   help="sqlite:///FILE, postgresql://user@host:port/db, or a journal FILE.log "
                        "(default: study.db in the study directory; journal.log with --workers > 1)")
    p.add_argument("--study", metavar="NAME", help="study name (default: from the recipe and space files)")
    p.add_argument("--timeout", type=float, metavar="S", help="start no trial after S seconds")
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument("--metric", metavar="NAME",
                   help="what the trials are judged by (val_acc, val_loss, val_r2, ...; maximized or minimized by "
                        "its direction); default: the recipe's train.monitor (val_acc / val_loss by task)")
    p.add_argument("--heartbeat", type=float, default=10.0, metavar="S",
                   help="database storages: heartbeat period; a trial silent for 3·S is marked failed")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a base recipe field (repeatable)")
    p.add_argument("--out", metavar="DIR", help="study directory (default runs/tune-<study>); "
                                                "rerunning with the same one continues the study")
    p.add_argument("--quiet", action="store_true", help="no per-trial lines")
    add_import_argument(p)


def study_name(args) -> str:
    if args.study:
        return args.study
    stem = Path(args.recipe).stem if args.recipe else "default"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{stem}-{Path(args.space).stem}-{args.method}")


def check_arguments(args: argparse.Namespace) -> None:
    """ConfigError for an option no study can use, before anything is read or written."""
    from ..errors import ConfigError
    from ..recipe import SEED_MAX

    if not 0 <= args.seed <= SEED_MAX:
        raise ConfigError(f"--seed = {args.seed} — must be in [0, {SEED_MAX}]")
    if not args.heartbeat > 0 or args.heartbeat == float("inf"):
        raise ConfigError(f"--heartbeat = {args.heartbeat} — must be a finite number of seconds > 0")
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise ConfigError(f"--timeout = {args.timeout} — must be a finite number of seconds > 0")
    for option in ("study", "out", "storage", "space"):
        value = getattr(args, option)
        if value is not None and not value.strip():
            raise ConfigError(f"--{option} = {value!r} — must not be empty")
    if not 1 <= args.workers <= WORKERS_MAX:
        raise ConfigError(f"--workers = {args.workers} — must be in [1, {WORKERS_MAX}] (worker processes on "
                          f"this machine; it has {os.cpu_count()} cores)")
    from .study import default_study_dir

    check_output("--out", args.out or default_study_dir(study_name(args)))
    file = storage_file(args.storage)
    if file is not None:
        check_output("--storage", file, directory=False)


def storage_file(url: str | None) -> str | None:
    """The file a --storage names on this machine (a journal FILE.log, sqlite:///FILE), else None."""
    if not url or url.startswith("sqlite://") and not url.startswith("sqlite:///"):
        return None  # the default, or sqlite:// in memory
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):] or None
    return url if "://" not in url else None


def run(args: argparse.Namespace) -> int:
    from ..recipe import Recipe
    from .space import load_space
    from .study import tune

    check_arguments(args)
    if args.trials is not None and 1 <= args.trials < args.workers:
        print(f"--workers {args.workers} for {args.trials} trial(s): starting {args.trials} worker(s)",
              file=sys.stderr)
        args.workers = args.trials
    recipe = (Recipe.load(args.recipe) if args.recipe else Recipe()).override(args.set)
    space = load_space(args.space, recipe)
    result = tune(recipe, space, method=args.method, trials=args.trials, workers=args.workers,
                  storage=args.storage, study=study_name(args), timeout=args.timeout, out=args.out,
                  seed=args.seed, model=args.model, heartbeat=args.heartbeat, quiet=args.quiet, nproc=args.nproc,
                  metric=args.metric)
    print(result["table"])
    return 0


def main(argv=None) -> int:
    """``python -m nnopt.tune``: the exit codes and messages of ``nnopt tune`` (`process.exit_code`)."""
    from ..process import exit_code

    parser = argparse.ArgumentParser(prog="nnopt tune", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return exit_code(lambda: prepare(args) or run(args))
