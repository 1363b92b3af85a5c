"""Claim 8: Adadelta needs no learning rate (its update has the units of θ) and adapts per coordinate."""
from __future__ import annotations

import math

import numpy as np
import torch

from ... import optim
from ..base import Check, LabContext, Finding, Spread, Table, experiment
from ..plots import band, figure, finish, spread_note

CURVATURES = (1.0, 100.0)  # f = ½ Σ λᵢ θᵢ², κ = 100
SCALES = (0.01, 1.0, 100.0)
OPTIMIZERS = {"adadelta": {}, "adagrad": {}, "rmsprop": {}}  # each at torch's default hyperparameters
TARGET = 1e-4  # f(θ_t) / f(θ_0)


def descend(name: str, scale: float, seed: int, steps: int, **hyper) -> dict:
    """Run `name` (its defaults; SGD at lr 0.001; `hyper` on top) from θ₀ = scale·u (u a seeded unit
    vector) on the quadratic; the loss ratio per step and the per-coordinate effective lr |Δθᵢ/gᵢ|."""
    gen = torch.Generator().manual_seed(seed)
    angle = float(torch.rand(1, generator=gen)) * math.pi / 2
    lam = torch.tensor(CURVATURES, dtype=torch.float64)
    theta = (scale * torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)).requires_grad_()
    opt = optim.create(name, [theta], **OPTIMIZERS.get(name, {"lr": 0.001}), **hyper)
    f0 = float(0.5 * (lam * theta.detach() ** 2).sum())
    ratios, eff = [], []
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (lam * theta ** 2).sum()).backward()
        g, before = theta.grad.detach().clone(), theta.detach().clone()
        opt.step()
        eff.append(((theta.detach() - before).abs() / g.abs().clamp_min(1e-300)).tolist())
        ratios.append(float(0.5 * (lam * theta.detach() ** 2).sum()) / f0)
    reached = next((t + 1 for t, r in enumerate(ratios) if r < TARGET), None)
    return {"ratio": ratios, "eff": eff, "reached": reached}


@experiment("adadelta", shows={"optimizer.name": ["adadelta"]}, cost_s=(4.3, 28.5),
            claim="AdaDelta requires no manual setting of a learning rate: its update has the units of the "
                  "parameter, and it adapts the step per coordinate.",
            precise="On f = ½(θ₁² + 100·θ₂²) started at distance s ∈ {0.01, 1, 100} from the minimum, Adadelta with "
                    "its defaults (ρ 0.9, ε 1e-6): (a) per coordinate, its effective lr |Δθᵢ/gᵢ| (median over steps) is "
                    "more than 2× larger on the flat coordinate than on the stiff one, every scale and seed; (b) "
                    "needing no learning rate, it reaches f < 1e-4·f(θ₀) at every scale and seed with "
                    "steps-to-target within 10× across scales. ε ∈ {1e-6, 1e-4, 1e-2} at s = 100 is shown.",
            source="Zeiler 2012 (ADADELTA, §3.2 units); Goodfellow et al. 2016 §8.5")
def adadelta(ctx: LabContext) -> Finding:
    steps = ctx.pick(300, 2000)
    runs = {(name, s): [descend(name, s, seed, steps) for seed in ctx.seeds] for name in OPTIMIZERS for s in SCALES}
    runs.update({("sgd", s): [descend("sgd", s, seed, steps) for seed in ctx.seeds] for s in SCALES})
    epsilons = {eps: [descend("adadelta", SCALES[-1], seed, steps, eps=eps) for seed in ctx.seeds]
                for eps in (1e-4, 1e-2)}
    reached = {k: [r["reached"] for r in rs] for k, rs in runs.items()}

    def per_coordinate(name: str) -> Check:
        ratios = [median_ratio(r["eff"]) for s in SCALES for r in runs[name, s]]
        return Check(min(ratios) > 2, f"flat/stiff effective lr (median over steps) {min(ratios):.3g}–{max(ratios):.3g}")

    ctx.part("it adapts the step per coordinate",
             criterion="effective lr flat/stiff (λ = 1 vs 100), median over the steps where both move, > 2, every "
                       "scale and seed",
             check=per_coordinate, on="adadelta", control=("SGD: one learning rate for every coordinate", "sgd"),
             why="the flat coordinate gets no larger effective lr than the stiff one")

    def no_lr(name: str) -> Check:
        ts = [t for s in SCALES for t in reached[name, s]]
        if any(t is None for t in ts):
            return Check(False, f"{sum(t is None for t in ts)} of {len(ts)} runs miss the target in {steps} steps ("
                                + "; ".join(f"s={s:g}: {_fmt(reached[name, s])}" for s in SCALES) + ")")
        return Check(max(ts) / min(ts) < 10, f"steps-to-target max/min {max(ts) / min(ts):.1f} ("
                                              + "; ".join(f"s={s:g}: {_fmt(reached[name, s])}" for s in SCALES) + ")")

    ctx.part("it needs no learning rate (its steps have the units of θ)",
             criterion=f"reaches f < {TARGET:g}·f₀ within {steps} steps at s = 0.01, 1, 100 for every seed, "
                       "max/min steps-to-target < 10",
             check=no_lr, on="adadelta", control=("Adagrad at its default lr 0.01 (a method that needs one)", "adagrad"),
             why="ε acts as a learning rate: the first steps are ≈ √ε/RMS[g]·g, about 1e-3 in θ whatever the scale, "
                 "and RMS[Δθ] grows only as fast as the steps taken — from 100 away it is still crawling (the "
                 "table shows ε's effect at s = 100)")

    fig, (ax, ax2) = figure(2, width=5.6)
    t = np.arange(1, steps + 1)
    styles = {0.01: ":", 1.0: "-", 100.0: "--"}
    for i, name in enumerate(OPTIMIZERS):
        for s in SCALES:
            band(ax, t, [r["ratio"] for r in runs[name, s]], f"{name}, s = {s:g}", color=f"C{i}", ls=styles[s])
    ax.axhline(TARGET, color="k", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="step", ylabel="f(θ_t) / f(θ₀)", ylim=(1e-12, 1e3),
           title=f"loss ratio ({spread_note(len(ctx.seeds))}); line = target")
    for j, lam in enumerate(CURVATURES):
        for k, s in enumerate(SCALES):
            band(ax2, t, [np.array(r["eff"])[:, j] for r in runs["adadelta", s]],
                 f"λ = {lam:g}, s = {s:g}", color=f"C{k + 3}", ls="-" if j == 0 else "--")
    ax2.set(xscale="log", yscale="log", xlabel="step", ylim=(1e-7, 10), ylabel="Adadelta's effective lr |Δθᵢ / gᵢ|",
            title="per coordinate: flat (λ = 1, solid) vs stiff (λ = 100, dashed)")
    finish(fig, ax, ax2, legend_size=6)
    ax.legend(fontsize=6, ncol=3, loc="lower left")

    rows = [[name, *[_fmt(reached[name, s]) for s in SCALES]] for name in (*OPTIMIZERS, "sgd")]
    rows += [[f"adadelta, ε = {eps:g}", "", "", _fmt([r["reached"] for r in rs])] for eps, rs in epsilons.items()]
    final = {f"{name}@{s:g}": Spread([r["ratio"][-1] for r in runs[name, s]]) for name, s in runs}
    return ctx.finding(
        table=Table(["optimizer (defaults)", *[f"steps to target, s = {s:g} ({len(ctx.seeds)} seeds)" for s in SCALES]], rows),
        figures=[ctx.save_figure(fig, "adadelta_scales", caption="left: Adadelta's dashed (s = 100) band never "
                                 "reaches the target line; right: the solid (flat) effective lr sits above the dashed "
                                 "(stiff) one — adaptation per coordinate, but not independence from a step size")],
        numbers={"reached": {f"{k[0]}@{k[1]:g}": v for k, v in reached.items()}, "final_ratio": final,
                 "reached_by_epsilon": {f"{eps:g}": [r["reached"] for r in rs] for eps, rs in epsilons.items()},
                 "steps": steps},
        notes="Changed after the first pass's result (one DOES NOT HOLD for both sentences): the claim's two "
              "sentences are now judged apart. Per-coordinate adaptation holds (SGD, one lr for all, is the "
              "control); 'no learning rate' does not: ε sets Adadelta's unit. From 0.01 it arrives in a few steps "
              "(and later drifts back up as RMS[g] decays faster than RMS[Δθ]).")


def median_ratio(eff: list) -> float:
    """Median over the steps where both coordinates move of eff_flat / eff_stiff."""
    e = np.array(eff)
    both = (e[:, 0] > 0) & (e[:, 1] > 0)
    return float(np.median(e[both, 0] / e[both, 1])) if both.any() else math.nan


def _fmt(ts) -> str:
    return ", ".join("—" if x is None else str(x) for x in ts)
