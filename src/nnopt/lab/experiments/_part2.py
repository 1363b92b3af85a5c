"""Helpers of the lab's claims 9–17: a small digits recipe and a seed-band plot."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ...recipe import Recipe
from ..base import holds

BASE = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [64]},
        "train": {"batch_size": 64, "threads": 1, "device": "cpu", "checkpoint": False}}


def digits_recipe(seed: int, overrides: Mapping[str, Any] = ()) -> Recipe:
    """The digits MLP (one hidden layer of 64, batch 64, one CPU thread) with dotted overrides; another
    ``model.name`` starts from that model's defaults."""
    overrides = dict(overrides)
    base = BASE if overrides.get("model.name", "mlp") == "mlp" else {**BASE, "model": {}}
    return Recipe(base).override({"train.seed": seed, **overrides})


def band(ax, x: Sequence[float], per_seed: Sequence[Sequence[float]], label: str, color: str,
         style: str = "-") -> None:
    """The mean over seeds as a line and the min–max over seeds as a shaded band."""
    values = np.asarray(per_seed, dtype=float)
    ax.plot(x, values.mean(axis=0), style, color=color, label=label)
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2, linewidth=0)


def final_val_acc(run) -> float:
    """The last epoch's validation accuracy; a diverged run counts as chance (0.1 on 10 classes)."""
    return run.epochs[-1]["val_acc"] if run.summary["status"] != "diverged" and run.epochs else 0.1


def summarize(checks: Mapping[str, bool | tuple[bool, str]]) -> tuple[str, str, str]:
    """A verdict from named checks (each ok, or (ok, what was measured)): (HOLDS only if all hold,
    "name ✓: text; name ✗: text", "Failed: names. " or "")."""
    items = {name: v if isinstance(v, tuple) else (v, "") for name, v in checks.items()}
    failed = [name for name, (ok, _) in items.items() if not ok]
    summary = "; ".join(f"{name} {'✓' if ok else '✗'}" + f": {text}" * bool(text) for name, (ok, text) in items.items())
    return holds(not failed), summary, f"Failed: {', '.join(failed)}. " * bool(failed)
