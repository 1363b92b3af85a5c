"""A finished run's model and data again: its recipe.toml rebuilt, model.pt loaded."""
from __future__ import annotations

from pathlib import Path

import torch


def trained_setup(run_dir: str | Path, device: str = "cpu"):
    """`nnopt.train.build` of the run's recipe (same seed: the model starts at the run's initial
    parameters) with ``model.pt`` then loaded; returns (setup, initial parameter vector)."""
    from ..recipe import Recipe
    from ..train import build
    from .slices import parameters_vector

    run_dir = Path(run_dir)
    recipe = Recipe.load(run_dir / "recipe.toml").override({"train.device": device})
    setup = build(recipe)
    theta0 = parameters_vector(setup.model)
    setup.model.load_state_dict(torch.load(run_dir / "model.pt", map_location=device, weights_only=True))
    return setup, theta0


def split_batches(split, batch_size: int = 512, limit: int | None = None) -> list:
    """A split's (inputs, targets) as a list of batches, the first `limit` samples (all by default)."""
    n = len(split) if limit is None else min(limit, len(split))
    return [(split.x[i:min(i + batch_size, n)], split.y[i:min(i + batch_size, n)]) for i in range(0, n, batch_size)]
