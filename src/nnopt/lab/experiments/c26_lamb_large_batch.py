"""Claim 26: LAMB keeps its accuracy at a batch size where Adam loses it."""
from __future__ import annotations

import math

from ...data import load
from ..base import Finding, Spread, Table, experiment, holds, lab_recipe
from ..plots import band, figure

SMALL, MIDDLE = 32, 256  # the largest batch is the whole training split
OPTIMIZERS = {"adam": "Adam", "lamb": "LAMB"}
LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # each optimizer's lr at batch SMALL: the best of these on validation (seed 0)
WARMUP = 0.1  # linear warmup over the first 10% of the steps, every run
PREMISE_MAX, MARGIN = 0.02, 0.01  # the criterion, fixed before the first run


def train(ctx, name: str, lr: float, batch: int, epochs: int, n_train: int, seed: int):
    steps = epochs * math.ceil(n_train / batch)
    return ctx.run(lab_recipe({"optimizer": {"name": name, "lr": lr},
                               "schedule": {"name": "constant", "warmup_steps": max(1, round(WARMUP * steps))},
                               "train": {"epochs": epochs, "batch_size": batch, "seed": seed}}),
                   f"{name}-b{batch}-lr{lr:.3g}-s{seed}")


def final_test_acc(run) -> float:
    """The final test accuracy; a diverged run counts as chance (0.1 on 10 classes)."""
    return run.summary["test_acc"] if run.summary["status"] != "diverged" else 0.1


@experiment("lamb_large_batch", part=1, budget_s=40,
            claim="LAMB keeps the accuracy of small-batch training at a large batch size where Adam loses it.",
            precise=f"Digits MLP (two hidden layers of 128), the same epochs at every batch size. Each optimizer's lr "
                    f"at batch {SMALL} is the best of {', '.join(map(str, LRS))} on validation accuracy (seed 0); at "
                    f"a batch B it is scaled by √(B/{SMALL}) (the square-root rule: You et al.'s for LAMB, Malladi et "
                    f"al.'s for Adam), with a linear warmup over the first {WARMUP:.0%} of the steps. Batches {SMALL}, "
                    f"{MIDDLE} and the whole training split. Premise: at batch {SMALL} the mean test accuracies of Adam and LAMB differ by ≤ "
                    f"{PREMISE_MAX:.0%} (absolute); claim: LAMB's drop in mean test accuracy from batch {SMALL} to the "
                    f"whole split is smaller than Adam's by ≥ {MARGIN:.0%} (absolute).",
            source="You et al. 2020, Large Batch Optimization for Deep Learning: Training BERT in 76 minutes (LAMB, "
                   "Algorithm 2; square-root lr scaling with warmup); Malladi et al. 2022 (the square-root rule for "
                   "Adam); Nado et al. 2021 (a reality check: tuned Adam matches LAMB)")
def lamb_large_batch(ctx):
    epochs, lrs = ctx.pick(3, 30), ctx.pick(LRS[1::2], LRS)
    n_train = len(load("digits", layout="flat").train.y)
    batches = ctx.pick((SMALL, n_train), (SMALL, MIDDLE, n_train))
    done = {}

    def run(name: str, base_lr: float, batch: int, seed: int):
        """One run at `batch` with the lr scaled from `base_lr` (batch SMALL) by √(batch/SMALL); each once."""
        if (name, base_lr, batch, seed) not in done:
            done[name, base_lr, batch, seed] = train(ctx, name, base_lr * math.sqrt(batch / SMALL), batch, epochs,
                                                     n_train, seed)
        return done[name, base_lr, batch, seed]

    def val(name: str, base_lr: float, batch: int) -> tuple[float, float]:
        last = run(name, base_lr, batch, ctx.seeds[0]).epochs[-1]
        return last["val_acc"], -last["val_loss"]

    best = {name: max(lrs, key=lambda lr: val(name, lr, SMALL)) for name in OPTIMIZERS}
    runs = {(name, b, s): run(name, best[name], b, s) for name in OPTIMIZERS for b in batches for s in ctx.seeds}
    sensitivity = {(name, b): [val(name, lr, b)[0] for lr in lrs] for name in OPTIMIZERS for b in (SMALL, n_train)}
    acc = {(name, b): Spread([final_test_acc(runs[name, b, s]) for s in ctx.seeds]) for name in OPTIMIZERS for b in batches}
    drop = {name: acc[name, SMALL].mean - acc[name, n_train].mean for name in OPTIMIZERS}
    premise = abs(acc["adam", SMALL].mean - acc["lamb", SMALL].mean) <= PREMISE_MAX
    smaller = drop["lamb"] <= drop["adam"] - MARGIN

    fig, (ax_b, ax_c, ax_lr) = figure(3, width=4.4, height=3.8)
    for (name, label), color in zip(OPTIMIZERS.items(), ("C0", "C3")):
        band(ax_b, batches, [[100 * final_test_acc(runs[name, b, s]) for b in batches] for s in ctx.seeds],
             f"{label} (lr {best[name]:g} at batch {SMALL})", color=color, marker="o")
        band(ax_c, range(1, epochs + 1), [[100 * e["val_acc"] for e in runs[name, n_train, s].epochs] for s in ctx.seeds],
             f"{label}, lr {best[name] * math.sqrt(n_train / SMALL):.3g}", color=color)
        for b, style in ((SMALL, "o-"), (n_train, "s--")):
            ax_lr.plot(lrs, [100 * a for a in sensitivity[name, b]], style, color=color, label=f"{label}, batch {b}")
            ax_lr.plot([best[name]], [100 * val(name, best[name], b)[0]], "*", ms=14, color=color)
    ax_b.set(xscale="log", xlabel="batch size (examples; log scale)", ylabel="test accuracy (%)",
             title=f"{epochs} epochs, lr × √(batch/{SMALL}); band: min–max over {len(ctx.seeds)} seeds")
    ax_b.set_xticks(batches, [str(b) for b in batches])
    ax_b.legend(fontsize=8, loc="lower left")
    ax_c.set(xlabel="epoch (= step: one batch is the whole split)", ylabel="validation accuracy (%)",
             title=f"batch {n_train} (whole training split)")
    ax_c.legend(fontsize=8, loc="lower right")
    ax_lr.set(xscale="log", xlabel=f"lr at batch {SMALL} (log scale; × √(B/{SMALL}) at batch B)",
              ylabel="validation accuracy (%), seed 0", title="every lr of the grid (★: chosen at batch 32)")
    ax_lr.legend(fontsize=8, loc="lower left")
    fig.tight_layout()

    rows = [[label, f"{best[name]:g}"] + [acc[name, b].fmt(".3f") for b in batches] + [f"{drop[name]:+.3f}"]
            for name, label in OPTIMIZERS.items()]
    return Finding(
        verdict=holds(premise and smaller),
        criterion=f"|mean test acc Adam − LAMB| ≤ {PREMISE_MAX} at batch {SMALL}, and LAMB's drop (batch {SMALL} → "
                  f"{n_train}) ≤ Adam's − {MARGIN}",
        measured=f"batch {SMALL}: Adam {acc['adam', SMALL].mean:.3f}, LAMB {acc['lamb', SMALL].mean:.3f}; batch "
                 f"{n_train}: Adam {acc['adam', n_train].mean:.3f}, LAMB {acc['lamb', n_train].mean:.3f}; drop Adam "
                 f"{drop['adam']:.3f}, LAMB {drop['lamb']:.3f} (lr {best['adam']:g} and {best['lamb']:g} at batch {SMALL})",
        table=Table(["optimizer", f"lr at batch {SMALL}"] + [f"test acc, batch {b}" for b in batches]
                    + [f"drop {SMALL} → {n_train}"], rows),
        figures=[ctx.save_figure(fig, "lamb_large_batch")],
        numbers={"lr": best, "test_acc": {f"{name}/{b}": acc[name, b] for name in OPTIMIZERS for b in batches},
                 "drop": drop, "premise": premise, "smaller_drop": smaller, "epochs": epochs,
                 "lr_grid": lrs, "val_acc_seed0": {f"{name}/{b}": v for (name, b), v in sensitivity.items()}},
        notes="Setup and criterion written before the first run. The lr grid was widened twice after full runs "
              "were seen, each time because a chosen lr sat at the grid's edge: with (0.001, 0.003, 0.01) LAMB chose "
              "0.01 and Adam 0.003, and the claim did NOT hold (drops: Adam 0.010, LAMB 0.049); with 0.03 added Adam "
              "chose 0.03 and it held; 0.1 was then added (chosen by neither). In the full run the verdict hinges on "
              f"Adam's lr: at batch {SMALL} the validation choice (seed 0) is Adam's largest workable lr, whose "
              f"√-scaled value breaks at the whole split; with the lr picked at the whole split itself (best of the "
              f"grid, seed 0 validation) Adam reaches {100 * max(sensitivity['adam', n_train]):.1f}% and LAMB "
              f"{100 * max(sensitivity['lamb', n_train]):.1f}% (right panel). As Nado et al. 2021 found, LAMB's "
              "advantage here is that the small-batch lr carries over, not a higher attainable accuracy. The same "
              f"epochs at every batch size: the whole split makes {epochs} steps against "
              f"{epochs * math.ceil(n_train / SMALL)} at batch {SMALL}.")
