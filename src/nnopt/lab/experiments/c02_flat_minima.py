"""Claim 2: large batches find sharper minima that generalize worse — an SGD batch sweep at one lr,
every run stopped at the same training loss, on points that are minima along the line between them."""
from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from ...landscape import hessian_top_eigenvalues, hessian_trace, interpolate, mean_loss, plot_interpolation
from ...landscape.run import split_batches
from ...train import Callback
from ..base import LabContext, Finding, Precondition, Spread, Table, exceeds, experiment
from ..plots import figure, finish, spread_note

LR, SB = 0.3, 16
BEYOND = 0.25  # the line is probed at α = −0.25 and 1.25: past each endpoint


LANCZOS = 20  # Hessian-vector products per λ_max
FAST_LANCZOS = 10  # under --fast: on claim 25's fast nets, 10 give the 20-product λ_max to < 4e-5 relative


def sharpness(setup, seed: int, iters: int = LANCZOS) -> dict:
    """The sharpness of a trained run's minimum: λ_max of the Hessian of the mean training loss (Lanczos,
    `iters` Hessian-vector products, start vector seeded) and that training loss, both in eval mode over the
    whole training split (the lab's one λ_max measurement: claims 2 and 25 use it)."""
    train = split_batches(setup.data.train)
    return {"lambda_max": hessian_top_eigenvalues(setup.model, F.cross_entropy, train, k=1, iters=iters, seed=seed)[0],
            "train_loss": mean_loss(setup.model, F.cross_entropy, train)}


class StopAtLoss(Callback):
    """Stops a run at the end of the first epoch whose mean training loss is below `target`."""

    def __init__(self, target: float):
        self.target = target

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        if record["train_loss"] < self.target:
            trainer.request_stop(f"training loss {record['train_loss']:.4f} < {self.target}")


@experiment("flat_minima", shows={"surface": ["flat_sharp"]}, cost_s=(2.7, 11.7),
            claim="Large-batch training tends to converge to sharp minima, which generalize worse than the flat "
                  "minima small batches find; and most local minima of a large network have a loss about as "
                  "low as the global minimum.",
            precise="Digits MLP, plain SGD at one lr (0.3), batch 16 vs the full training set, each run stopped at "
                    "the same training loss: the full-batch solutions have a larger Hessian λ_max, and a larger "
                    "generalization gap (val − train loss), beyond the seed spread (95% interval) — on points that "
                    "are minima along the line between the two solutions (the loss rises past both ends).",
            source="Keskar et al. 2017 (sharp minima); Dinh et al. 2017 (sharpness is not invariant to "
                   "reparametrization); Li et al. 2018 (visualizing the landscape); Goodfellow et al. 2016 §8.2.2")
def flat_minima(ctx: LabContext) -> Finding:
    n_train = ctx.pick(200, 500)
    target = ctx.pick(0.2, 0.02)
    batches = {"batch 16": SB, f"full batch ({n_train})": n_train}
    caps = {SB: ctx.pick(30, 150), n_train: ctx.pick(600, 4000)}  # epochs: a ceiling, never reached on this data
    workload = {"data": {"n_train": n_train}, "model": {"widths": [64]}, "optimizer": {"name": "sgd", "lr": LR}}

    def train(K: int, label: str, offset: int = 0):
        return ctx.runs(lambda s: ctx.recipe(workload, s + offset, {"train.batch_size": K, "train.epochs": caps[K],
                                                                     "train.log_every": 1000}),
                        label, callbacks=lambda: [StopAtLoss(target)])

    runs = {name: train(K, name.split(" (")[0].replace(" ", "")) for name, K in batches.items()}
    runs["batch 16, other seeds (control)"] = train(SB, "batch16-control", offset=100)
    iters = ctx.pick(FAST_LANCZOS, LANCZOS)
    m = {name: [_measure(r, s, iters) for r, s in zip(rs, ctx.seeds)] for name, rs in runs.items()}
    lam = {k: Spread([x["lambda_max"] for x in v]) for k, v in m.items()}
    gap = {k: Spread([x["val_loss"] - x["train_loss"] for x in v]) for k, v in m.items()}
    loss = {k: Spread([x["train_loss"] for x in v]) for k, v in m.items()}
    small, large = list(batches)
    control = "batch 16, other seeds (control)"

    alphas = np.linspace(-BEYOND, 1 + BEYOND, 13)
    curves = {"train": [], "validation": []}
    for a, b in zip(m[small], m[large]):
        for label, split in zip(curves, ("train", "val")):
            curves[label].append(interpolate(a["setup"].model, F.cross_entropy, a["batches"][split], a["theta"],
                                             b["theta"], alphas))
    train_curves = np.array([c[1] for c in curves["train"]])
    rises = [bool(c[0] > c[np.argmin(np.abs(alphas))] and c[-1] > c[np.argmin(np.abs(alphas - 1))])
             for c in train_curves]
    minima = Precondition(f"the endpoints are minima along the line: the training loss at α = −{BEYOND:g} and "
                          f"1 + {BEYOND:g} is above the endpoints' (every seed)", all(rises),
                          f"{sum(rises)}/{len(rises)} seeds")
    reached = Precondition(f"matched training loss: every run stopped below {target:g} (its epoch-mean loss)",
                           all(r.summary.get("status") == "stopped" for rs in runs.values() for r in rs),
                           ", ".join(f"{k}: {loss[k].fmt('.3g')}" for k in batches))
    ctx.part("large batches converge to sharper minima",
             criterion=f"λ_max({large}) − λ_max({small}) > 0 beyond the seed spread (95% Welch interval)",
             check=lambda arm: exceeds(arm, lam[small], what="λ_max difference"), on=lam[large],
             control=("batch 16 on other seeds, labelled large", lam[control]), preconditions=[reached, minima],
             why="the full-batch minima are not sharper than the small-batch ones beyond the seed spread")
    ctx.part("which generalize worse",
             criterion=f"gap({large}) − gap({small}) > 0 beyond the seed spread (95% Welch interval), gap = val − "
                       "train loss",
             check=lambda arm: exceeds(arm, gap[small], what="gap difference (nats)"), on=gap[large],
             control=("batch 16 on other seeds, labelled large", gap[control]), preconditions=[reached, minima],
             why="at this scale the sharper full-batch minima generalize as well as the flat ones (Dinh et al. "
                 "2017: sharpness alone does not predict generalization)")

    fig, (ax, ax_l) = figure(2, width=5.6, height=4.0)
    plot_interpolation(ax, curves, ylabel="loss (cross-entropy)", log=True)
    ax.set(xlabel=f"α: θ = (1−α)·θ_SB + α·θ_LB  (0: batch {SB}, 1: full batch)",
           title=f"line between the solutions ({spread_note(len(ctx.seeds))})")
    for k, color in zip(batches, ("C0", "C3")):
        ax_l.plot(lam[k].values, gap[k].values, "o", color=color, label=k)
    ax_l.plot(lam[control].values, gap[control].values, "x", color="C0", label=control)
    ax_l.set(xlabel="λ_max of the training loss's Hessian", ylabel="gap: val − train loss (nats)",
             title=f"each seed, stopped at training loss < {target:g}")
    finish(fig, ax, ax_l)
    rows = [[k, Spread([r.summary["steps"] for r in runs[k]]).fmt(".0f"), lam[k].fmt(".3g"),
             Spread([x["trace"] for x in m[k]]).fmt(".3g"), loss[k].fmt(".4f"), gap[k].fmt(".3f")] for k in runs]
    return ctx.finding(
        table=Table(["training", "steps", f"λ_max (Lanczos, {iters} HVPs)", "trace (Hutchinson, 10)", "train loss",
                     "gap: val − train loss"], rows),
        figures=[ctx.save_figure(fig, "sharpness", caption="right: the red (full-batch) points sit to the right "
                                 "(sharper) of the blue ones; whether they also sit higher (larger gap) is the "
                                 "generalization part")],
        numbers={"lambda_max": lam, "gap": gap, "train_loss": loss, "target": target},
        notes="Changed after the first pass's result: it trained with Adam and compared batch 16 after 20 epochs "
              "with batch 256 after 100 — unconverged points at different losses, whose line kept falling past "
              "α < 0 (not minima) — and its 'equal minima' tolerance (0.115 nats on losses ~0.1) could not fail. "
              "Now plain SGD at one lr, every run stopped at the same training loss, the endpoints checked to be "
              "minima along the line, comparisons over a 95% interval, and batch 16 on other seeds as the control "
              "that noise alone must not pass. The claim's last sentence (local minima about as good as the "
              "global one) is not judged here: at a matched training loss it would hold by construction. Dinh et "
              "al. 2017: a reparametrization can make any minimum sharp or flat without changing the function, so "
              "λ_max compares these networks only as parametrized.")


def _measure(run, seed: int, iters: int) -> dict:
    """`sharpness`, Hessian trace and validation loss of a trained run (eval mode, whole splits)."""
    from ...landscape import parameters_vector

    setup = run.setup()
    train, val = split_batches(setup.data.train), split_batches(setup.data.val)
    return {**sharpness(setup, seed, iters), "trace": hessian_trace(setup.model, F.cross_entropy, train, samples=10, seed=seed),
            "val_loss": mean_loss(setup.model, F.cross_entropy, val), "theta": parameters_vector(setup.model),
            "setup": setup, "batches": {"train": train, "val": val}}
