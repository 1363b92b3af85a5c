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
    """Save a PNG of Var z(l) (forward) and ‖δ(l)‖ (backward) against layer l, log scale, one line
    per model (colour: initialization, line style: activation). Top row: every model, on an axis as
    wide as the exploding ones need; bottom row: only the models whose signals neither explode nor
    vanish, on their own axis — on the top one their lines lie on top of each other. The legend sits
    beside the panels, over no data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = lambda r: r.label.rsplit(" / ", 1) if " / " in r.label else (r.label, "")  # noqa: E731
    inits = list(dict.fromkeys(split(r)[0] for r in results))
    acts = list(dict.fromkeys(split(r)[1] for r in results))
    styles = ["-", "--", ":", "-."]
    bounded = [r for r in results if not any(w in r.verdict for w in ("explodes", "vanishes"))]
    fig, axes = plt.subplots(2 if bounded else 1, 2, figsize=(11, 7.6 if bounded else 4.2), squeeze=False)
    for row, shown in zip(axes, (results, bounded)):
        for r in shown:
            init, act = split(r)
            style = dict(color=f"C{inits.index(init) % 10}", ls=styles[acts.index(act) % len(styles)], lw=1.6,
                         label=r.label)
            depth = [s.index + 1 for s in r.layers]
            row[0].plot(depth, [s.z_var for s in r.layers], **style)
            row[1].plot(depth, [s.delta_norm for s in r.layers], **style)
    names = ("Var z(l)  (forward)", "‖δ(l)‖ = ‖∂L/∂z(l)‖  (backward)")
    for i, row in enumerate(axes):
        for ax, what in zip(row, names):
            ax.set_yscale("log")
            ax.set_xlabel("layer l")
            ax.set_ylabel(what.split("  ")[0].split(" = ")[0])
            ax.set_title(what if i == 0 else f"{what}: models that neither explode nor vanish", fontsize=9)
            ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               title="init / activation", title_fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
