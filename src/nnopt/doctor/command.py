"""`nnopt doctor RUN_DIR`: print what went wrong in a run, with its numbers and the remedy."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (nnopt run's --out)")


def run(args) -> int:
    from .checks import format_diagnosis

    print(format_diagnosis(args.run_dir))
    return 0
