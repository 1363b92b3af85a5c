"""One trial: sample the space → Recipe → train with nnopt's Trainer, reporting its metric each epoch.

The study's metric is the trials' ``train.monitor`` (``nnopt tune --metric``; default the recipe's
monitor: val_acc for classification, val_loss for regression), its direction the study's. The
trial's value is the run's best value of it (summary.json's ``best_<metric>``), so ``nnopt run
best.toml`` reproduces it. After every epoch the epoch's value is reported at step = epoch and the
pruner asked (before the last epoch); a prune is the Trainer's ``request_stop``, so the run ends at
that epoch (with every rank, when the trial is a data-parallel job: see ddp.py) and the trial is
marked pruned. A diverged run ends the trial with the best value it reached (the worst possible,
−∞ or +∞, before the first epoch) and the error in user attribute ``diverged``.
"""
from __future__ import annotations

import math
from pathlib import Path

import optuna

from ..errors import DivergedError
from ..recipe import Recipe
from ..tasks import direction
from ..train import Callback, Trainer, build
from .space import Space
from .storage import WORKER_ATTR, worker_id

FAIL_REASON = "fail_reason"  # trial user attr: why the trial failed (its progress line and the report show it)
PRUNED = "pruned after epoch "  # the stop reason of a pruned trial's run, then the epoch


class Pruning(Callback):
    """Reports each epoch's monitored metric to `trial` and asks its pruner; a prune requests the stop."""

    def __init__(self, trial: optuna.Trial, epochs: int):
        self.trial, self.epochs = trial, epochs

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.trial.report(record[trainer.monitor], record["epoch"])
        if record["epoch"] < self.epochs and self.trial.should_prune():  # a finished run stays complete
            trainer.request_stop(f"{PRUNED}{record['epoch']}")


def train_trial(trial: optuna.Trial | None, recipe: Recipe, run_dir: Path) -> dict:
    """Train `recipe` into `run_dir`, reporting to `trial` (None: a rank other than 0 of a
    data-parallel trial, which only follows rank 0's stop); returns the run's summary."""
    callbacks = [] if trial is None else [Pruning(trial, recipe.train["epochs"])]
    trainer = Trainer(build(recipe), run_dir, quiet=True, callbacks=callbacks)
    trainer.resume_hint = ""  # not `nnopt run --resume`: the worker says how to continue the study
    try:
        return trainer.fit()
    except DivergedError as exc:
        if trial is not None:
            trial.set_user_attr("diverged", str(exc))
        return trainer.summary("diverged")


def trial_value(summary: dict) -> float:
    """The trial's value from its run's summary; optuna.TrialPruned when the pruner stopped it."""
    if summary["status"] == "stopped" and str(summary.get("stop_reason", "")).startswith(PRUNED):
        raise optuna.TrialPruned(summary["stop_reason"])
    value = summary[f"best_{summary['monitor']}"]
    if value is None:  # diverged before its first epoch ended
        return -math.inf if direction(summary["monitor"]) == "max" else math.inf
    return value


class Objective:
    """``objective(trial) -> the run's best value of its metric``; trial run directories go to ``study_dir/trials/NNNNN``.
    With `job` (a ddp.TrialJob) each trial trains as a data-parallel job of ``job.nproc`` processes."""

    def __init__(self, space: Space, study_dir: str | Path, job=None):
        self.space = space
        self.study_dir = Path(study_dir)
        self.job = job

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker_id())
        assigned = self.space.sample(trial)
        trial.set_user_attr("assigned", assigned)
        recipe = self.space.recipe(assigned)
        trial.set_user_attr("recipe", recipe.to_toml())
        run_dir = self.study_dir / "trials" / f"{trial.number:05d}"
        try:
            summary = train_trial(trial, recipe, run_dir) if self.job is None else self.job.run(trial, recipe, run_dir)
        except (Exception, KeyboardInterrupt) as exc:  # the progress line shows it (optuna's log is off)
            trial.set_user_attr(FAIL_REASON, f"{type(exc).__name__}: {exc}")
            raise
        return trial_value(summary)


def epochs_of(trial: optuna.trial.FrozenTrial) -> int:
    """Epochs a trial consumed: the epochs it reported (its resource use)."""
    return len(trial.intermediate_values)
