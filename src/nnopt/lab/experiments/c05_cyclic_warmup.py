"""Claim 5: cyclic learning rates (triangular, SGDR, one-cycle) and warmup for a large batch."""
from __future__ import annotations

import math

from ..base import Finding, Spread, Table, experiment, holds, lab_recipe
from ..plots import band, figure

LR, PEAK, BATCH = 0.1, 0.3, 32
BIG, SCALE = 256, 256 // 32  # the large batch and its linear-scaling factor


def cyclic(total: int) -> dict[str, dict]:
    """Constant lr 0.1 and three cycles peaking at 0.3, each over the same run."""
    return {"constant": {"name": "constant"},
            "triangular": {"name": "cyclic", "lr": LR / 10, "max_lr": PEAK, "cycle_steps": max(2, total // 2)},
            "SGDR": {"name": "cosine_restarts", "lr": PEAK, "cycle_steps": max(1, total // 3)},
            "one-cycle": {"name": "one_cycle", "lr": PEAK}}


def final_acc(run) -> float:
    return run.summary["final_val_acc"] if run.summary["status"] == "completed" else 0.0


@experiment("cyclic_warmup", shows={"schedule.name": ["cyclic", "cosine_restarts", "one_cycle"],
                                      "schedule.warmup_steps": "*"},
            part=1, budget_s=60,
            claim="Cyclic learning rates (triangular, SGDR restarts, one-cycle) train as well as a tuned fixed rate "
                  "in the same budget; a large learning rate with a large batch fails without warmup and trains "
                  "with it.",
            precise="(a) digits MLP, SGD + momentum 0.9, batch 32: triangular (0.01–0.3), SGDR (0.3, 3 restarts) "
                    "and one-cycle (peak 0.3) each end with mean validation accuracy ≥ constant lr 0.1's − 1 "
                    "point. (b) batch 256 with the linearly scaled lr 0.8 (8 × 0.1): without warmup the mean "
                    "final validation accuracy is ≥ 5 points below the same run with a linear warmup over the "
                    "first 25% of steps, and the warmed-up run is within 2 points of batch 32 at lr 0.1.",
            source="Smith 2017 (cyclical learning rates); Loshchilov & Hutter 2017 (SGDR); Smith & Topin 2019 "
                   "(one-cycle); Goyal et al. 2017 (linear scaling rule and gradual warmup)")
def cyclic_warmup(ctx):
    epochs, n_train = ctx.pick(4, 10), ctx.pick(300, 1000)
    base = {"data": {"n_train": n_train}, "model": {"widths": [64]},
            "optimizer": {"name": "momentum", "lr": LR, "momentum": 0.9}}

    def train(label, schedule, batch, lr=LR):
        return [ctx.run(lab_recipe({**base, "optimizer": {**base["optimizer"], "lr": lr},
                                    "schedule": {**schedule, "interval": "step"},
                                    "train": {"epochs": epochs, "batch_size": batch, "seed": s}}),
                        f"{label}-s{s}") for s in ctx.seeds]

    total = epochs * math.ceil(n_train / BATCH)
    runs = {k: train(k.replace(" ", "_"), v, BATCH) for k, v in cyclic(total).items()}
    big_total = epochs * math.ceil(n_train / BIG)
    warm = {f"batch {BIG}, lr {LR * SCALE:g}, no warmup": train("big-no_warmup", {"name": "constant"}, BIG, LR * SCALE),
            f"batch {BIG}, lr {LR * SCALE:g}, warmup": train("big-warmup", {"name": "constant",
                                                                     "warmup_steps": max(1, big_total // 4)},
                                                          BIG, LR * SCALE)}
    acc = {k: Spread([final_acc(r) for r in rs]) for k, rs in {**runs, **warm}.items()}
    const = acc["constant"].mean
    cyc_ok = all(acc[k].mean >= const - 0.01 for k in runs if k != "constant")
    no_w, w = (acc[k].mean for k in warm)
    warm_ok = no_w <= w - 0.05 and w >= const - 0.02

    fig, (a_lr, a_acc, a_w) = figure(3, width=4.4)
    for k, rs in runs.items():
        a_lr.plot([s["step"] for s in rs[0].steps], rs[0].series("lr", "step"), label=k)
        band(a_acc, [e["epoch"] for e in rs[0].epochs], [r.series("val_acc") for r in rs], k)
    for (k, rs), ls in zip(warm.items(), ("--", "-")):
        band(a_w, [e["epoch"] for e in rs[0].epochs], [r.series("val_acc") for r in rs], k, ls=ls)
    band(a_w, [e["epoch"] for e in runs["constant"][0].epochs], [r.series("val_acc") for r in runs["constant"]],
         f"batch {BATCH}, lr {LR:g} (reference)", color="k", lw=1)
    a_lr.set(xlabel="step", ylabel="learning rate", title=f"schedules (batch {BATCH})")
    a_acc.set(xlabel="epoch", ylabel="validation accuracy", title="cyclic vs constant (band: 3 seeds)")
    a_w.set(xlabel="epoch", ylabel="validation accuracy",
            title=f"large batch: warmup over {max(1, big_total // 4)} steps")
    for ax in (a_lr, a_acc, a_w):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    a_acc.set_ylim(max(0.0, min(acc[k].lo for k in runs) - 0.15), 1.0)
    fig.tight_layout()
    rows = [[k, acc[k].fmt(".3f"), ", ".join(r.summary["status"] for r in rs)] for k, rs in {**runs, **warm}.items()]
    return Finding(
        verdict=holds(cyc_ok and warm_ok),
        criterion="(a) each cyclic schedule's mean final val acc ≥ constant's − 0.01; "
                  "(b) no-warmup ≤ warmup − 0.05 "
                  "and warmup ≥ the batch-32 constant run − 0.02",
        measured=f"(a) constant {const:.3f}, " + ", ".join(f"{k} {acc[k].mean:.3f}" for k in runs if k != "constant")
                 + f"; (b) batch {BIG} no warmup {no_w:.3f} vs warmup {w:.3f}",
        table=Table(["schedule", "final val acc (mean ± std [min, max])", "status (3 seeds)"], rows),
        figures=[ctx.save_figure(fig, "cyclic_warmup")],
        numbers={"val_acc": acc, "cyclic_ok": cyc_ok, "warmup_ok": warm_ok},
        notes="Criterion fixed before the run; the verdict needs both parts. Part (a) holds. Part (b) does not on "
              "this workload: a one-hidden-layer MLP at batch 256 trains at the linearly scaled lr 0.8 without "
              "warmup — the early instability warmup cures (Goyal et al.: deep ResNets whose first updates are "
              "far larger than later ones) does not arise in so shallow a network, and the warmup's slower "
              "start costs it accuracy within the 10-epoch budget.")
