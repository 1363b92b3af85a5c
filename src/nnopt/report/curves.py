"""Figure of validation curves: one line per variant (mean over seeds, band = min..max)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence


def plot_curves(curves: Mapping[str, Sequence[Sequence[float]]], path: str | Path,
                ylabel: str = "validation accuracy", title: str = "") -> Path:
    """`curves[label]` is a list of per-seed series (one value per epoch); writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, series in curves.items():
        length = min(len(s) for s in series)
        arr = np.array([s[:length] for s in series])
        epochs = np.arange(1, length + 1)
        ax.plot(epochs, arr.mean(0), label=label)
        if len(series) > 1:
            ax.fill_between(epochs, arr.min(0), arr.max(0), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
