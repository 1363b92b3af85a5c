"""Claim 26: LAMB keeps its accuracy at a batch size where Adam loses it — a regime map over how the lr
reaches the large batch: carried from batch 32 by the square-root rule, or tuned at every batch size
(Nado et al. 2021).

Protocol (fixed before the second pass's runs): every optimizer trains every lr of the grid
``LRS × √(B/32)`` at every batch size B, on every seed; at each (optimizer, batch) the lr is the one
with the highest *mean* validation accuracy over the seeds (ties: the lower mean validation loss) and
is judged on the test split. A choice at the grid's edge (the first or last lr) means the grid did not
bracket the optimum: that part is INCONCLUSIVE, never widened after the run.
"""
from __future__ import annotations

import math

from ...data import load
from ..base import LabContext, Finding, Precondition, Spread, Table, exceeds, experiment
from ..plots import band, figure, finish, spread_note

SMALL, MIDDLE = 32, 256  # the largest batch is the whole training split
OPTIMIZERS = {"adam": "Adam", "lamb": "LAMB"}
LRS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # the lr grid at batch SMALL (× √(B/SMALL) at batch B), fixed before the run
WARMUP = 0.1  # linear warmup over the first 10% of the steps, every run
PREMISE_MAX, MARGIN = 0.02, 0.01  # the criterion, fixed before the first run
CONTROL_SEED = 100  # the control: Adam again, on seeds 100, 101, ...


def scaled(base_lr: float, batch: int) -> float:
    """The lr at `batch` of the grid point `base_lr` (at batch SMALL): × √(batch/SMALL)."""
    return base_lr * math.sqrt(batch / SMALL)


def train(ctx: LabContext, name: str, base_lr: float, batch: int, epochs: int, n_train: int, seed: int,
          tag: str = ""):
    steps = epochs * math.ceil(n_train / batch)
    lr = scaled(base_lr, batch)
    return ctx.run(ctx.recipe({"optimizer": {"name": name, "lr": lr},
                               "schedule": {"name": "constant", "warmup_steps": max(1, round(WARMUP * steps))},
                               "train": {"epochs": epochs, "batch_size": batch}}, seed),
                   f"{name}{tag}-b{batch}-lr{lr:.3g}-s{seed}")


def final_test_acc(run) -> float:
    """The final test accuracy; a diverged run counts as chance (1/K)."""
    return run.summary["test_acc"] if not run.diverged else run.chance()


def final_val_loss(run) -> float:
    """The last epoch's validation loss; a diverged run: +∞."""
    return run.epochs[-1]["val_loss"] if not run.diverged and run.epochs else math.inf


def pick(lrs, runs_at) -> float:
    """The grid point whose runs (`runs_at(lr)`, one per seed) have the highest mean final validation
    accuracy; ties go to the lower mean validation loss."""
    return max(lrs, key=lambda lr: (Spread([r.final_val_acc() for r in runs_at(lr)]).mean,
                                    -Spread([final_val_loss(r) for r in runs_at(lr)]).mean))


def inside(lrs, chosen: dict, label: str) -> Precondition:
    """The chosen lrs are inside the grid (not its first or last point): the grid brackets the optimum."""
    edges = {k: lr for k, lr in chosen.items() if lr in (lrs[0], lrs[-1])}
    return Precondition(f"{label}: each chosen lr inside the grid {lrs[0]:g}…{lrs[-1]:g} (not at an edge)", not edges,
                        ", ".join(f"{OPTIMIZERS[n]} at batch {b}: {lr:g}" for (n, b), lr in chosen.items()))


@experiment("lamb_large_batch", shows={"optimizer.name": ["lamb"]}, cost_s=(3.4, 45),
            claim="LAMB keeps the accuracy of small-batch training at a large batch size where Adam loses it.",
            precise=f"Digits MLP (two hidden layers of 128), the same epochs at every batch size, batches {SMALL}, "
                    f"{MIDDLE} and the whole training split, a linear warmup over the first {WARMUP:.0%} of the steps. "
                    f"Every optimizer trains the lr grid {LRS} × √(B/{SMALL}) at every batch B on every seed; at each "
                    f"(optimizer, batch) the lr with the highest mean validation accuracy over the seeds is judged on "
                    f"test. Two regimes of the lr at batch B: (a) carried — the choice at batch {SMALL} × √(B/{SMALL}) "
                    f"(the square-root rule: You et al. for LAMB, Malladi et al. for Adam); (b) tuned — the choice at "
                    f"batch B itself (Nado et al. 2021). Preconditions: every choice a part uses is inside the grid "
                    f"(not at an edge); at batch {SMALL} the mean test accuracies of Adam and LAMB within "
                    f"{PREMISE_MAX:.0%}. Claim, per regime: LAMB's drop in test accuracy from batch {SMALL} to the whole "
                    f"split (per seed) is smaller than Adam's by > {MARGIN:.0%} beyond the seed spread (95% interval). "
                    f"Control: Adam against Adam on other seeds must fail",
            source="You et al. 2020, Large Batch Optimization for Deep Learning: Training BERT in 76 minutes (LAMB, "
                   "Algorithm 2; square-root lr scaling with warmup); Malladi et al. 2022 (the square-root rule for "
                   "Adam); Nado et al. 2021 (a reality check: tuned Adam matches LAMB)")
def lamb_large_batch(ctx: LabContext) -> Finding:
    epochs, lrs = ctx.pick(2, 30), ctx.pick(LRS[::2], LRS)
    n_train = len(load("digits", layout="flat").train.y)
    batches = ctx.pick((SMALL, n_train), (SMALL, MIDDLE, n_train))
    grid = {(name, lr, b): [train(ctx, name, lr, b, epochs, n_train, s) for s in ctx.seeds]
            for name in OPTIMIZERS for b in batches for lr in lrs}
    best = {(n, b): pick(lrs, lambda lr, n=n, b=b: grid[n, lr, b]) for n in OPTIMIZERS for b in batches}
    per_seed = {f"{n}/{b}": [pick(lrs, lambda lr, n=n, b=b, i=i: [grid[n, lr, b][i]]) for i in range(len(ctx.seeds))]
                for n in OPTIMIZERS for b in batches}  # what one seed's validation would have chosen
    regimes = {"(a) lr carried from batch 32 by √ scaling": {(n, b): best[n, SMALL] for n in OPTIMIZERS for b in batches},
               "(b) lr tuned at every batch size": best}
    acc = {(r, n, b): Spread([final_test_acc(run) for run in grid[n, lr_of[n, b], b]])
           for r, lr_of in regimes.items() for n in OPTIMIZERS for b in batches}
    drops = {(r, n): Spread([a - z for a, z in zip(acc[r, n, SMALL].values, acc[r, n, n_train].values)])
             for r in regimes for n in OPTIMIZERS}
    def val_acc(name: str, lr: float, batch: int) -> Spread:
        return Spread([run.final_val_acc() for run in grid[name, lr, batch]])

    same = all(best[n, b] == best[n, SMALL] for n in OPTIMIZERS for b in (SMALL, n_train))
    controls, control_runs = {}, {}

    def control_acc(lr: float, batch: int, seed: int) -> float:
        """Adam's test accuracy on a control seed (each run once: the regimes share some)."""
        if (lr, batch, seed) not in control_runs:
            control_runs[lr, batch, seed] = final_test_acc(train(ctx, "adam", lr, batch, epochs, n_train, seed,
                                                                 "-control"))
        return control_runs[lr, batch, seed]

    for regime, lr_of in regimes.items():
        control = Spread([control_acc(lr_of["adam", SMALL], SMALL, s) - control_acc(lr_of["adam", n_train], n_train, s)
                          for s in (seed + CONTROL_SEED for seed in ctx.seeds)])
        controls[regime] = control
        small = (acc[regime, "adam", SMALL].mean, acc[regime, "lamb", SMALL].mean)
        big = {n: acc[regime, n, n_train].mean for n in OPTIMIZERS}
        premise = Precondition(f"at batch {SMALL} Adam and LAMB within {PREMISE_MAX:.0%} of test accuracy",
                               abs(small[0] - small[1]) <= PREMISE_MAX, f"Adam {small[0]:.3f}, LAMB {small[1]:.3f}")
        used = {(n, b): best[n, b] for n in OPTIMIZERS for b in ((SMALL,) if regime.startswith("(a)") else (SMALL, n_train))}
        big_lr = scaled(lr_of["adam", n_train], n_train)
        above = lrs[min(lrs.index(lr_of["adam", SMALL]) + 1, len(lrs) - 1)]  # the next grid point up
        ctx.part(f"{regime}: LAMB's drop smaller than Adam's", regime=regime.split(" ", 1)[1],
                 check=lambda d, r=regime: exceeds(drops[r, "adam"], d, by=MARGIN, what="drop(Adam) − drop(LAMB)"),
                 criterion=f"drop(Adam) − drop(LAMB) > {MARGIN} beyond the seed spread (95% interval; drop = test acc "
                           f"at batch {SMALL} − at batch {n_train}, per seed)",
                 on=drops[regime, "lamb"], control=("Adam in LAMB's place, the same lrs, other seeds", control),
                 preconditions=[inside(lrs, used, "validation's choice"), premise],
                 why=(f"Adam's lr chosen at batch 32 ({lr_of['adam', SMALL]:g}) × √(B/32) = {big_lr:.3g} still "
                      f"trains Adam at the whole split (test {big['adam']:.3f}, LAMB {big['lamb']:.3f}); √ scaling "
                      f"breaks Adam only from a larger batch-32 lr ({above:g} → {scaled(above, n_train):.3g}: mean "
                      f"validation Adam {val_acc('adam', above, n_train).mean:.3f}, LAMB "
                      f"{val_acc('lamb', above, n_train).mean:.3f})") if regime.startswith("(a)") else
                     (f"with the lr tuned at the whole split itself Adam keeps its accuracy (test {big['adam']:.3f}) "
                      f"and LAMB does no better ({big['lamb']:.3f}), as Nado et al. 2021 found: LAMB's advantage, "
                      "where it has one, is tolerance of a too-large carried lr, not a higher attainable accuracy"))

    fig, axes = figure(3, width=4.6, height=4.0)
    for k, (regime, lr_of) in enumerate(regimes.items()):
        for (name, label), color in zip(OPTIMIZERS.items(), ("C0", "C3")):
            band(axes[k], batches, [[100 * acc[regime, name, b].values[i] for b in batches] for i in range(len(ctx.seeds))],
                 f"{label} (lr at {SMALL} → {n_train}: {scaled(lr_of[name, SMALL], SMALL):g} → "
                 f"{scaled(lr_of[name, n_train], n_train):.3g})", color, "-o")
        axes[k].set(xscale="log", xlabel="batch size (examples; log scale)", ylabel="test accuracy (%)",
                    title=f"{regime}\n{spread_note(len(ctx.seeds))}")
        axes[k].set_xticks(batches, [str(b) for b in batches])
        axes[k].minorticks_off()
    for (name, label), color in zip(OPTIMIZERS.items(), ("C0", "C3")):
        for b, style in ((SMALL, "-o"), (n_train, "--s")):
            band(axes[2], lrs, [[100 * grid[name, lr, b][i].final_val_acc() for lr in lrs] for i in range(len(ctx.seeds))],
                 f"{label}, batch {b} (chosen {best[name, b]:g})", color, style)
    axes[2].set(xscale="log", xlabel=f"lr at batch {SMALL} (log scale; × √(B/{SMALL}) at batch B)",
                ylabel="final validation accuracy (%)", ylim=(0, 100),
                title=f"the lr grid at the smallest and largest batch\n{spread_note(len(ctx.seeds))}")
    finish(fig, *axes)

    rows = [[regime.split(" ", 1)[0], label] + [f"{scaled(lr_of[name, b], b):.3g}: {acc[regime, name, b].fmt('.3f')}"
                                                for b in batches]
            + [drops[regime, name].fmt(".3f")] for regime, lr_of in regimes.items() for name, label in OPTIMIZERS.items()]
    rows += [[regime.split(" ", 1)[0], "control: Adam, other seeds", *[""] * len(batches), control.fmt(".3f")]
             for regime, control in controls.items()]
    return ctx.finding(
        table=Table(["regime", "optimizer"] + [f"lr: test acc, batch {b}" for b in batches]
                    + [f"drop {SMALL} → {n_train}"], rows),
        figures=[ctx.save_figure(fig, "lamb_large_batch", caption="left: test accuracy vs batch with each lr carried from "
                                 "batch 32; middle: with the lr tuned at each batch; right: the lr grid at both ends "
                                 "(validation, every seed), where the choice is made")],
        numbers={"lr": {f"{n}/{b}": lr for (n, b), lr in best.items()}, "lr_per_seed": per_seed,
                 "test_acc": {f"{r.split(' ', 1)[0]}/{n}/{b}": acc[r, n, b] for r in regimes for n in OPTIMIZERS
                              for b in batches},
                 "val_acc": {f"{n}/{b}/{lr:g}": val_acc(n, lr, b) for n, lr, b in grid},
                 "drop": {f"{r.split(' ', 1)[0]}/{n}": drops[r, n] for r in regimes for n in OPTIMIZERS},
                 "control_drop": {r.split(" ", 1)[0]: c for r, c in controls.items()}, "epochs": epochs,
                 "lr_grid": lrs},
        notes="Setup and criterion written before the first run. First pass: the lr grid was widened twice after full "
              "runs, each time because a chosen lr sat at the grid's edge (with 0.001–0.01 Adam chose 0.003 and the "
              "claim did NOT hold; with 0.03 added Adam chose 0.03 and it held, drop 0.70; 0.1 was then added, chosen by "
              "neither), and the lr was chosen on seed 0's validation alone. Second pass: the grid is fixed, a choice at "
              "its edge makes the part INCONCLUSIVE, the lr is chosen on the mean validation accuracy of every seed at "
              "every batch size, and the Adam-vs-Adam control was added. Why the first pass's verdict flipped: not the "
              "split (digits' split_seed is 0 whatever train.seed is), not a tie, not nondeterminism on one machine "
              "(the first pass's committed code, 321ddd7, rerun here gives seed 0's batch-32 Adam validation 0.9704 at "
              "0.01 and 0.9593 at 0.03, the same values as today's code, which also picks 0.01): the first pass's "
              "pick of 0.03 came from runs made before that commit, and one seed's choice rests on a few of 270 "
              "validation examples. What each seed alone would choose: "
              + "; ".join(f"{OPTIMIZERS[k.split('/')[0]]} at batch {k.split('/')[1]}: "
                          f"{', '.join(f'{lr:g}' for lr in v)}" for k, v in per_seed.items())
              + f" — a verdict that rested on seed {ctx.seeds[0]}'s choice at batch {SMALL} could go either way. "
              + ("With every seed's validation the lr tuned at the whole split is the one carried from batch "
                 f"{SMALL}, for both optimizers, so regimes (a) and (b) judge the same runs. " if same else "")
              + "--fast: 2 epochs (3 cost 6 s of CPU) and the grid 0.001, 0.01, 0.1. "
              + f"The same epochs at every batch size: the whole split makes {epochs} steps against "
              f"{epochs * math.ceil(n_train / SMALL)} at batch {SMALL}.")
