"""The diagnostic's outputs: a text table of ratios and a PNG of variance and ‖δ‖ by depth."""
from __future__ import annotations

from pathlib import Path

from .propagation import CRITERION, Propagation


def table(results: list[Propagation]) -> str:
    """One row per measured model: first/last Var z, forward ratio, first/last ‖δ‖, backward ratio."""
    head = ("model", "Var z first", "Var z last", "fwd ratio", "‖δ‖ first", "‖δ‖ last", "bwd ratio", "verdict")
    rows = []
    for r in results:
        first, last = r._ends
        rows.append((r.label, *(f"{v:.3g}" for v in (first.z_var, last.z_var, r.forward_ratio,
                                                     first.delta_norm, last.delta_norm, r.backward_ratio)),
                     r.verdict))
    widths = [max(len(str(row[i])) for row in (head, *rows)) for i in range(len(head))]
    line = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows), CRITERION])


def render(results: list[Propagation], path: str | Path, title: str = "") -> Path:
    """Save a two-panel PNG: Var z(l) and ‖δ(l)‖ against layer l, log scale, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = ["-", "--", ":", "-."]
    acts = sorted({r.label.rsplit(" / ", 1)[-1] for r in results})
    for i, r in enumerate(results):
        depth = [s.index + 1 for s in r.layers]
        style = styles[acts.index(r.label.rsplit(" / ", 1)[-1]) % len(styles)]
        color = f"C{i % len(set(x.label.rsplit(' / ', 1)[0] for x in results))}"
        axes[0].plot(depth, [s.z_var for s in r.layers], style, color=color, label=r.label)
        axes[1].plot(depth, [s.delta_norm for s in r.layers], style, color=color, label=r.label)
    for ax, what in zip(axes, ("Var z(l)  (forward)", "‖δ(l)‖ = ‖∂L/∂z(l)‖  (backward)")):
        ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_title(what)
        ax.grid(True, which="major", alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
