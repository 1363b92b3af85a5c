"""Claim 20: weight decay equals an L2 penalty under SGD, not under Adam (Loshchilov & Hutter 2019)."""
from __future__ import annotations

import math

from ..base import Check, Finding, LabContext, Snapshots, Spread, Table, experiment
from ..plots import band

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


@experiment("weight_decay_vs_l2", shows={"optimizer.weight_decay": "*", "penalty.name": ["l2"]}, accepts_recipe=True,
            cost_s=(5, 6), claim="Weight decay is L2 regularization: θ ← θ − α(g + λθ)",
            precise="Digits, an MLP 64-64-10, λ = 1e-2 on the weight matrices: (a) under SGD (lr 0.1) decaying the "
                    "weights by λ in the optimizer and adding ½λ‖W‖² to the loss give the same trajectory to float "
                    "precision (relative parameter distance ≤ 1e-4 at every epoch, every seed; control: the Adam "
                    "pair must fail it); (b) under Adam (lr 1e-3) the decoupled decay of AdamW and the L2 penalty "
                    "(rescaled by Adam's 1/√v̂) give different parameters (relative distance ≥ 1e-2 at the end, every "
                    "seed; control: the SGD pair must fail it). With --on, on your recipe",
            source="Loshchilov & Hutter 2019, Decoupled weight decay regularization (ICLR); Hanson & Pratt 1988")
def weight_decay_vs_l2(ctx: LabContext) -> Finding:
    epochs = ctx.pick(4, 20)
    runs, snaps = {}, {}
    for k, (arm, over) in enumerate(ARMS.items()):
        keep: list[Snapshots] = []
        runs[arm] = ctx.runs(lambda s, o=over: ctx.recipe(SECTIONS, s, {"train.epochs": epochs, **o}),
                             arm.split(" (")[0].replace(" + ", "_").replace(" ", "_"),
                             lambda keep=keep: [keep.append(Snapshots()) or keep[-1]])
        snaps[arm] = [sn.states for sn in keep]
    curves = {opt: [[distance(sa[e], sb[e]) for e in range(1, epochs + 1)]
                    for sa, sb in zip(snaps[a], snaps[b])] for opt, (a, b) in PAIRS.items()}
    largest = {opt: Spread([max(c) for c in cs]) for opt, cs in curves.items()}
    final = {opt: Spread([c[-1] for c in cs]) for opt, cs in curves.items()}
    ctx.part("(a) under SGD, weight decay = L2", on=largest["SGD"],
             check=lambda d: Check(d.hi <= 1e-4, f"largest relative distance {d.fmt('.1e')} (needs ≤ 1e-4)"),
             criterion="‖θ_decay − θ_L2‖/‖θ_decay‖ ≤ 1e-4 at every epoch of every seed",
             control=("the Adam pair (AdamW vs Adam + L2)", largest["Adam"]),
             why="decay in the optimizer and the L2 gradient do not give the same SGD step here")
    ctx.part("(b) under Adam, weight decay ≠ L2", on=final["Adam"],
             check=lambda d: Check(d.lo >= 1e-2, f"final relative distance {d.fmt('.2g')} (needs ≥ 1e-2)"),
             criterion="‖θ_AdamW − θ_Adam+L2‖/‖θ_AdamW‖ ≥ 1e-2 at the end, every seed",
             control=("the SGD pair (decay vs L2)", final["SGD"]),
             why="Adam's 1/√v̂ rescaling of the L2 gradient changes the parameters by less than 1% here")
    norm = {arm: Spread([weight_norm_of(st[epochs]) for st in snaps[arm]]) for arm in ARMS}
    acc = {arm: rs.spread(lambda r: r.summary["test_acc"]) for arm, rs in runs.items()}
    rows = [[arm, norm[arm].fmt(".3f"), acc[arm].fmt(".3f"),
             (largest["SGD"] if arm.startswith("SGD") else final["Adam"]).fmt(".1e")] for arm in ARMS]
    fig = plot(curves, {arm: [[weight_norm_of(st[e]) for e in range(1, epochs + 1)] for st in snaps[arm]]
                        for arm in ARMS}, epochs)
    return ctx.finding(
        table=Table(["optimizer + λ", "final ‖W‖", "test acc", "distance to its pair (SGD: max, Adam: final)"], rows),
        figures=[ctx.save_figure(fig, "decay_vs_l2", caption="left: the SGD pair stays at float rounding, the Adam "
                                 "pair drifts apart; right: Adam + L2 ends with a different weight norm")],
        numbers={"sgd_max_distance": largest["SGD"], "adam_final_distance": final["Adam"], "weight_norm": norm,
                 "test_acc": acc, "lambda": LAMBDA},
        notes="Same seed, same data order, one CPU thread: the SGD pair differs only by where λθ is added "
              "(autograd of the penalty vs the optimizer), i.e. by float rounding. Second pass: parts and controls; "
              "the setup is unchanged.")


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
