"""Shared fixtures: small, fast recipes and a subprocess runner for the CLI."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nnopt

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_recipe():
    """A digits MLP that trains in well under a second, single-threaded and checkpointed."""
    return nnopt.Recipe({"model": {"widths": [32]}, "train": {"epochs": 3, "batch_size": 64, "threads": 1,
                                                              "device": "cpu"}})


def run_cli(*args, check=True, **kw):
    """Run `python -m nnopt.cli ARGS` in a subprocess; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "nnopt.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"nnopt {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc
