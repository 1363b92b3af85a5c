"""Grid, random, TPE, Hyperband, ASHA and BOHB on a Fashion-MNIST MLP at an equal budget of epochs.

Each method runs `nnopt.tune` (one worker) on the same space for several seeds. A trial's cost is
the epochs it trained (pruned trials stop early); a method's curve is the best complete trial's
val_acc against the cumulative epochs of all its trials, cut at the budget. Per method, medians over
seeds of: the final best val_acc, the epochs spent, the wall time, and the time to the target —
random search's final best of the same seed — in epochs, as a fraction of random's budget (the goal:
≤ ⅓ for the pruning methods) and as a ratio to random's own epochs to reach it.

The data: the first `--images` images of Fashion-MNIST's training file (`--val` of them held out for
validation) and 1,000 test images, written as IDX files into a temporary directory so a trial does
not decode the whole data set. Writes docs/figures/hpo.png (median curve and min–max band per method)
and, after each study, every curve so far to ``--curves`` (JSON): ``--from-curves FILE`` redraws the
table and figure from such a file (e.g. of an interrupted run, over the seeds it completed).

    python bench/hpo.py [--seeds 3] [--epochs 9] [--budget 162] [--images 1500] [--val 500]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from optuna.trial import TrialState

from nnopt import Recipe
from nnopt.data.fashion_mnist import DEFAULT_PATH, FILES, load_arrays
from nnopt.report.table import format_table
from nnopt.tune import parse_space, tune

SPACE = """
[optimizer]
name = ["sgd", "momentum", "adam"]
lr = { low = 1e-4, high = 1.0, log = true }
momentum = { low = 0.5, high = 0.99, when = { name = "momentum" } }
[model]
widths = { depth = [1, 2], width = [32, 128, 256] }
[regularization]
dropout = { low = 0.0, high = 0.5 }
"""
GRID = """
[optimizer]
name = ["sgd", "momentum", "adam"]
lr = [0.001, 0.01, 0.1]
momentum = { choices = [0.9], when = { name = "momentum" } }
[model]
widths = { choices = [[128], [256, 256]] }
"""
METHODS = ("random", "grid", "bayes", "hyperband", "asha", "bohb")
LABELS = {"bayes": "TPE (bayes)"}
PRUNING = ("hyperband", "asha", "bohb")


def write_subset(out: Path, images: int, test_images: int = 1000) -> None:
    """The first `images` training and `test_images` test images of Fashion-MNIST as plain IDX files."""
    arrays = load_arrays(DEFAULT_PATH)
    out.mkdir(parents=True, exist_ok=True)
    for key, stem in FILES.items():
        part = arrays[key][: images if key.startswith("train") else test_images]
        header = bytes([0, 0, 0x08, part.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in part.shape)
        (out / stem).write_bytes(header + np.ascontiguousarray(part, dtype=np.uint8).tobytes())


def curve(trials) -> list[tuple[int, float, float]]:
    """(cumulative epochs, cumulative seconds, best complete val_acc so far) after each trial, in
    trial order."""
    spent, wall, best, out = 0, 0.0, 0.0, []
    for t in sorted(trials, key=lambda t: t.number):
        spent += len(t.intermediate_values)
        wall += t.duration.total_seconds() if t.duration else 0.0
        if t.state == TrialState.COMPLETE:
            best = max(best, t.value)
        out.append((spent, wall, best))
    return out


def run(method: str, seed: int, args, data: Path, out: Path) -> list:
    recipe = Recipe({"data": {"name": "fashion_mnist", "path": str(data), "val_size": args.val, "layout": "flat"},
                     "train": {"epochs": args.epochs, "batch_size": 64, "threads": 1, "checkpoint": False,
                               "seed": seed}})
    space = parse_space(GRID if method == "grid" else SPACE, recipe)
    full = args.budget // args.epochs
    trials = None if method == "grid" else (3 * full if method in PRUNING else full)
    # each method its own sampler seed: with a shared one, TPE's start-up and Hyperband's draws repeat
    # random search's first configurations and the comparison measures little
    result = tune(recipe, space, method=method, trials=trials, out=out, seed=1000 * seed + METHODS.index(method),
                  quiet=True, report=False)
    return [p for p in curve(result["trials"]) if p[0] <= args.budget]


def hit(points, target) -> tuple[int, float] | None:
    """(epochs, seconds) at which the curve first reaches `target`."""
    return next(((e, w) for e, w, b in points if b >= target), None)


def table(curves: dict) -> list[list]:
    rows = []
    for method in METHODS:
        of_budget, of_random, walls = [], [], []
        for seed, points in enumerate(curves[method]):
            random = curves["random"][seed]
            target = random[-1][2]
            mine, theirs = hit(points, target), hit(random, target)
            if mine is not None:
                of_budget.append(mine[0] / random[-1][0])
                of_random.append(mine[0] / theirs[0])
                walls.append(mine[1] / theirs[1])
        rows.append([LABELS.get(method, method), f"{statistics.median(p[-1][2] for p in curves[method]):.4f}",
                     statistics.median(p[-1][0] for p in curves[method]),
                     round(statistics.median(p[-1][1] for p in curves[method])),
                     f"{statistics.median(of_budget):.2f}" if of_budget else "-",
                     f"{statistics.median(of_random):.2f}" if of_random else "-",
                     f"{statistics.median(walls):.2f}" if walls else "-",
                     f"{len(of_budget)}/{len(curves[method])}"])
    return rows


def run_all(args, curves: dict, t0: float) -> None:
    """Every method for every seed, seed by seed; saves the curves after each study."""
    with tempfile.TemporaryDirectory() as tmp:
        write_subset(Path(tmp) / "data", args.images)
        for seed in range(args.seeds):
            for method in METHODS:
                points = run(method, seed, args, Path(tmp) / "data", Path(tmp) / f"{method}-{seed}")
                curves[method].append(points)
                Path(args.curves).parent.mkdir(parents=True, exist_ok=True)
                Path(args.curves).write_text(json.dumps(curves))
                print(f"seed {seed} {method:<9} best {points[-1][2]:.4f} epochs {points[-1][0]} "
                      f"trial time {points[-1][1]:.0f}s (elapsed {time.perf_counter() - t0:.0f}s)",
                      file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=9, help="epochs of a full trial (Hyperband's max resource)")
    ap.add_argument("--budget", type=int, default=162, help="epochs each method may spend")
    ap.add_argument("--images", type=int, default=1500, help="training-file images used (train + val)")
    ap.add_argument("--val", type=int, default=500, help="of those, held out for validation")
    ap.add_argument("--figure", default="docs/figures/hpo.png")
    ap.add_argument("--curves", default="runs/hpo_curves.json", help="where each finished study's curve is saved")
    ap.add_argument("--from-curves", metavar="FILE", help="only tabulate and draw the curves in FILE")
    args = ap.parse_args()
    torch.set_num_threads(1)
    curves: dict[str, list] = {m: [] for m in METHODS}
    t0 = time.perf_counter()
    if args.from_curves:
        saved = json.loads(Path(args.from_curves).read_text())
        seeds = min(len(v) for v in saved.values())  # the seeds every method completed
        curves = {m: saved[m][:seeds] for m in METHODS}
        args.seeds = seeds
    else:
        run_all(args, curves, t0)
    print(f"{args.seeds} seeds; {args.images - args.val} training and {args.val} validation images, "
          f"{args.epochs}-epoch trials, a budget of {args.budget} epochs per method and seed")
    print(format_table(["method", "best val acc", "epochs", "trial time (s)",
                        "epochs to target ÷ random's budget", "÷ random's epochs to target",
                        "trial time to target ÷ random's", "seeds reaching it"], table(curves)))
    draw(curves, args)
    print(f"figure: {args.figure}; total {time.perf_counter() - t0:.0f}s")
    return 0


def draw(curves, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.arange(1, args.budget + 1)
    fig, ax = plt.subplots(figsize=(8, 5))
    low = 1.0
    for i, method in enumerate(METHODS):
        # each seed's best-so-far as a step function of epochs (nan before its first complete trial;
        # kept after a study that spent less than the budget)
        runs = np.array([[max((b for e, _, b in points if e <= x and b > 0), default=np.nan) for x in grid]
                         for points in curves[method]])
        with warnings.catch_warnings():  # all-nan columns: no seed has a complete trial yet
            warnings.simplefilter("ignore", RuntimeWarning)
            median, lo, hi = np.nanmedian(runs, 0), np.nanmin(runs, 0), np.nanmax(runs, 0)
        style = "-" if method in PRUNING else "--"
        ax.step(grid, median, where="post", color=f"C{i}", ls=style, label=LABELS.get(method, method))
        ax.fill_between(grid, lo, hi, step="post", color=f"C{i}", alpha=0.07)
        low = min(low, np.nanmin(median))
    ax.set(xlabel="cumulative epochs (all trials)", ylabel="best validation accuracy (complete trials)",
           xlim=(0, args.budget), ylim=(max(0.0, low - 0.02), None),
           title=f"Fashion-MNIST MLP ({args.images - args.val} training images, {args.epochs}-epoch trials)\n"
                 f"median of {args.seeds} seeds, min–max band")
    ax.legend(loc="lower right")
    fig.tight_layout()
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
