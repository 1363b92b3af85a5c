"""The lab's one figure style: side-by-side axes, seed spread as a band, titles that say the real
number of seeds (`spread_note`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import DOES_NOT_HOLD, HOLDS, Part


def figure(ncols: int = 1, width: float = 6.0, height: float = 3.8, nrows: int = 1):
    """A matplotlib figure of `nrows` × `ncols` axes (Agg backend, no display needed), returned as
    (fig, flat list of axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, list(axes.flat)


def spread_note(n: int) -> str:
    """What a band shows, for a title: "mean, band min–max of n seeds"."""
    return f"mean, band min–max of {n} seed{'s' * (n != 1)}"


def band(ax, x: Sequence[float], per_seed: Sequence[Sequence[float]], label: str, color=None, ls: str = "-",
         **style):
    """Mean over seeds as a line, min–max over seeds as a shaded band of the same colour (series cut
    to the shortest seed's length); returns the line."""
    length = min(len(r) for r in per_seed)
    arr = np.array([list(r)[:length] for r in per_seed], dtype=float)
    x = np.asarray(x)[:length]
    line, = ax.plot(x, arr.mean(0), ls, label=label, color=color, **style)
    if len(per_seed) > 1:
        ax.fill_between(x, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.18, lw=0)
    return line


def finish(fig, *axes, legend_size: float = 7) -> None:
    """The common finish: a light grid and a legend on every axis that has labelled artists, tight
    layout."""
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=legend_size)
    fig.tight_layout()


VERDICT_COLORS = {HOLDS: "#b7e1b0", DOES_NOT_HOLD: "#f2b8b5"}  # INCONCLUSIVE: grey


def verdict_map(ax, cells: list[tuple[str, Part, str]], title: str) -> None:
    """A regime map as a column of cells, one per regime: the part's verdict as the cell's colour (green
    HOLDS, red DOES NOT HOLD, grey INCONCLUSIVE), the regime, the verdict and `text` (the numbers) inside."""
    import textwrap

    from matplotlib.patches import Rectangle

    for i, (name, part, text) in enumerate(cells):
        y = len(cells) - 1 - i
        ax.add_patch(Rectangle((0, y), 1, 0.92, color=VERDICT_COLORS.get(part.verdict, "0.85")))
        ax.text(0.03, y + 0.46, "\n".join(textwrap.wrap(f"{name}: {part.verdict}; {text}", 44)), va="center",
                fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, len(cells)), xticks=[], yticks=[], title=title)
