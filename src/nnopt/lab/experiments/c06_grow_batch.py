"""Claim 6: growing the batch size instead of decaying the learning rate (Smith et al. 2018)."""
from __future__ import annotations

from ...schedules.batch_size import BatchSizeSchedule
from ..base import Check, Finding, LabContext, Precondition, Table, all_of, experiment, interval, matches
from ..plots import band, figure, finish, spread_note

LR, BATCH, FACTOR = 0.1, 16, 4


@experiment("grow_batch", shows={"train.batch_growth": "*"}, cost_s=(1.4, 3.4),
            claim="Instead of decaying the learning rate, one can increase the batch size during training: the "
                  "same curves with fewer parameter updates.",
            precise="Plain SGD (lr 0.1) on digits: batch 16 ×4 at two milestones with a constant lr vs batch 16 "
                    "with the lr ×¼ at the same milestones (the same samples per epoch): final validation "
                    "accuracy shown within 1 point (paired 90% interval inside ±0.01) and final training loss within "
                    "20% (means), with < 60% of the parameter updates.",
            source="Smith, Kindermans, Ying & Le 2018, 'Don't decay the learning rate, increase the batch size'")
def grow_batch(ctx: LabContext) -> Finding:
    epochs, n_train = ctx.pick(6, 12), ctx.pick(300, 1000)
    milestones = ctx.pick([2, 4], [4, 8])
    growth = BatchSizeSchedule(BATCH, milestones, FACTOR)
    workload = {"data": {"n_train": n_train}, "model": {"widths": [64]}, "optimizer": {"name": "sgd", "lr": LR},
                "train": {"epochs": epochs, "batch_size": BATCH}}
    variants = {"decay lr": {f"schedule.{k}": v for k, v in growth.equivalent_lr_schedule().items()},
                "grow batch": {"train.batch_growth": FACTOR, "train.batch_milestones": milestones},
                "constant lr and batch (control)": {}}
    runs = {k: ctx.runs(lambda s, o=over: ctx.recipe(workload, s, o), k.split(" (")[0].replace(" ", "_"))
            for k, over in variants.items()}
    acc = {k: rs.spread(lambda r: r.summary["final_val_acc"]) for k, rs in runs.items()}
    loss = {k: rs.spread(lambda r: r.epochs[-1]["train_loss"]) for k, rs in runs.items()}
    steps = {k: rs[0].summary["steps"] for k, rs in runs.items()}

    def same_curves_fewer_updates(name: str) -> Check:
        same_acc = matches(acc[name], acc["decay lr"], tol=0.01, paired=True, what="Δ final val acc")
        d_loss = abs(loss[name].mean / loss["decay lr"].mean - 1)
        share = steps[name] / steps["decay lr"]
        return all_of(same_acc, Check(d_loss <= 0.20 and share < 0.60,
                                      f"Δ final train loss {d_loss:.0%}; updates {share:.0%} of decay lr's"))

    d, lo, hi = interval(acc["grow batch"], acc["decay lr"], paired=True, level=0.90)
    precise = Precondition("the seeds measure the accuracy finely enough to show a 1-point match: the paired 90% "
                           "interval's half-width < 0.01", (hi - lo) / 2 < 0.01, f"half-width {(hi - lo) / 2:.3f}")
    ctx.part("growing the batch gives the same curves as decaying the lr, with fewer updates",
             criterion="Δ final val acc shown inside ±0.01 (paired 90% interval), |Δ final train loss| ≤ 20%, "
                       "updates(grow)/updates(decay) < 0.60",
             check=same_curves_fewer_updates, on="grow batch",
             control=("a batch that does not grow, at a constant lr", "constant lr and batch (control)"),
             preconditions=[precise], why="growing the batch ends more than 1 point (or 20% of the loss) away from "
                                          "decaying the lr, or saves too few updates")

    fig, (a_loss, a_acc, a_sched) = figure(3, width=4.4)
    for k, rs in runs.items():
        x = [e["epoch"] for e in rs[0].epochs]
        style = {"ls": "--"} if k == "grow batch" else {"ls": ":", "color": "0.5"} if "control" in k else {}
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
               title=f"training loss ({spread_note(len(ctx.seeds))})")
    a_acc.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    finish(fig, a_loss, a_acc)
    a_sched.grid(alpha=0.3)
    rows = [[k, acc[k].fmt(".3f"), loss[k].fmt(".4f"), steps[k]] for k in runs]
    return ctx.finding(
        table=Table(["variant", "final val acc", "final train loss", "parameter updates"], rows),
        figures=[ctx.save_figure(fig, "grow_batch", caption="left: the dashed (grow batch) band follows the solid "
                                 "(decay lr) one with fewer updates; the control at a constant lr and batch ends "
                                 "elsewhere")],
        numbers={"val_acc": acc, "train_loss": loss, "steps": steps, "milestones": milestones})
