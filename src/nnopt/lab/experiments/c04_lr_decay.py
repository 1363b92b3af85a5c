"""Claim 4: SGD needs a decaying learning rate; seven schedules on one workload."""
from __future__ import annotations

import math

from ..base import Finding, Spread, Table, experiment, holds, lab_recipe
from ..plots import band, figure

LR, BATCH = 0.2, 32


def schedules(total: int) -> dict[str, dict]:
    """Every decaying schedule ends near 1% of the initial lr (linear and cosine at 0)."""
    return {"constant": {"name": "constant"},
            "step": {"name": "step", "rate": 0.1, "step_size": math.ceil(total / 2)},
            "linear": {"name": "linear"},
            "inverse_time": {"name": "inverse_time", "rate": 99.0, "step_size": total},
            "exponential": {"name": "exponential", "rate": 0.01, "step_size": total},
            "natural_exp": {"name": "natural_exp", "rate": math.log(100), "step_size": total},
            "cosine": {"name": "cosine"}}


@experiment("lr_decay", shows={"schedule.name": ["step", "piecewise", "polynomial", "linear", "inverse_time",
                                          "exponential", "natural_exp", "cosine"]},
            part=1, budget_s=60,
            claim="In practice it is necessary to gradually decrease the learning rate over time: with a "
                  "fixed rate, mini-batch noise keeps SGD from converging.",
            precise="At equal epochs and equal initial lr (plain SGD, lr 0.2, batch 32, digits MLP), each of "
                    "step, linear, inverse-time, exponential, natural-exponential and cosine decay ends with a "
                    "lower training loss than the constant lr; the best decay beats constant by more than "
                    "constant's seed range.",
            source="Goodfellow, Bengio & Courville 2016, §8.3.1; Bottou, Curtis & Nocedal 2018, Thms 4.6–4.7 "
                   "(fixed step: a noise floor; diminishing steps: convergence)")
def lr_decay(ctx):
    epochs, n_train = ctx.pick(2, 12), ctx.pick(200, 1000)
    total = epochs * math.ceil(n_train / BATCH)
    runs = {}
    for name, sched in schedules(total).items():
        runs[name] = [ctx.run(lab_recipe({
            "data": {"n_train": n_train}, "model": {"widths": [64]},
            "optimizer": {"name": "sgd", "lr": LR}, "schedule": {**sched, "interval": "step"},
            "train": {"epochs": epochs, "batch_size": BATCH, "seed": seed}}), f"{name}-s{seed}")
            for seed in ctx.seeds]
    loss = {k: Spread([r.epochs[-1]["train_loss"] for r in rs]) for k, rs in runs.items()}
    acc = {k: Spread([r.summary["final_val_acc"] for r in rs]) for k, rs in runs.items()}
    const = loss["constant"]
    decays = [k for k in runs if k != "constant"]
    below = [k for k in decays if loss[k].mean < const.mean]
    best = min(decays, key=lambda k: loss[k].mean)
    margin = const.mean - loss[best].mean
    verdict = holds(len(below) == len(decays) and margin > const.hi - const.lo)

    fig, (a_lr, a_loss, a_acc) = figure(3, width=4.6)
    for name, rs in runs.items():
        style = {"color": "k", "lw": 2} if name == "constant" else {}
        a_lr.plot([s["step"] for s in rs[0].steps], rs[0].series("lr", "step"), label=name, **style)
        x = [e["epoch"] for e in rs[0].epochs]
        band(a_loss, x, [r.series("train_loss") for r in rs], name, **style)
        band(a_acc, x, [r.series("val_acc") for r in rs], name, **style)
    a_lr.set(xlabel="step", ylabel="learning rate", title="schedules (lr 0.2 → ≈1%)")
    a_loss.set(xlabel="epoch", ylabel="training loss (epoch mean, log)", yscale="log",
               title="training loss, mean and min–max of 3 seeds")
    a_acc.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    a_acc.set_ylim(max(0.0, min(min(r.series("val_acc")[-1] for r in rs) for rs in runs.values()) - 0.1), 1.0)
    for ax in (a_lr, a_loss, a_acc):
        ax.grid(alpha=0.3)
    a_lr.legend(fontsize=7)
    fig.tight_layout()
    rows = [[k, loss[k].fmt(".4f"), acc[k].fmt(".3f"), "yes" if k in below else "-" if k == "constant" else "no"]
            for k in runs]
    return Finding(
        verdict=verdict,
        criterion="every decay's mean final training loss < constant's, and the best decay's margin > constant's "
                  f"seed range ({const.hi - const.lo:.4f})",
        measured=f"{len(below)}/{len(decays)} decays end below constant ({const.mean:.4f}); best {best} "
                 f"{loss[best].mean:.4f} (margin {margin:.4f})",
        table=Table(["schedule", "final train loss (mean ± std [min, max])", "final val acc", "below constant"],
                    rows),
        figures=[ctx.save_figure(fig, "schedules")],
        numbers={"train_loss": loss, "val_acc": acc, "epochs": epochs, "total_steps": total},
        notes="Decided before the run; it does not hold here because on this budget SGD at lr 0.2 is still "
              "descending (optimization-limited, not at its noise floor), so every decay only slows it — "
              "inverse-time at rate 99 cuts the lr 10× within the first tenth of the steps. The noise shows "
              "instead in constant lr's validation accuracy: its seed spread is ~10× the decays'.")
