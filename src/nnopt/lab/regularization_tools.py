"""Helpers of the lab's claims 18–24 (regularization): recipes, the trained model of a run, bands.

`run_kept(ctx, recipe, label)` trains like ``ctx.run`` and also returns the run's built Setup (model
with the weights its evaluation used, data on the device), so an experiment can measure the model
itself — clean training accuracy in eval mode, Monte-Carlo dropout, calibration, decision boundaries.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..recipe import Recipe
from ..train import Callback, Setup
from ..train.trainer import evaluate
from .base import Context, RunResult, Spread

CPU = {"threads": 1, "device": "cpu", "checkpoint": False}


def recipe(sections: Mapping[str, Mapping[str, Any]], seed: int, overrides: Mapping[str, Any] = ()) -> Recipe:
    """A one-thread CPU recipe from `sections` (train.* added) with ``train.seed = seed`` and dotted
    `overrides` applied."""
    raw = {k: dict(v) for k, v in sections.items()}
    raw["train"] = {**CPU, **raw.get("train", {})}
    return Recipe(raw).override({"train.seed": seed, **dict(overrides)})


class KeepSetup(Callback):
    """Keeps the Trainer's Setup at the end of the fit (the model then holds model.pt's weights)."""

    setup: Setup | None = None

    def on_fit_end(self, trainer, summary: dict) -> None:
        self.setup = trainer.s


def run_kept(ctx: Context, rec: Recipe, label: str, callbacks: Sequence = ()) -> tuple[RunResult, Setup]:
    """``ctx.run(rec, label)`` plus the run's Setup (see the module docstring)."""
    keep = KeepSetup()
    result = ctx.run(rec, label, callbacks=[*callbacks, keep])
    return result, keep.setup


class Snapshots(Callback):
    """A copy of the model's state dict at the end of every epoch: ``states[epoch]``."""

    def __init__(self):
        self.states: dict[int, dict] = {}

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.states[epoch] = {k: v.detach().clone() for k, v in trainer.s.model.state_dict().items()}


def clean_accuracy(setup: Setup, split: str = "train") -> float:
    """Accuracy of the model in eval mode (no dropout, no augmentation) on a split of its data."""
    return evaluate(setup.model, getattr(setup.data, split), 1024)[1]


def spreads(runs: Mapping[str, Sequence[Any]], measure) -> dict[str, Spread]:
    """{arm: Spread(measure(run) for each seed's run)}."""
    return {arm: Spread([float(measure(r)) for r in rs]) for arm, rs in runs.items()}


def band(ax, x: Sequence[float], per_seed: Sequence[Sequence[float]], label: str, color: str,
         style: str = "-") -> None:
    """The mean over seeds as a line, the min–max over seeds as a shaded band (series cut to the
    shortest seed's length)."""
    n = min(len(s) for s in per_seed)
    values = np.asarray([list(s)[:n] for s in per_seed], dtype=float)
    x = list(x)[:n]
    ax.plot(x, values.mean(axis=0), style, color=color, label=label)
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2, linewidth=0)


@torch.no_grad()
def probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """softmax(model(x)) in eval mode."""
    was = model.training
    model.eval()
    try:
        return torch.softmax(model(x).float(), dim=-1)
    finally:
        model.train(was)


def search(ctx: Context, rec: Recipe, space: str, method: str, trials: int | None, seed: int, label: str) -> list:
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
