"""The regularization picture: decision boundaries on noisy two-moons, without and with each regularizer."""
from __future__ import annotations

import numpy as np
import torch

from ..base import Context, Finding, Spread, Table, experiment, holds
from ..regularization_tools import clean_accuracy, probabilities, recipe, run_kept

DATA = {"name": "moons", "n_samples": 300, "noise": 0.35, "val_fraction": 0.2, "test_fraction": 0.45}
MODEL = {"name": "mlp", "widths": [128, 128]}
# coefficients fixed before the first run (not tuned): common textbook values
ARMS = {
    "none": {},
    "L2": {"penalty.name": "l2", "penalty.coef": 1e-3},
    "weight decay": {"optimizer.name": "adamw", "optimizer.weight_decay": 0.1},
    "dropout": {"regularization.dropout": 0.3},
    "early stopping": {"regularization.early_stopping": {"patience": 30, "monitor": "val_loss",
                                                         "restore_best_weights": True}},
}
GRID = 200  # points per axis of the decision-boundary image


def moons_recipe(seed: int, epochs: int, arm: dict):
    return recipe({"data": DATA, "model": MODEL, "optimizer": {"name": "adam", "lr": 0.01},
                   "train": {"epochs": epochs, "batch_size": 32}}, seed, arm)


def boundary(model: torch.nn.Module, lim: np.ndarray) -> np.ndarray:
    """P(class 1) of the model on a GRID × GRID mesh over the box `lim` = [[x0, x1], [y0, y1]]."""
    xs, ys = np.linspace(*lim[0], GRID), np.linspace(*lim[1], GRID)
    mesh = torch.tensor(np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2), dtype=torch.float32)
    return probabilities(model, mesh)[:, 1].reshape(GRID, GRID).numpy()


@experiment("regularization", claim="Regularization trades training fit for generalization: an unregularized "
            "network fits the noise of a small training set, each regularizer smooths the decision boundary",
            precise="Noisy two-moons (σ = 0.35, 105 training points, 135 test points), an MLP 2-128-128-2 trained "
                    "by Adam (lr 0.01, batch 32): the train − test accuracy gap (both measured in eval mode) is "
                    "smaller with each of L2 (λ = 1e-3), decoupled weight decay (AdamW, λ = 0.1), dropout "
                    "(p = 0.3) and early stopping (patience 30 on validation loss, best weights restored) than "
                    "without regularization, mean over seeds",
            source="Goodfellow, Bengio & Courville 2016, ch. 7; Krogh & Hertz 1992 (L2); Loshchilov & Hutter "
                   "2019 (decoupled weight decay); Srivastava et al. 2014 (dropout); Prechelt 1998 (early "
                   "stopping)", budget_s=45, part=3)
def regularization(ctx: Context) -> Finding:
    epochs = ctx.pick(40, 300)
    results = {arm: [run_kept(ctx, moons_recipe(s, epochs, over), f"{slug(arm)}-s{s}") for s in ctx.seeds]
               for arm, over in ARMS.items()}
    train = {arm: Spread([clean_accuracy(setup, "train") for _, setup in rs]) for arm, rs in results.items()}
    test = {arm: Spread([r.summary["test_acc"] for r, _ in rs]) for arm, rs in results.items()}
    gap = {arm: Spread([a - b for a, b in zip(train[arm].values, test[arm].values)]) for arm in ARMS}
    figure = ctx.save_figure(plot(results, train, test), "decision_boundaries")
    narrower = {arm: gap[arm].mean < gap["none"].mean for arm in ARMS if arm != "none"}
    rows = [[arm, train[arm].fmt(".3f"), test[arm].fmt(".3f"), gap[arm].fmt(".3f"),
             f"{np.mean([r.summary['epochs'] for r, _ in results[arm]]):.0f}"] for arm in ARMS]
    failing = [arm for arm, ok in narrower.items() if not ok]
    return Finding(
        verdict=holds(not failing),
        criterion="every regularizer's mean train − test gap < the unregularized mean gap",
        measured="gap " + ", ".join(f"{arm} {gap[arm].mean:.3f}" for arm in ARMS)
                 + (f"; not narrower: {', '.join(failing)}" if failing else ""),
        table=Table(["regularizer", "train acc", "test acc", "gap", "epochs trained"], rows),
        figures=[figure], numbers={"train_acc": train, "test_acc": test, "gap": gap},
        notes="Train accuracy is the trained model in eval mode on the training points (no dropout); the "
              "boundary image is seed 0's P(class 1), the black lines are every seed's P = 0.5 contour.")


def slug(arm: str) -> str:
    return arm.replace(" ", "_")


def plot(results, train, test):
    import matplotlib.pyplot as plt

    data = results["none"][0][1].data
    pts = torch.cat([data.train.x, data.test.x]).cpu().numpy()
    lim = np.stack([pts.min(0) - 0.5, pts.max(0) + 0.5], 1)
    fig, axes = plt.subplots(1, len(results), figsize=(3.1 * len(results), 3.6), sharey=True,
                             constrained_layout=True)
    for ax, (arm, rs) in zip(axes, results.items()):
        image = None
        for k, (_, setup) in enumerate(rs):
            p = boundary(setup.model, lim)
            if k == 0:
                image = ax.imshow(p, origin="lower", extent=lim.ravel(), cmap="RdBu", vmin=0, vmax=1,
                                  alpha=0.75, aspect="auto")
            ax.contour(np.linspace(*lim[0], GRID), np.linspace(*lim[1], GRID), p, levels=[0.5], colors="k",
                       linewidths=1.2 if k == 0 else 0.6, alpha=1.0 if k == 0 else 0.6)
        tx, ty = data.train.x.cpu().numpy(), data.train.y.cpu().numpy()
        ax.scatter(tx[:, 0], tx[:, 1], c=ty, cmap="RdBu", vmin=-0.3, vmax=1.3, s=16, edgecolors="k",
                   linewidths=0.6, label="training points")
        ax.set_title(arm)
        ax.set_xlabel(f"x₁\ntrain {train[arm].mean:.2f} ± {train[arm].std:.2f}   "
                      f"test {test[arm].mean:.2f} ± {test[arm].std:.2f}")
    axes[0].set_ylabel("x₂")
    fig.colorbar(image, ax=axes, shrink=0.8, label="P(class 1), seed 0")
    fig.suptitle(f"Two moons, {len(data.train)} noisy training points: decision boundaries "
                 f"(black: P = 0.5 for each of {len(next(iter(results.values())))} seeds)")
    return fig
