"""The lab: the chapter's claims as experiments with a number, a figure and a verdict.

`nnopt lab list`, `nnopt lab NAME [--fast] [--seeds N] [--out DIR]`, `nnopt lab all`; see `base`.
"""
from .base import (DOES_NOT_HOLD, EXPERIMENTS, HOLDS, INCONCLUSIVE, Context, Experiment, Finding, RunResult,
                   Spread, Table, all_experiments, experiment, format_finding, get, holds, lab_recipe, read_run,
                   run_experiment)

__all__ = ["DOES_NOT_HOLD", "EXPERIMENTS", "HOLDS", "INCONCLUSIVE", "Context", "Experiment", "Finding",
           "RunResult", "Spread", "Table", "all_experiments", "experiment", "format_finding", "get", "holds",
           "lab_recipe", "read_run", "run_experiment"]
