"""The lab: the chapter's claims as experiments, judged part by part, with figures and verdicts.

`nnopt lab list`, `nnopt lab NAME [--fast] [--seeds N] [--out DIR] [--on RECIPE.toml]`, `nnopt lab all`;
see `base` for how an experiment is written.
"""
from .base import (DOES_NOT_HOLD, EXPERIMENTS, HOLDS, HOLDS_IN_PART, HOLDS_WHEN, INCONCLUSIVE, Check, LabContext,
                   Control, Experiment, Finding, Part, Precondition, RunResult, Runs, Spread, Table, all_experiments,
                   all_of, exceeds, experiment, format_finding, get, headline, holds, interval, judge, lab_recipe, matches,
                   read_run, run_experiment)

__all__ = ["DOES_NOT_HOLD", "EXPERIMENTS", "HOLDS", "HOLDS_IN_PART", "HOLDS_WHEN", "INCONCLUSIVE", "Check", "LabContext",
           "Control", "Experiment", "Finding", "Part", "Precondition", "RunResult", "Runs", "Spread", "Table",
           "all_experiments", "all_of", "exceeds", "experiment", "format_finding", "get", "headline", "holds", "interval",
           "judge", "lab_recipe", "matches", "read_run", "run_experiment"]
