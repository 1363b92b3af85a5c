"""Helpers of the lab's claims 9–17: a small digits recipe and a seed-band plot."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ...recipe import Recipe

BASE = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [64]},
        "train": {"batch_size": 64, "threads": 1, "device": "cpu", "checkpoint": False}}


def digits_recipe(seed: int, overrides: Mapping[str, Any] = ()) -> Recipe:
    """The digits MLP (one hidden layer of 64, batch 64, one CPU thread) with dotted overrides."""
    return Recipe(BASE).override({"train.seed": seed, **dict(overrides)})


def band(ax, x: Sequence[float], per_seed: Sequence[Sequence[float]], label: str, color: str,
         style: str = "-") -> None:
    """The mean over seeds as a line and the min–max over seeds as a shaded band."""
    values = np.asarray(per_seed, dtype=float)
    ax.plot(x, values.mean(axis=0), style, color=color, label=label)
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2, linewidth=0)
