"""Random vs bayes (TPE) vs Hyperband vs ASHA vs grid on the digits MLP at an equal budget of epochs.

Each method runs `nnopt.tune` single-worker on the same space for several seeds. A trial's cost is
the epochs it trained (pruned trials stop early); the curve is the best complete trial's val_acc
against cumulative epochs. The table gives, per method, medians over seeds of: the best val_acc
within the budget, the epochs spent, the wall time, and the epochs it needed to reach random
search's final best (× random's budget). Writes docs/figures/hpo.png.

    python bench/hpo.py [--seeds 3] [--epochs 9] [--budget 180]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from optuna.trial import TrialState

from nnopt import Recipe
from nnopt.report.table import format_table
from nnopt.tune import parse_space, tune

SPACE = """
[optimizer]
name = ["sgd", "momentum", "adam"]
lr = { low = 1e-4, high = 0.5, log = true }
momentum = { low = 0.5, high = 0.99, when = { name = "momentum" } }
[model]
widths = { depth = [1, 2], width = [16, 64, 128] }
[regularization]
dropout = { low = 0.0, high = 0.5 }
"""
GRID = """
[optimizer]
name = ["sgd", "momentum", "adam"]
lr = [0.001, 0.01, 0.1]
momentum = { choices = [0.9], when = { name = "momentum" } }
[model]
widths = { choices = [[64], [128, 128]] }
[regularization]
dropout = [0.0, 0.25]
"""
METHODS = ("random", "bayes", "hyperband", "asha", "grid")


def curve(trials) -> list[tuple[int, float]]:
    """(cumulative epochs, best complete val_acc so far) after each trial, in trial order."""
    spent, best, out = 0, 0.0, []
    for t in sorted(trials, key=lambda t: t.number):
        spent += len(t.intermediate_values)
        if t.state == TrialState.COMPLETE:
            best = max(best, t.value)
        out.append((spent, best))
    return out


def within(points, budget) -> list[tuple[int, float]]:
    return [p for p in points if p[0] <= budget]


def run(method: str, seed: int, epochs: int, budget: int, out: Path) -> tuple[list, float]:
    recipe = Recipe({"train": {"epochs": epochs, "batch_size": 64, "threads": 1, "checkpoint": False,
                               "seed": seed}})
    space = parse_space(GRID if method == "grid" else SPACE, recipe)
    trials = None if method == "grid" else (budget // epochs if method in ("random", "bayes") else 4 * budget // epochs)
    t0 = time.perf_counter()
    result = tune(recipe, space, method=method, trials=trials, out=out, seed=seed, quiet=True)
    return curve(result["trials"]), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=9, help="epochs of a full trial (Hyperband's max resource)")
    ap.add_argument("--budget", type=int, default=180, help="epochs each method may spend")
    ap.add_argument("--figure", default="docs/figures/hpo.png")
    args = ap.parse_args()
    torch.set_num_threads(1)
    curves: dict[str, list] = {m: [] for m in METHODS}
    walls: dict[str, list] = {m: [] for m in METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for method in METHODS:
                points, wall = run(method, seed, args.epochs, args.budget, Path(tmp) / f"{method}-{seed}")
                curves[method].append(within(points, args.budget) if method != "grid" else points)
                walls[method].append(wall * (curves[method][-1][-1][0] / points[-1][0]))
                print(f"seed {seed} {method:<9} best {curves[method][-1][-1][1]:.4f} "
                      f"epochs {curves[method][-1][-1][0]} wall {wall:.1f}s", file=sys.stderr)
    rows = []
    for method in METHODS:
        needed = []
        for seed, points in enumerate(curves[method]):
            target = curves["random"][seed][-1][1]
            hit = next((e for e, b in points if b >= target), None)
            needed.append(hit / curves["random"][seed][-1][0] if hit is not None else None)
        reached = [n for n in needed if n is not None]
        rows.append([method, statistics.median(p[-1][1] for p in curves[method]),
                     statistics.median(p[-1][0] for p in curves[method]),
                     round(statistics.median(walls[method]), 1),
                     f"{statistics.median(reached):.2f}" if reached else "-",
                     f"{len(reached)}/{len(needed)}"])
    print(format_table(["method", "best val acc", "epochs", "wall (s)", "epochs to random's best / random's",
                        "seeds reaching it"], rows))
    draw(curves, args.figure, args.budget)
    print(f"figure: {args.figure}")
    return 0


def draw(curves, path, budget) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, runs in curves.items():
        for i, points in enumerate(runs):
            xs, ys = zip(*points)
            ax.step(xs, ys, where="post", color=f"C{METHODS.index(method)}", alpha=0.8,
                    label=method if i == 0 else None)
    ax.set(xlabel="epochs consumed", ylabel="best validation accuracy", xlim=(0, budget), ylim=(0.8, 1.0),
           title="digits MLP: search methods at an equal epoch budget (one line per seed)")
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
