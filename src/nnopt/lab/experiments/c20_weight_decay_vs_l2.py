"""Claim 20: weight decay equals an L2 penalty under SGD, not under Adam (Loshchilov & Hutter 2019)."""
from __future__ import annotations

import math

from ...regularize import weights
from ..base import Context, Finding, Spread, Table, experiment, holds
from ..regularization_tools import Snapshots, band, recipe, run_kept

LAMBDA = 1e-2  # torch's AdamW default, fixed before the first run
SECTIONS = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [64]}, "train": {"batch_size": 64}}
ARMS = {  # (optimizer, how λ enters)
    "SGD + weight decay": {"optimizer.name": "sgd", "optimizer.lr": 0.1, "optimizer.weight_decay": LAMBDA},
    "SGD + L2 penalty": {"optimizer.name": "sgd", "optimizer.lr": 0.1, "penalty.name": "l2", "penalty.coef": LAMBDA},
    "AdamW (decoupled decay)": {"optimizer.name": "adamw", "optimizer.lr": 1e-3, "optimizer.weight_decay": LAMBDA},
    "Adam + L2 penalty": {"optimizer.name": "adam", "optimizer.lr": 1e-3, "penalty.name": "l2", "penalty.coef": LAMBDA},
}
PAIRS = {"SGD": ("SGD + weight decay", "SGD + L2 penalty"), "Adam": ("AdamW (decoupled decay)", "Adam + L2 penalty")}


def distance(a: dict, b: dict) -> float:
    """‖θ_a − θ_b‖ / ‖θ_a‖ over every tensor of two state dicts."""
    diff = math.sqrt(sum(float((a[k] - b[k]).pow(2).sum()) for k in a))
    return diff / math.sqrt(sum(float(a[k].pow(2).sum()) for k in a))


def weight_norm(model) -> float:
    """‖W‖: the 2-norm of the weights λ acts on (matrices, not biases)."""
    return math.sqrt(sum(float(w.detach().pow(2).sum()) for w in weights(model)))


@experiment("weight_decay_vs_l2", shows={"optimizer.weight_decay": "*", "penalty.name": ["l2"]},
            claim="Weight decay is L2 regularization: θ ← θ − α(g + λθ)",
            precise="Digits, an MLP 64-64-10, λ = 1e-2 on the weight matrices: under SGD (lr 0.1) decaying the "
                    "weights by λ in the optimizer and adding ½λ‖W‖² to the loss give the same trajectory to float "
                    "precision (relative parameter distance ≤ 1e-4 at every epoch); under Adam (lr 1e-3) the "
                    "decoupled decay of AdamW and the L2 penalty (rescaled by Adam's 1/√v̂) give different "
                    "parameters (relative distance ≥ 1e-2 at the end), final weight norms and accuracies",
            source="Loshchilov & Hutter 2019, Decoupled weight decay regularization (ICLR); Hanson & Pratt 1988",
            budget_s=25, part=3)
def weight_decay_vs_l2(ctx: Context) -> Finding:
    epochs = ctx.pick(4, 20)
    runs, snaps = {}, {}
    for arm, over in ARMS.items():
        runs[arm], snaps[arm] = [], []
        for s in ctx.seeds:
            snap = Snapshots()
            runs[arm].append(run_kept(ctx, recipe(SECTIONS, s, {"train.epochs": epochs, **over}),
                                      f"{arm.split(' (')[0].replace(' + ', '_').replace(' ', '_')}-s{s}",
                                      callbacks=[snap]))
            snaps[arm].append(snap.states)
    curves = {opt: [[distance(sa[e], sb[e]) for e in range(1, epochs + 1)]
                    for sa, sb in zip(snaps[a], snaps[b])] for opt, (a, b) in PAIRS.items()}
    sgd_max = Spread([max(c) for c in curves["SGD"]])
    adam_final = Spread([c[-1] for c in curves["Adam"]])
    norm = {arm: Spread([weight_norm(setup.model) for _, setup in rs]) for arm, rs in runs.items()}
    acc = {arm: Spread([r.summary["test_acc"] for r, _ in rs]) for arm, rs in runs.items()}
    rows = [[arm, norm[arm].fmt(".3f"), acc[arm].fmt(".3f"),
             (sgd_max if arm.startswith("SGD") else adam_final).fmt(".1e")] for arm in ARMS]
    fig = plot(curves, {arm: [[weight_norm_of(st[e]) for e in range(1, epochs + 1)] for st in snaps[arm]]
                        for arm in ARMS}, epochs)
    return Finding(
        verdict=holds(sgd_max.hi <= 1e-4 and adam_final.lo >= 1e-2),
        criterion="relative distance ‖θ_decay − θ_L2‖/‖θ_decay‖: SGD ≤ 1e-4 at every epoch of every seed; "
                  "Adam ≥ 1e-2 at the end for every seed",
        measured=f"SGD max distance {sgd_max.fmt('.1e')}; Adam final distance {adam_final.fmt('.2f')}; "
                 f"‖W‖ AdamW {norm['AdamW (decoupled decay)'].mean:.2f} vs Adam+L2 {norm['Adam + L2 penalty'].mean:.2f}, "
                 f"test acc {acc['AdamW (decoupled decay)'].mean:.3f} vs {acc['Adam + L2 penalty'].mean:.3f}",
        table=Table(["optimizer + λ", "final ‖W‖", "test acc", "distance to its pair (SGD: max, Adam: final)"], rows),
        figures=[ctx.save_figure(fig, "decay_vs_l2")],
        numbers={"sgd_max_distance": sgd_max, "adam_final_distance": adam_final, "weight_norm": norm,
                 "test_acc": acc, "lambda": LAMBDA},
        notes="Same seed, same data order, one CPU thread: the SGD pair differs only by where λθ is added "
              "(autograd of the penalty vs the optimizer), i.e. by float rounding.")


def weight_norm_of(state: dict) -> float:
    """‖W‖ over the matrices of a state dict (what `weights` selects in an MLP)."""
    return math.sqrt(sum(float(v.pow(2).sum()) for v in state.values() if v.dim() >= 2))


def plot(curves, norms, epochs):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    x = range(1, epochs + 1)
    for opt, color in (("SGD", "tab:blue"), ("Adam", "tab:red")):
        band(left, x, [[max(v, 1e-12) for v in c] for c in curves[opt]], f"{opt}: decay vs L2", color)
    left.axhline(1e-4, color="tab:blue", ls=":", lw=1, label="SGD criterion (≤ 1e-4)")
    left.axhline(1e-2, color="tab:red", ls=":", lw=1, label="Adam criterion (≥ 1e-2)")
    left.set(xlabel="epoch", ylabel="‖θ_decay − θ_L2‖ / ‖θ_decay‖", yscale="log",
             title="distance between the two trajectories")
    left.legend(fontsize=8)
    for (arm, series), color, style in zip(norms.items(), ("tab:blue", "tab:cyan", "tab:red", "tab:orange"),
                                           ("-", "--", "-", "--")):
        band(right, x, series, arm, color, style)
    right.set(xlabel="epoch", ylabel="‖W‖ (weight matrices)", title=f"weight norm, λ = {LAMBDA:g}")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle("Digits MLP: weight decay and L2 coincide under SGD, not under Adam "
                 f"({len(next(iter(curves.values())))} seeds: mean, min–max band)")
    return fig
