"""Claim 6: growing the batch size instead of decaying the learning rate (Smith et al. 2018)."""
from __future__ import annotations

from ...schedules.batch_size import BatchSizeSchedule
from ..base import Finding, Spread, Table, experiment, holds, lab_recipe
from ..plots import band, figure

LR, BATCH, FACTOR = 0.1, 16, 4


@experiment("grow_batch", shows={"train.batch_growth": "*"},
            part=1, budget_s=40,
            claim="Instead of decaying the learning rate, one can increase the batch size during training: the "
                  "same curves with fewer parameter updates.",
            precise="Plain SGD (lr 0.1) on digits: batch 16 ×4 at two milestones with a constant lr vs batch 16 "
                    "with the lr ×¼ at the same milestones (the same samples per epoch): final validation "
                    "accuracy within 1 point and final training loss within 20% (means of 3 seeds), with "
                    "< 60% of the parameter updates.",
            source="Smith, Kindermans, Ying & Le 2018, 'Don't decay the learning rate, increase the batch size'")
def grow_batch(ctx):
    epochs, n_train = ctx.pick(6, 12), ctx.pick(300, 1000)
    milestones = ctx.pick([2, 4], [4, 8])
    growth = BatchSizeSchedule(BATCH, milestones, FACTOR)
    base = {"data": {"n_train": n_train}, "model": {"widths": [64]}, "optimizer": {"name": "sgd", "lr": LR}}
    variants = {
        "decay lr": {**base, "schedule": growth.equivalent_lr_schedule(),
                     "train": {"epochs": epochs, "batch_size": BATCH}},
        "grow batch": {**base, "train": {"epochs": epochs, "batch_size": BATCH, "batch_growth": FACTOR,
                                         "batch_milestones": milestones}}}
    runs = {k: [ctx.run(lab_recipe(v).override({"train.seed": s}), f"{k.replace(' ', '_')}-s{s}")
                for s in ctx.seeds] for k, v in variants.items()}
    acc = {k: Spread([r.summary["final_val_acc"] for r in rs]) for k, rs in runs.items()}
    loss = {k: Spread([r.epochs[-1]["train_loss"] for r in rs]) for k, rs in runs.items()}
    steps = {k: rs[0].summary["steps"] for k, rs in runs.items()}
    d_acc = abs(acc["grow batch"].mean - acc["decay lr"].mean)
    d_loss = abs(loss["grow batch"].mean / loss["decay lr"].mean - 1)
    share = steps["grow batch"] / steps["decay lr"]

    fig, (a_loss, a_acc, a_sched) = figure(3, width=4.4)
    for k, rs in runs.items():
        x = [e["epoch"] for e in rs[0].epochs]
        style = {"ls": "--"} if k == "grow batch" else {}
        band(a_loss, x, [r.series("train_loss") for r in rs], f"{k} ({steps[k]} updates)", **style)
        band(a_acc, x, [r.series("val_acc") for r in rs], k, **style)
    lr_line = a_sched.plot(range(1, epochs + 1), [rs[0].epochs[e]["lr"] for e in range(epochs)
                                                  for rs in [runs["decay lr"]]], "o-", label="decay lr: lr")
    a_sched.set(xlabel="epoch", ylabel="learning rate (decay lr)", title="the two schedules")
    twin = a_sched.twinx()
    twin.plot(range(1, epochs + 1), [e["batch_size"] for e in runs["grow batch"][0].epochs], "s--", color="C1",
              label="grow batch: batch size")
    twin.set_ylabel("batch size (grow batch)")
    a_sched.legend(handles=[*lr_line, *twin.get_lines()], fontsize=8, loc="center right")
    a_loss.set(xlabel="epoch (same samples per epoch)", ylabel="training loss (epoch mean, log)", yscale="log",
               title="training loss (band: 3 seeds)")
    a_acc.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    for ax in (a_loss, a_acc, a_sched):
        ax.grid(alpha=0.3)
    a_loss.legend(fontsize=8), a_acc.legend(fontsize=8)
    fig.tight_layout()
    rows = [[k, acc[k].fmt(".3f"), loss[k].fmt(".4f"), steps[k]] for k in runs]
    return Finding(
        verdict=holds(d_acc <= 0.01 and d_loss <= 0.20 and share < 0.60),
        criterion="|Δ final val acc| ≤ 0.01, |Δ final train loss| ≤ 20%, updates(grow)/updates(decay) < 0.60",
        measured=f"Δ val acc {d_acc:.3f}, Δ train loss {d_loss:.0%}, updates {steps['grow batch']} vs "
                 f"{steps['decay lr']} ({share:.0%})",
        table=Table(["variant", "final val acc", "final train loss", "parameter updates"], rows),
        figures=[ctx.save_figure(fig, "grow_batch")],
        numbers={"val_acc": acc, "train_loss": loss, "steps": steps, "milestones": milestones})
