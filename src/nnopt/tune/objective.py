"""One trial: sample the space → Recipe → train with nnopt's Trainer, reporting val_acc each epoch.

The trial's value is the run's best validation accuracy (summary.json's ``best_val_acc``), so
``nnopt run best.toml`` reproduces it. After every epoch the epoch's val_acc is reported at step =
epoch and the pruner asked (before the last epoch); a pruned trial stops at once. A diverged run ends the trial with the
best val_acc it reached (0 before the first epoch) and the error in user attribute ``diverged``.
"""
from __future__ import annotations

from pathlib import Path

import optuna

from ..errors import DivergedError
from ..train import LambdaCallback, Trainer, build
from .space import Space
from .storage import WORKER_ATTR, worker_id


class Objective:
    """``objective(trial) -> best val_acc``; trial run directories go to ``study_dir/trials/NNNNN``."""

    def __init__(self, space: Space, study_dir: str | Path):
        self.space = space
        self.study_dir = Path(study_dir)

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker_id())
        assigned = self.space.sample(trial)
        trial.set_user_attr("assigned", assigned)
        recipe = self.space.recipe(assigned)
        trial.set_user_attr("recipe", recipe.to_toml())
        best, epochs = [0.0], recipe.train["epochs"]

        def on_epoch_end(trainer, epoch: int, record: dict) -> None:
            best[0] = max(best[0], record["val_acc"])
            trial.report(record["val_acc"], record["epoch"])
            if record["epoch"] < epochs and trial.should_prune():  # a finished run stays complete
                raise optuna.TrialPruned(f"pruned after epoch {record['epoch']}")

        trainer = Trainer(build(recipe), self.study_dir / "trials" / f"{trial.number:05d}", quiet=True,
                          callbacks=[LambdaCallback(on_epoch_end=on_epoch_end)])
        try:
            return trainer.fit()["best_val_acc"]
        except DivergedError as exc:
            trial.set_user_attr("diverged", str(exc))
            return best[0]


def epochs_of(trial: optuna.trial.FrozenTrial) -> int:
    """Epochs a trial consumed: the epochs it reported (its resource use)."""
    return len(trial.intermediate_values)
