"""Claim 13: a constant initialization makes the hidden units of a layer identical for good."""
from __future__ import annotations

import warnings

import torch

from ..base import Context, Finding, Spread, Table, experiment, holds
from ._part2 import band, digits_recipe

WIDTHS = [32, 32]
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


@experiment("zero_init", shows={"init.name": ["zeros", "constant"]},
            claim="Zero (constant) initialization makes the hidden units identical; random "
            "initialization breaks the symmetry.",
            precise="An MLP 64-32-32-10 on digits, every weight 0.01 and every bias 0, trained by Adam: after "
                    "training, every pair of units of a hidden layer has exactly equal incoming weights (they get "
                    "equal gradients at every step), and the network is no better than a 1-unit-wide one; from "
                    "He-normal init no two units are equal",
            source="Goodfellow, Bengio & Courville 2016, §8.4 (breaking symmetry)", budget_s=20, part=2)
def zero_init(ctx: Context) -> Finding:
    epochs = ctx.pick(4, 30)
    runs = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="constant init")  # the warning this experiment demonstrates
        for name, init in INITS.items():
            runs[name] = [ctx.run(digits_recipe(s, {**init, "model.widths": WIDTHS, "train.epochs": epochs}),
                                  f"{name}-s{s}") for s in ctx.seeds]
    spread = {name: [unit_spread(torch.load(r.run_dir / "model.pt")) for r in rs] for name, rs in runs.items()}
    const_max = Spread([mx for mx, _ in spread["constant"]])
    random_min = Spread([mn for _, mn in spread["he_normal"]])
    acc = {name: Spread([r.summary["test_acc"] for r in rs]) for name, rs in runs.items()}
    verdict = holds(const_max.hi == 0.0 and random_min.lo > 0.0 and acc["constant"].hi < acc["he_normal"].lo)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained", gridspec_kw={"width_ratios": [1.2, 1, 1]})
    x = range(1, epochs + 1)
    for (name, rs), color in zip(runs.items(), ("C3", "C0")):
        band(axes[0], x, [r.series("val_acc") for r in rs], f"{LABELS[name]} init", color)
    axes[0].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
    axes[0].set_title(f"digits MLP, mean and min–max over {len(ctx.seeds)} seeds", fontsize=10)
    axes[0].legend(loc="upper left")
    for ax, name in zip(axes[1:], INITS):
        w = torch.load(runs[name][0].run_dir / "model.pt")["1.weight"].numpy()
        image = ax.imshow(w, aspect="auto", cmap="RdBu_r", vmin=-abs(w).max(), vmax=abs(w).max())
        ax.set(xlabel="input pixel (8×8 image, row-major)", ylabel="hidden unit of layer 1")
        ax.set_title(f"layer-1 weights after training, {LABELS[name]} init (seed {ctx.seeds[0]})", fontsize=10)
        fig.colorbar(image, ax=ax, label="weight")
    figure = ctx.save_figure(fig, "symmetry")

    table = Table(["init", "max |w_i − w_j| over unit pairs", "min |w_i − w_j| over unit pairs", "test accuracy"],
                  [[LABELS[name], Spread([mx for mx, _ in spread[name]]).fmt(".3g"),
                    Spread([mn for _, mn in spread[name]]).fmt(".3g"), acc[name].fmt(".3f")] for name in INITS])
    return Finding(
        verdict=verdict,
        criterion="for every seed: constant init's max pairwise difference of incoming weights = 0 exactly (float32) "
                  "and He init's min pairwise difference > 0 and every constant-init test accuracy below every "
                  "He-init one",
        measured=f"constant init: max difference {const_max.fmt('.3g')}, test accuracy {acc['constant'].fmt('.3f')}; "
                 f"He init: min difference {random_min.fmt('.3g')}, test accuracy {acc['he_normal'].fmt('.3f')}",
        table=table, figures=[figure],
        numbers={"constant_max_difference": const_max, "random_min_difference": random_min,
                 "test_acc": acc, "epochs": epochs})
