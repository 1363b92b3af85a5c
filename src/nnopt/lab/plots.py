"""Figure helpers shared by the lab's experiments: seed spread as a band, log axes when needed."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def figure(ncols: int = 1, width: float = 6.0, height: float = 3.8):
    """A matplotlib figure with `ncols` side-by-side axes (Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def band(ax, x: Sequence[float], runs: Sequence[Sequence[float]], label: str, **style):
    """Mean over seeds as a line, min–max over seeds as a shaded band of the same colour."""
    length = min(len(r) for r in runs)
    arr = np.array([list(r)[:length] for r in runs], dtype=float)
    x = np.asarray(x)[:length]
    line, = ax.plot(x, arr.mean(0), label=label, **style)
    if len(runs) > 1:
        ax.fill_between(x, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.18, lw=0)
    return line
