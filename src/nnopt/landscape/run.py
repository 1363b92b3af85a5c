"""A finished run's model and data again: its recipe.toml rebuilt, model.pt loaded."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


def trained_setup(run_dir: str | Path, device: str = "cpu"):
    """`nnopt.train.build` of the run's recipe (same seed: the model starts at the run's initial
    parameters) with ``model.pt`` then loaded; returns (setup, initial parameter vector)."""
    from ..recipe import Recipe
    from ..train import build
    from ..train.rundir import RECIPE, RunDir
    from .slices import parameters_vector

    run = RunDir(run_dir)
    raw = run.recipe()
    if raw is None:
        raise ConfigError(f"{run.path} holds no {RECIPE}: landscape rebuilds the run from it")
    setup = build(Recipe(raw).override({"train.device": device}))  # built, so validated
    theta0 = parameters_vector(setup.model)
    setup.model.load_state_dict(run.model_state(device))
    return setup, theta0


def split_batches(split, batch_size: int = 512, limit: int | None = None) -> list:
    """A split's (inputs, targets) as a list of batches, the first `limit` samples (all by default)."""
    n = len(split) if limit is None else min(limit, len(split))
    return [(split.x[i:min(i + batch_size, n)], split.y[i:min(i + batch_size, n)]) for i in range(0, n, batch_size)]
