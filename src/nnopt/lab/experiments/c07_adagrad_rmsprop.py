"""Claim 7: Adagrad's effective learning rate dies; RMSprop's (Adagrad with an EMA) does not."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ... import data as datasets, optim
from ..base import Check, LabContext, Finding, Spread, Table, experiment
from ..plots import band, figure, spread_note

LR, BATCH, EARLY = 0.01, 32, 10


def effective_lrs(name: str, steps: int, seed: int, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Softmax regression trained by `name` (torch-default hyperparameters, lr 0.01) on mini-batches;
    per step, the per-coordinate effective lr |Δθᵢ/gᵢ| (where gᵢ ≠ 0) measured from the update, and
    the largest relative gap to the closed form α/(√rᵢ + ε) with r = Σg² (Adagrad's "sum") and with
    r ← 0.99r + 0.01g² (RMSprop's "ema"), both accumulated from the same gradients."""
    gen = torch.Generator().manual_seed(seed)
    w = (0.01 * torch.randn(x.shape[1], 10, generator=gen, dtype=torch.float64)).requires_grad_()
    opt = optim.create(name, [w], lr=LR)
    eps = 1e-10 if name == "adagrad" else 1e-8
    r = {"sum": torch.zeros_like(w), "ema": torch.zeros_like(w)}
    medians, q10, q90, gap = [], [], [], {"sum": 0.0, "ema": 0.0}
    for _ in range(steps):
        idx = torch.randint(0, len(y), (BATCH,), generator=gen)
        opt.zero_grad()
        F.cross_entropy(x[idx] @ w, y[idx]).backward()
        g, before = w.grad.detach().clone(), w.detach().clone()
        opt.step()
        r = {"sum": r["sum"] + g ** 2, "ema": 0.99 * r["ema"] + 0.01 * g ** 2}
        live = g.abs() > 1e-8
        eff = ((w.detach() - before).abs() / g.abs())[live]
        for kind, acc in r.items():
            closed = (LR / (acc.sqrt() + eps))[live]
            gap[kind] = max(gap[kind], float(((eff - closed).abs() / closed).max()))
        lo, med, hi = torch.quantile(eff, torch.tensor([0.1, 0.5, 0.9], dtype=eff.dtype)).tolist()
        medians.append(med), q10.append(lo), q90.append(hi)
    return {"median": medians, "q10": q10, "q90": q90, "gap": gap}


@experiment("adagrad_rmsprop", shows={"optimizer.name": ["adagrad", "rmsprop"]}, cost_s=(2.7, 14.1),
            claim="AdaGrad shrinks the learning rate by the whole history of squared gradients, so it can "
                  "become too small before a good region is reached; RMSProp changes the gradient "
                  "accumulation into an exponentially weighted moving average and does not.",
            precise="Softmax regression on digits, mini-batches of 32, lr 0.01, torch defaults: the median "
                    "per-coordinate effective lr |Δθᵢ/gᵢ| at the last step is < 10% of its step-10 value for "
                    "Adagrad and > 50% for RMSprop (all seeds); and both equal α/(√rᵢ + ε) with r the sum "
                    "(Adagrad) or the EMA (RMSprop, β = 0.99) of gᵢ² to 1e-6 relative.",
            source="Duchi, Hazan & Singer 2011 (AdaGrad); Tieleman & Hinton 2012, Lecture 6.5 (RMSProp); "
                   "Goodfellow et al. 2016 §8.5.1–8.5.2")
def adagrad_rmsprop(ctx: LabContext) -> Finding:
    steps = ctx.pick(400, 3000)
    d = datasets.load("digits", layout="flat")
    x, y = d.train.x.double(), d.train.y
    runs = {name: [effective_lrs(name, steps, s, x, y) for s in ctx.seeds] for name in ("adagrad", "rmsprop")}
    ratio = {k: Spread([r["median"][-1] / r["median"][EARLY - 1] for r in rs]) for k, rs in runs.items()}
    gaps = {(k, kind): max(r["gap"][kind] for r in rs) for k, rs in runs.items() for kind in ("sum", "ema")}
    ctx.part("Adagrad's learning rate shrinks until it is too small",
             criterion=f"every seed: the median effective lr at the last step < 10% of its step-{EARLY} value",
             check=lambda d: Check(d.hi < 0.10, f"{d.fmt('.3g')} of its step-{EARLY} value"), on=ratio["adagrad"],
             control=("RMSprop, whose accumulator forgets", ratio["rmsprop"]),
             why=f"in {steps} steps Adagrad's effective lr has not fallen below 10% of its early value")
    ctx.part("RMSprop's does not",
             criterion=f"every seed: the median effective lr at the last step > 50% of its step-{EARLY} value",
             check=lambda d: Check(d.lo > 0.50, f"{d.fmt('.3g')} of its step-{EARLY} value"), on=ratio["rmsprop"],
             control=("Adagrad, whose accumulator never forgets", ratio["adagrad"]),
             why="RMSprop's effective lr falls too")
    for name, kind, other in (("adagrad", "sum", "ema"), ("rmsprop", "ema", "sum")):
        ctx.part(f"{name}'s step is α/(√r + ε), r the {'sum' if kind == 'sum' else 'moving average'} of g²",
                 criterion="largest relative gap between the measured |Δθᵢ/gᵢ| and the closed form < 1e-6, all steps "
                           "and seeds",
                 check=lambda k, n=name: Check(gaps[n, k] < 1e-6, f"largest gap {gaps[n, k]:.1e}"), on=kind,
                 control=(f"the other accumulator ({'sum' if other == 'sum' else 'moving average'})", other),
                 why="the update is not the closed form")

    fig, (ax, ax2) = figure(2, width=5.4)
    t = np.arange(1, steps + 1)
    for name, rs in runs.items():
        line = band(ax, t, [r["median"] for r in rs], f"{name}: median over coordinates")
        q = np.array([r["q10"] for r in rs]).mean(0), np.array([r["q90"] for r in rs]).mean(0)
        ax.plot(t, q[0], ls=":", color=line.get_color(), lw=1)
        ax.plot(t, q[1], ls=":", color=line.get_color(), lw=1, label=f"{name}: 10% / 90% of coordinates")
        band(ax2, t, [np.array(r["median"]) / r["median"][EARLY - 1] for r in rs], name)
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="effective lr |Δθᵢ / gᵢ|",
           title=f"per-coordinate effective lr ({spread_note(len(ctx.seeds))})")
    ax2.axhline(0.10, color="C0", ls="--", lw=0.8)
    ax2.axhline(0.50, color="C1", ls="--", lw=0.8)
    ax2.set(xscale="log", yscale="log", xlabel="step", ylabel=f"median effective lr / its value at step {EARLY}",
            title="criterion: Adagrad < 0.10, RMSprop > 0.50 at the end")
    for a in (ax, ax2):
        a.grid(alpha=0.3, which="both")
        a.legend(fontsize=7)
    fig.tight_layout()
    rows = [[k, f"{runs[k][0]['median'][EARLY - 1]:.3g}", f"{np.mean([r['median'][-1] for r in runs[k]]):.3g}",
             ratio[k].fmt(".3f"), f"{gaps[k, 'sum' if k == 'adagrad' else 'ema']:.1e}"] for k in runs]
    return ctx.finding(
        table=Table(["optimizer", f"median eff. lr, step {EARLY} (seed 0)", f"median eff. lr, step {steps}",
                     "ratio (mean ± std [min, max])", "max gap to α/(√r+ε)"], rows),
        figures=[ctx.save_figure(fig, "effective_lr", caption="right: Adagrad's band falls through its dashed 0.10 "
                                 "line while RMSprop's stays above 0.50")],
        numbers={"ratio": ratio, "closed_form_gap": {f"{n}/{k}": v for (n, k), v in gaps.items()}, "steps": steps})
