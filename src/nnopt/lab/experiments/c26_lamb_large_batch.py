"""Claim 26: LAMB keeps its accuracy at a batch size where Adam loses it — a regime map over how the lr
reaches the large batch: carried from batch 32 by the square-root rule, or tuned at every batch size
(Nado et al. 2021)."""
from __future__ import annotations

import math

from ...data import load
from ..base import LabContext, Finding, Precondition, Spread, Table, exceeds, experiment
from ..plots import band, figure, finish, spread_note

SMALL, MIDDLE = 32, 256  # the largest batch is the whole training split
OPTIMIZERS = {"adam": "Adam", "lamb": "LAMB"}
LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the lr grid at batch SMALL (× √(B/SMALL) at batch B)
WARMUP = 0.1  # linear warmup over the first 10% of the steps, every run
PREMISE_MAX, MARGIN = 0.02, 0.01  # the criterion, fixed before the first run
CONTROL_SEED = 100  # the control: Adam again, on seeds 100, 101, ...


def train(ctx: LabContext, name: str, lr: float, batch: int, epochs: int, n_train: int, seed: int, tag: str = ""):
    steps = epochs * math.ceil(n_train / batch)
    return ctx.run(ctx.recipe({"optimizer": {"name": name, "lr": lr},
                               "schedule": {"name": "constant", "warmup_steps": max(1, round(WARMUP * steps))},
                               "train": {"epochs": epochs, "batch_size": batch}}, seed),
                   f"{name}{tag}-b{batch}-lr{lr:.3g}-s{seed}")


def final_test_acc(run) -> float:
    """The final test accuracy; a diverged run counts as chance (1/K)."""
    return run.summary["test_acc"] if not run.diverged else run.chance()


@experiment("lamb_large_batch", shows={"optimizer.name": ["lamb"]}, cost_s=(5, 36),
            claim="LAMB keeps the accuracy of small-batch training at a large batch size where Adam loses it.",
            precise=f"Digits MLP (two hidden layers of 128), the same epochs at every batch size, batches {SMALL}, "
                    f"{MIDDLE} and the whole training split, a linear warmup over the first {WARMUP:.0%} of the steps. "
                    f"Two regimes of the lr at batch B: (a) carried — each optimizer's best of {LRS} at batch {SMALL} "
                    f"(validation, seed 0) × √(B/{SMALL}) (the square-root rule: You et al. for LAMB, Malladi et al. "
                    f"for Adam); (b) tuned — the best of that √-scaled grid at batch B itself (Nado et al. 2021). "
                    f"Precondition: at batch {SMALL} the mean test accuracies of Adam and LAMB within {PREMISE_MAX:.0%}. "
                    f"Claim, per regime: LAMB's drop in test accuracy from batch {SMALL} to the whole split (per seed) "
                    f"is smaller than Adam's by > {MARGIN:.0%} beyond the seed spread (95% interval). Control: Adam "
                    f"against Adam on other seeds must fail",
            source="You et al. 2020, Large Batch Optimization for Deep Learning: Training BERT in 76 minutes (LAMB, "
                   "Algorithm 2; square-root lr scaling with warmup); Malladi et al. 2022 (the square-root rule for "
                   "Adam); Nado et al. 2021 (a reality check: tuned Adam matches LAMB)")
def lamb_large_batch(ctx: LabContext) -> Finding:
    epochs, lrs = ctx.pick(3, 30), ctx.pick(LRS[1::2], LRS)
    n_train = len(load("digits", layout="flat").train.y)
    batches = ctx.pick((SMALL, n_train), (SMALL, MIDDLE, n_train))
    done = {}

    def run(name: str, base_lr: float, batch: int, seed: int, tag: str = ""):
        """One run at `batch` with the lr scaled from `base_lr` (batch SMALL) by √(batch/SMALL); each once."""
        key = (name, base_lr, batch, seed, tag)
        if key not in done:
            done[key] = train(ctx, name, base_lr * math.sqrt(batch / SMALL), batch, epochs, n_train, seed, tag)
        return done[key]

    def val(name: str, base_lr: float, batch: int) -> tuple[float, float]:
        last = run(name, base_lr, batch, ctx.seeds[0]).epochs[-1]
        return last["val_acc"], -last["val_loss"]

    best = {(name, b): max(lrs, key=lambda lr: val(name, lr, b)) for name in OPTIMIZERS for b in batches}
    regimes = {"(a) lr carried from batch 32 by √ scaling": {(n, b): best[n, SMALL] for n in OPTIMIZERS for b in batches},
               "(b) lr tuned at every batch size": best}
    acc, drops = {}, {}
    for regime, lr_of in regimes.items():
        for name in OPTIMIZERS:
            for b in batches:
                acc[regime, name, b] = Spread([final_test_acc(run(name, lr_of[name, b], b, s)) for s in ctx.seeds])
            drops[regime, name] = Spread([a - z for a, z in zip(acc[regime, name, SMALL].values,
                                                                 acc[regime, name, n_train].values)])
    carried = next(iter(regimes))
    control = Spread([final_test_acc(run("adam", best["adam", SMALL], SMALL, s + CONTROL_SEED, "-control"))
                      - final_test_acc(run("adam", best["adam", SMALL], n_train, s + CONTROL_SEED, "-control"))
                      for s in ctx.seeds])
    for regime in regimes:
        small = (acc[regime, "adam", SMALL].mean, acc[regime, "lamb", SMALL].mean)
        premise = Precondition(f"at batch {SMALL} Adam and LAMB within {PREMISE_MAX:.0%} of test accuracy",
                               abs(small[0] - small[1]) <= PREMISE_MAX, f"Adam {small[0]:.3f}, LAMB {small[1]:.3f}")
        ctx.part(f"{regime}: LAMB's drop smaller than Adam's", regime=regime.split(" ", 1)[1],
                 check=lambda d, r=regime: exceeds(drops[r, "adam"], d, by=MARGIN, what="drop(Adam) − drop(LAMB)"),
                 criterion=f"drop(Adam) − drop(LAMB) > {MARGIN} beyond the seed spread (95% interval; drop = test acc "
                           f"at batch {SMALL} − at batch {n_train}, per seed)",
                 on=drops[regime, "lamb"], control=("Adam (carried lr) in LAMB's place, other seeds", control),
                 preconditions=[premise],
                 why=("Adam's lr chosen at batch 32 carries over to the whole split under √ scaling as well as LAMB's "
                      "here; where that choice is Adam's largest workable lr, its √-scaled value breaks Adam instead "
                      "(the first pass: lr 0.03, drop 0.70)") if regime == carried else
                     ("with the lr tuned at the large batch itself Adam keeps its accuracy as well as LAMB (Nado et "
                      "al. 2021): LAMB's advantage is that its small-batch lr carries over, not a higher attainable "
                      "accuracy"))

    fig, axes = figure(3, width=4.6, height=4.0)
    for k, regime in enumerate(regimes):
        for (name, label), color in zip(OPTIMIZERS.items(), ("C0", "C3")):
            band(axes[k], batches, [[100 * acc[regime, name, b].values[i] for b in batches] for i in range(len(ctx.seeds))],
                 f"{label} (lr at batch {SMALL}: {best[name, SMALL]:g})", color, "-o")
        axes[k].set(xscale="log", xlabel="batch size (examples; log scale)", ylabel="test accuracy (%)",
                    title=f"{regime}\n{spread_note(len(ctx.seeds))}")
        axes[k].set_xticks(batches, [str(b) for b in batches])
        axes[k].minorticks_off()
    for (name, label), color in zip(OPTIMIZERS.items(), ("C0", "C3")):
        for b, style in ((SMALL, "o-"), (n_train, "s--")):
            axes[2].plot(lrs, [100 * val(name, lr, b)[0] for lr in lrs], style, color=color, label=f"{label}, batch {b}")
    axes[2].set(xscale="log", xlabel=f"lr at batch {SMALL} (log scale; × √(B/{SMALL}) at batch B)",
                ylabel="validation accuracy (%), seed 0", title="the lr grid at the smallest and largest batch")
    finish(fig, *axes)

    rows = [[regime.split(" ", 1)[0], label] + [f"{best[name, b] if regime != carried else best[name, SMALL]:g}: "
                                                f"{acc[regime, name, b].fmt('.3f')}" for b in batches]
            + [drops[regime, name].fmt(".3f")] for regime in regimes for name, label in OPTIMIZERS.items()]
    rows.append(["control", "Adam, other seeds", "", *[""] * (len(batches) - 1), control.fmt(".3f")])
    return ctx.finding(
        table=Table(["regime", "optimizer"] + [f"lr at {SMALL}: test acc, batch {b}" for b in batches]
                    + [f"drop {SMALL} → {n_train}"], rows),
        figures=[ctx.save_figure(fig, "lamb_large_batch", caption="left: test accuracy vs batch with each lr carried from "
                                 "batch 32; middle: with the lr tuned at each batch; right: the lr grid at both ends "
                                 "(seed 0's validation), where the choice is made")],
        numbers={"lr": {f"{n}/{b}": lr for (n, b), lr in best.items()},
                 "test_acc": {f"{r.split(' ', 1)[0]}/{n}/{b}": acc[r, n, b] for r in regimes for n in OPTIMIZERS
                              for b in batches},
                 "drop": {f"{r.split(' ', 1)[0]}/{n}": drops[r, n] for r in regimes for n in OPTIMIZERS},
                 "control_drop": control, "epochs": epochs, "lr_grid": lrs},
        notes="Setup and criterion written before the first run. The lr grid was widened twice after full runs of the "
              "first pass, each time because a chosen lr sat at the grid's edge: with (0.001, 0.003, 0.01) LAMB chose "
              "0.01 and Adam 0.003, and the claim did NOT hold (drops: Adam 0.010, LAMB 0.049); with 0.03 added Adam "
              "chose 0.03 and it held; 0.1 was then added (chosen by neither). Second pass: the tuned regime (b) and "
              f"the Adam-vs-Adam control were added and the drop is now compared per seed over the spread. In the second "
              "pass's full run seed 0's validation at batch 32 picked Adam's lr 0.01 (val acc 0.970 vs 0.959 at "
              "0.03; the first pass picked 0.03 on the same recipes — the training loop changed between the passes), "
              "and with 0.01 × √(B/32) Adam keeps 0.959 at the whole split: the carried-lr verdict hangs on that one "
              "choice, the fragility Nado et al. 2021 describe. The same "
              f"epochs at every batch size: the whole split makes {epochs} steps against "
              f"{epochs * math.ceil(n_train / SMALL)} at batch {SMALL}.")
