"""Claim 16: batch normalization — larger learning rates, fewer epochs, less sensitivity to the init
scale, trouble with tiny batches, and different train and eval behaviour."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..base import Check, Finding, LabContext, Precondition, RunResult, Spread, Table, experiment
from ..plots import band, spread_note

NORMS = {"none": "no norm", "batch": "batch norm"}
LRS, STDS, BATCHES = (0.03, 0.3, 3.0), (0.01, 0.1, 1.0), (2, 64)
WIDTHS, GOOD = [64, 64], 0.9


def epochs_to(run, level: float) -> float:
    """The first epoch whose validation accuracy reaches `level`; inf if none does."""
    return next((e["epoch"] for e in run.epochs if e["val_acc"] >= level), math.inf)


def mode_gap(run) -> tuple[float, float, float]:
    """The trained model on the validation set in train mode (batch statistics) and in eval mode
    (running statistics): (mean |Δ logit| / mean |logit|, accuracy in train mode, in eval mode)."""
    setup = run.setup()
    model, val = setup.model, setup.data.val
    with torch.no_grad():
        train_out = model.train()(val.x)
        eval_out = model.eval()(val.x)
    accuracy = [float((out.argmax(1) == val.y).float().mean()) for out in (train_out, eval_out)]
    return float((train_out - eval_out).abs().mean() / eval_out.abs().mean()), *accuracy


DIGITS = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": WIDTHS}, "optimizer": {"name": "sgd"},
          "train": {"batch_size": 64}}
ARMS = {"none": "none", "batch": "batch", "none (control)": "none"}  # arm → model.norm; the control: other seeds
CONTROL_SEED = 100


@experiment("batch_norm", shows={"model.norm": ["batch"]}, accepts_recipe=True, cost_s=(3.5, 19),
            claim="Batch normalization allows larger learning rates, converges in fewer epochs, "
            "reduces the sensitivity to initialization, degrades with very small batches and behaves differently "
            "in training and inference.",
            precise="Digits MLP 64-64 (ReLU) with and without batch norm, plain SGD, batch 64: (1) the largest lr of "
                    "{0.03, 0.3, 3} reaching 90% validation accuracy for every seed is larger with BN; (2) at each "
                    "net's best lr, BN needs fewer epochs to 90%; (3) over init N(0, σ²), σ ∈ {0.01, 0.1, 1}, lr 0.3, "
                    "the range of final accuracies is < half the range without BN; (4) from batch 64 to batch 2 "
                    "(lr scaled linearly, same epochs) BN loses > 2 points more accuracy than no norm; (5) BN's "
                    "outputs in train mode differ from eval mode (> 0.1% relative). Control of (1)–(4): the net without "
                    "norm on other seeds in BN's place; of (5): the net without norm. With --on, on your recipe "
                    "(model.norm set to batch / none)",
            source="Ioffe & Szegedy 2015; Wu & He 2018 (small batches); Ioffe 2017 (batch renormalization)")
def batch_norm(ctx: LabContext) -> Finding:
    epochs, small_epochs = ctx.pick(3, 15), ctx.pick(1, 3)
    base = {"train.epochs": epochs, "data.n_train": ctx.pick(300, 1240)}  # batch 2 must divide it

    def train(arm: str, tag: str, **overrides):
        offset = CONTROL_SEED if arm.endswith("(control)") else 0
        return ctx.runs(lambda s: ctx.recipe(DIGITS, s + offset, {**base, "model.norm": ARMS[arm], **overrides}),
                        f"{arm.split()[0]}{'-control' * bool(offset)}-{tag}")

    by_lr = {n: {lr: train(n, f"lr{lr:g}", **{"optimizer.lr": lr}) for lr in LRS} for n in ARMS}
    by_std = {n: {std: train(n, f"std{std:g}", **{"optimizer.lr": 0.3, "init.name": "normal", "init.std": std})
                  for std in STDS} for n in ARMS}
    by_batch = {n: {b: train(n, f"batch{b}", **{"optimizer.lr": 0.3 * b / 64, "train.batch_size": b,
                                                "train.epochs": small_epochs}) for b in BATCHES} for n in ARMS}
    acc_lr = {n: {lr: rs.spread(RunResult.final_val_acc) for lr, rs in d.items()} for n, d in by_lr.items()}
    largest = {n: max([lr for lr, a in acc_lr[n].items() if a.lo >= GOOD], default=0.0) for n in ARMS}
    best_lr = {n: max(LRS, key=lambda lr: acc_lr[n][lr].mean) for n in ARMS}
    to_good = {n: [epochs_to(r, GOOD) for r in by_lr[n][best_lr[n]]] for n in ARMS}
    acc_std = {n: {s: rs.spread(RunResult.final_val_acc) for s, rs in d.items()} for n, d in by_std.items()}
    init_range = {n: max(a.mean for a in acc_std[n].values()) - min(a.mean for a in acc_std[n].values()) for n in ARMS}
    acc_batch = {n: {b: rs.spread(RunResult.final_val_acc) for b, rs in d.items()} for n, d in by_batch.items()}
    drop = {n: acc_batch[n][64].mean - acc_batch[n][2].mean for n in ARMS}
    gaps = {n: [mode_gap(r) for r in by_lr[n][0.3]] for n in ("none", "batch")}
    gap = {n: Spread([g[0] for g in gaps[n]]) for n in gaps}
    control = ("no norm, other seeds", "none (control)")
    best_acc = {n: max(a.lo for a in acc_lr[n].values()) for n in ("none", "batch")}
    reachable = Precondition(f"the budget lets a net reach {GOOD:.0%} (at some lr, every seed)",
                             max(best_acc.values()) >= GOOD,
                             "lowest seed at the best lr: " + ", ".join(f"{n} {a:.3f}" for n, a in best_acc.items()))

    ctx.part("(1) larger learning rates", on="batch", control=control,
             check=lambda n: Check(largest[n] > largest["none"], f"largest lr with ≥ {GOOD:.0%} for every seed: "
                                   f"{largest[n] or 'no lr'} vs no norm {largest['none'] or 'no lr'}"),
             criterion=f"the largest lr of {LRS} reaching {GOOD:.0%} validation accuracy for every seed is larger",
             preconditions=[reachable],
             why="batch norm does not widen the usable lr range on this net")
    ctx.part("(2) fewer epochs", on="batch", control=control,
             check=lambda n: Check(np.mean(to_good[n]) < np.mean(to_good["none"]),
                                   f"epochs to {GOOD:.0%} at the best lr: {_fmt_epochs(to_good[n])} (lr {best_lr[n]:g}) "
                                   f"vs no norm {_fmt_epochs(to_good['none'])} (lr {best_lr['none']:g})"),
             criterion=f"mean epochs to {GOOD:.0%} at each net's best lr smaller (never reaching = inf)",
             preconditions=[reachable],
             why="batch norm does not reach 90% sooner on this net")
    ctx.part("(3) less sensitive to the init scale", on="batch", control=control,
             check=lambda n: Check(init_range[n] < 0.5 * init_range["none"], f"range of accuracy over σ: "
                                   f"{init_range[n]:.3f} vs no norm {init_range['none']:.3f} (needs < ½)"),
             criterion="the range of mean final accuracies over init σ ∈ {0.01, 0.1, 1} < ½ of no norm's",
             why="batch norm's accuracy varies with the init scale as much as without it here")
    ctx.part("(4) degrades with tiny batches", on="batch", control=control,
             check=lambda n: Check(drop[n] - drop["none"] > 0.02, f"accuracy lost from batch 64 to 2: {drop[n]:+.3f} "
                                   f"vs no norm {drop['none']:+.3f} (needs > 0.02 more)"),
             criterion="the drop from batch 64 to batch 2 (lr ∝ batch) exceeds no norm's by > 0.02",
             why="batch norm loses no more accuracy at batch 2 than the net without it here")
    ctx.part("(5) train mode ≠ eval mode", on=gap["batch"], control=("the net without norm", gap["none"]),
             check=lambda g: Check(g.lo > 1e-3, f"relative |Δ logit| train vs eval mode {g.fmt('.2g')} (needs > 1e-3)"),
             criterion="relative |Δ logit| between train and eval mode > 1e-3 for every seed",
             why="the running statistics match the batch statistics here")
    figure = _figure(ctx, by_lr, acc_std, acc_batch, epochs)
    rows = [[n, *(acc_lr[n][lr].fmt(".3f") for lr in LRS), *(acc_std[n][s].fmt(".3f") for s in STDS),
             *(acc_batch[n][b].fmt(".3f") for b in BATCHES), gap[n].fmt(".2g") if n in gap else "",
             f"{np.mean([g[1] for g in gaps[n]]):.3f} / {np.mean([g[2] for g in gaps[n]]):.3f}" if n in gaps else ""]
            for n in ARMS]
    return ctx.finding(
        table=Table(["norm", *(f"acc, lr {lr:g}" for lr in LRS), *(f"acc, init σ {s:g}" for s in STDS),
                     *(f"acc, batch {b}" for b in BATCHES), "|Δ logit| train/eval (rel.)",
                     "val acc train / eval mode"], rows),
        figures=[figure],
        numbers={"acc_by_lr": {n: {str(k): v for k, v in d.items()} for n, d in acc_lr.items()},
                 "largest_lr": largest, "best_lr": best_lr,
                 "epochs_to_90": {n: [e if e < math.inf else None for e in v] for n, v in to_good.items()},
                 "acc_by_init_std": {n: {str(k): v for k, v in d.items()} for n, d in acc_std.items()},
                 "init_range": init_range, "acc_by_batch": {n: {str(k): v for k, v in d.items()}
                                                             for n, d in acc_batch.items()},
                 "batch_drop": drop, "train_eval_gap": gap, "epochs": epochs, "small_batch_epochs": small_epochs},
        notes=f"Trains on a stratified {ctx.pick(300, 1240)} of the 1257 digits training images, so that batch 2 "
              "leaves no batch of one (batch norm refuses it); the full run was changed from all 1257 to 1240 "
              "for that reason after it stopped there. Second pass: parts and controls (the net without norm on "
              "seeds 100–102 in BN's place); the setup is unchanged. Then (1) and (2) got the precondition that "
              "some net reaches 90% in the budget: at --fast (3 epochs on 300 images) none does, and the two parts said "
              "DOES NOT HOLD for the budget's sake; the full run meets it.")


def _fmt_epochs(values: list[float]) -> str:
    return "/".join("never" if v == math.inf else f"{v:g}" for v in values)


def val_curve(run, epochs: int, chance: float) -> list[float]:
    """Validation accuracy per epoch; from a divergence on, `chance`."""
    values = [e["val_acc"] for e in run.epochs][: epochs - 1 if run.diverged else epochs]
    return values + [chance] * (epochs - len(values))


def errorbar(ax, xs, spreads, **style) -> None:
    """Means with min–max error bars."""
    means = [s.mean for s in spreads]
    ax.errorbar(xs, means, yerr=[[max(m - s.lo, 0) for m, s in zip(means, spreads)],
                                 [max(s.hi - m, 0) for m, s in zip(means, spreads)]], marker="o", capsize=4, **style)


def _figure(ctx: LabContext, by_lr: dict, acc_std: dict, acc_batch: dict, epochs: int) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(19, 4.3), layout="constrained")
    colors = {"none": "C3", "batch": "C0", "none (control)": "C7"}
    level = by_lr["none"][LRS[0]][0].chance()
    for n, label in NORMS.items():
        for lr, style in zip(LRS, (":", "-", "--")):
            curves = [val_curve(r, epochs, level) for r in by_lr[n][lr]]
            band(axes[0], np.arange(1, epochs + 1), curves, f"{label}, lr {lr:g}", colors[n], style)
    for n in ARMS:
        errorbar(axes[1], STDS, [acc_std[n][s] for s in STDS], color=colors[n], label=NORMS.get(n, n))
        errorbar(axes[2], BATCHES, [acc_batch[n][b] for b in BATCHES], color=colors[n], label=NORMS.get(n, n))
    axes[0].set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1),
                xticks=range(1, epochs + 1, max(1, epochs // 8)))  # whole epochs
    axes[0].set_title(f"SGD at three learning rates (diverged = chance, {level:.0%})", fontsize=10)
    axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    axes[1].set(xscale="log", xlabel="init σ of every weight (N(0, σ²))", ylabel="final validation accuracy",
                ylim=(0, 1.2))
    axes[1].set_title("sensitivity to the init scale (lr 0.3)", fontsize=10)
    axes[1].legend(loc="upper center", ncol=3, fontsize=8)
    axes[2].set(xscale="log", xlabel="batch size (lr = 0.3·B/64)", ylabel="final validation accuracy", ylim=(0, 1.2))
    axes[2].set_xticks(BATCHES, [str(b) for b in BATCHES])
    axes[2].minorticks_off()
    axes[2].set_title("tiny batches", fontsize=10)
    axes[2].legend(loc="upper center", ncol=3, fontsize=8)
    setup = by_lr["batch"][0.3][0].setup()
    with torch.no_grad():
        a = setup.model.train()(setup.data.val.x).flatten().numpy()
        b = setup.model.eval()(setup.data.val.x).flatten().numpy()
    axes[3].plot(b, a, ".", markersize=2, alpha=0.4, color="C0")
    lim = [min(a.min(), b.min()), max(a.max(), b.max())]
    axes[3].plot(lim, lim, "k:", label="train = eval")
    axes[3].set(xlabel="logit in eval mode (running statistics)", ylabel="logit in train mode (batch statistics)")
    axes[3].set_title(f"BN net (lr 0.3, seed {ctx.seeds[0]}): the two modes differ", fontsize=10)
    axes[3].legend(loc="upper left")
    fig.suptitle(f"Batch norm on the digits MLP 64-64; {spread_note(len(ctx.seeds))}", fontsize=11)
    return ctx.save_figure(fig, "batch_norm", caption="left: validation accuracy per epoch at three lrs (blue: batch "
                           "norm, red: none); then the final accuracy over the init σ and at batch 2 vs 64; right: the BN net's "
                           "logits in train vs eval mode")
