"""Claim 13: a constant initialization makes the hidden units of a layer identical for good."""
from __future__ import annotations

import warnings

import torch

from ..base import Check, LabContext, Finding, Spread, Table, exceeds, experiment
from ..plots import band, figure, spread_note

WIDTHS = [32, 32]
WORKLOAD = {"data": {"name": "digits"}, "model": {"widths": WIDTHS}, "train": {"batch_size": 64}}
INITS = {"constant": {"init.name": "constant", "init.value": 0.01}, "he_normal": {"init.name": "he_normal"}}
LABELS = {"constant": "constant 0.01", "he_normal": "He normal"}


def pairwise_differences(weight: torch.Tensor) -> torch.Tensor:
    """D[i, j] = max_k |W[i, k] − W[j, k]|: how far apart the incoming weights of units i and j are."""
    return (weight[:, None, :] - weight[None, :, :]).abs().amax(dim=-1)


def unit_spread(state: dict) -> tuple[float, float]:
    """(max, min) over the hidden layers and unit pairs i < j of D[i, j] (see `pairwise_differences`)."""
    hidden = [k for k in state if k.endswith("weight")][:-1]  # the output layer is not hidden
    off = [d[torch.triu(torch.ones_like(d, dtype=torch.bool), 1)]
           for d in (pairwise_differences(state[k]) for k in hidden)]
    values = torch.cat(off)
    return float(values.max()), float(values.min())


@experiment("zero_init", shows={"init.name": ["zeros", "constant"]}, cost_s=(0.9, 3),
            claim="Zero (constant) initialization makes the hidden units identical; random "
            "initialization breaks the symmetry.",
            precise="An MLP 64-32-32-10 on digits, every weight 0.01 and every bias 0, trained by Adam: after "
                    "training, every pair of units of a hidden layer has exactly equal incoming weights (they get "
                    "equal gradients at every step), so the network trains like a 1-unit-wide one: its test accuracy "
                    "is > 5 points below He-normal init's beyond the seed spread; from He-normal init no two units "
                    "are equal",
            source="Goodfellow, Bengio & Courville 2016, §8.4 (breaking symmetry)")
def zero_init(ctx: LabContext) -> Finding:
    epochs = ctx.pick(4, 30)
    runs = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="constant init")  # the warning this experiment demonstrates
        for name, init in INITS.items():
            runs[name] = ctx.runs(lambda s, i=init: ctx.recipe(WORKLOAD, s, {**i, "train.epochs": epochs}), name)
    spread = {name: [unit_spread(torch.load(r.run_dir / "model.pt")) for r in rs] for name, rs in runs.items()}
    largest = {name: Spread([mx for mx, _ in v]) for name, v in spread.items()}
    smallest = {name: Spread([mn for _, mn in v]) for name, v in spread.items()}
    acc = {name: rs.spread(lambda r: r.summary["test_acc"]) for name, rs in runs.items()}
    ctx.part("a constant initialization makes the hidden units identical",
             criterion="every seed: the largest difference between two units' incoming weights is exactly 0 after "
                       "training (float32)",
             check=lambda d: Check(d.hi == 0.0, f"largest difference {d.fmt('.3g')}"), on=largest["constant"],
             control=("He-normal init", largest["he_normal"]),
             why="some units differ after training: something broke the symmetry")
    ctx.part("random initialization breaks the symmetry",
             criterion="every seed: the smallest difference between two units' incoming weights is > 0",
             check=lambda d: Check(d.lo > 0.0, f"smallest difference {d.fmt('.3g')}"), on=smallest["he_normal"],
             control=("constant init", smallest["constant"]), why="two units stay identical from a random init")
    ctx.part("identical units make the network no better than a narrow one",
             criterion="He-init − constant-init test accuracy > 0.05 beyond the seed spread (95% Welch interval)",
             check=lambda arm: exceeds(arm, acc["constant"], by=0.05, what="test accuracy difference"),
             on=acc["he_normal"], control=("constant init compared with itself", acc["constant"]),
             why="the constant-init network trains about as well as the He-init one")

    fig, axes = figure(3, width=5.0, height=4.0)
    x = range(1, epochs + 1)
    for (name, rs), color in zip(runs.items(), ("C3", "C0")):
        band(axes[0], x, [r.series("val_acc") for r in rs], f"{LABELS[name]} init", color)
    axes[0].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1),
                title=f"digits MLP ({spread_note(len(ctx.seeds))})")
    axes[0].legend(loc="upper left")
    for ax, name in zip(axes[1:], INITS):
        w = torch.load(runs[name][0].run_dir / "model.pt")["1.weight"].numpy()
        image = ax.imshow(w, aspect="auto", cmap="RdBu_r", vmin=-abs(w).max(), vmax=abs(w).max())
        ax.set(xlabel="input pixel (8×8 image, row-major)", ylabel="hidden unit of layer 1",
               title=f"layer-1 weights after training, {LABELS[name]} init (seed {ctx.seeds[0]})")
        fig.colorbar(image, ax=ax, label="weight")
    fig.tight_layout()
    figure_path = ctx.save_figure(fig, "symmetry", caption="middle: every row (a hidden unit) of the constant-init "
                                  "layer is the same stripe pattern; right: He init's rows all differ")

    table = Table(["init", "max |w_i − w_j| over unit pairs", "min |w_i − w_j| over unit pairs", "test accuracy"],
                  [[LABELS[name], Spread([mx for mx, _ in spread[name]]).fmt(".3g"),
                    Spread([mn for _, mn in spread[name]]).fmt(".3g"), acc[name].fmt(".3f")] for name in INITS])
    return ctx.finding(table=table, figures=[figure_path],
                       numbers={"largest_difference": largest, "smallest_difference": smallest, "test_acc": acc,
                                "epochs": epochs})
