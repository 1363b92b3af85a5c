"""Measurements of the lab's claims 14–26 that the framework does not own: a run's final validation
accuracy (chance when diverged), its clean training accuracy and train − test gap, the "reduces
overfitting" criterion and its precondition, softmax probabilities, per-epoch snapshots and one
hyperparameter search through nnopt.tune's own pieces. Recipes, seed loops and trained models come
from `lab.base` (``ctx.recipe``, ``ctx.runs``, ``RunResult.setup()``)."""
from __future__ import annotations

import json
from typing import Callable

import torch

from ..train import Callback
from .base import Check, LabContext, Precondition, RunResult, Runs, Spread, exceeds


CLEAN = "clean_accuracy.json"


@torch.no_grad()
def accuracy(model: torch.nn.Module, split, batch_size: int = 1024) -> float:
    """Fraction of argmax(model(x)) = y over a split, in eval mode (the model's mode restored)."""
    was = model.training
    model.eval()
    try:
        right = sum(int((model(split.x[i:i + batch_size]).argmax(1) == split.y[i:i + batch_size]).sum())
                    for i in range(0, len(split), batch_size))
    finally:
        model.train(was)
    return right / len(split)


class CleanAccuracy(Callback):
    """At the end of a fit, the model's accuracy in eval mode (no dropout, no augmentation) on the clean
    training and test splits, written to ``<run_dir>/clean_accuracy.json`` — measured on the Trainer's
    own model, so no rebuild of model and data is needed later."""

    def on_fit_end(self, trainer, summary: dict) -> None:
        data = trainer.setup.data
        acc = {split: accuracy(trainer.setup.model, getattr(data, split)) for split in ("train", "test")}
        (trainer.run_dir / CLEAN).write_text(json.dumps(acc))


def chance(run: RunResult) -> float:
    """1/K for the run's data set (read from its recipe: a diverged run has no model to rebuild)."""
    from ..data import load
    from ..recipe import Recipe

    recipe = Recipe.load(run.run_dir / "recipe.toml")
    return 1.0 / load(recipe.data["name"], **recipe.params("data")).n_classes


def final_val_acc(run: RunResult) -> float:
    """The last epoch's validation accuracy; a diverged run (or one with no epoch) counts as chance, 1/K."""
    return chance(run) if run.diverged or not run.epochs else run.epochs[-1]["val_acc"]


def clean_accuracy(run: RunResult, split: str = "train") -> float:
    """The run's clean accuracy on `split` as `CleanAccuracy` wrote it; a diverged run (no file):
    chance, 1/K."""
    path = run.run_dir / CLEAN
    if path.is_file():
        return json.loads(path.read_text())[split]
    return chance(run)


def gaps(runs: Runs) -> tuple[Spread, Spread, Spread]:
    """(clean train accuracy, clean test accuracy, train − test gap) over the seeds of one arm (runs
    trained with a `CleanAccuracy` callback)."""
    train = runs.spread(clean_accuracy)
    test = runs.spread(lambda r: clean_accuracy(r, "test"))
    return train, test, Spread([a - b for a, b in zip(train.values, test.values)])


def overfits(none: tuple[Spread, Spread, Spread], what: str = "the network", by: float = 0.02) -> Precondition:
    """The precondition of a claim about overfitting: without the regularizer every seed's train − test gap
    exceeds `by`."""
    return Precondition(f"without it {what} overfits (train − test gap > {by:g}, every seed)", none[2].lo > by,
                        f"gap {none[2].fmt('.3f')}")


def narrows_gap(none: tuple[Spread, Spread, Spread], what: str = "regularized") -> Callable:
    """The criterion of "reduces overfitting", as a check on an arm's (train, test, gap): the gap falls
    below `none`'s beyond the seed spread (95% interval of gap(none) − gap(arm) above 0) and the mean
    test accuracy does not fall — a gap that closes only because training accuracy falls does not pass."""
    def check(arm: tuple[Spread, Spread, Spread]) -> Check:
        smaller = exceeds(none[2], arm[2], what=f"gap(none) − gap({what})")
        kept = arm[1].mean >= none[1].mean
        return Check(smaller.ok and kept, f"{smaller.measured}; test acc {none[1].mean:.3f} → {arm[1].mean:.3f}")
    return check


class Snapshots(Callback):
    """A copy of the model's state dict at the end of every epoch: ``states[epoch]``."""

    def __init__(self):
        self.states: dict[int, dict] = {}

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.states[epoch] = {k: v.detach().clone() for k, v in trainer.setup.model.state_dict().items()}


@torch.no_grad()
def probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """softmax(model(x)) in eval mode."""
    was = model.training
    model.eval()
    try:
        return torch.softmax(model(x).float(), dim=-1)
    finally:
        model.train(was)


def search(ctx: LabContext, rec, space: str, method: str, trials: int | None, seed: int, label: str) -> list:
    """One hyperparameter search with nnopt.tune's space, sampler, pruner and trial objective, on an
    in-memory Optuna study (no journal, no report); trial runs go to ``out/studies/<label>/trials``
    and the best trial's recipe to ``out/recipes/<label>-best.toml``. Returns the trials in order;
    grid search runs its whole grid (`trials` ignored)."""
    import optuna

    from ..errors import ConfigError
    from ..tune import parse_space
    from ..tune.objective import Objective
    from ..tune.sampler import ConfigGridSampler, make_pruner, make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parsed = parse_space(space, rec)
    sampler = make_sampler(method, parsed, seed)
    # a fixed study name: Hyperband assigns trials to brackets by a hash of it
    study = optuna.create_study(study_name=label, direction="maximize", sampler=sampler,
                                pruner=make_pruner(method, rec.train["epochs"]))
    n = sampler.size() if isinstance(sampler, ConfigGridSampler) else trials
    study.optimize(Objective(parsed, ctx.out / "studies" / label), n_trials=n, catch=(ConfigError,))
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    if done:
        (ctx.out / "recipes").mkdir(parents=True, exist_ok=True)
        best = max(done, key=lambda t: (t.value, -t.number))
        (ctx.out / "recipes" / f"{label}-best.toml").write_text(best.user_attrs["recipe"])
    return study.trials
