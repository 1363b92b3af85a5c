"""Claim 11: Adam ≈ momentum + RMSprop; bias correction matters early; L2 in Adam is not weight decay."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ... import optim
from ...data import load
from ...optim import ChainOptimizer, transforms as T
from ...toy.functions2d import trajectory
from ..base import Context, Finding, Spread, Table, experiment
from ._part2 import band, summarize

B1, B2, EPS, LR, STEPS = 0.9, 0.999, 1e-8, 0.01, 50
CURVATURES, DECAY = (0.01, 1.0), 0.1  # the L2 / AdamW toy: f = Σ ½cᵢ(θᵢ − 1)², λ = 0.1


def momentum_over_rms(u: torch.Tensor, s: dict) -> tuple[torch.Tensor, dict]:
    """One transform holding both averages of the same gradient g: the momentum m ← β₁m + (1−β₁)g and
    RMSprop's v ← β₂v + (1−β₂)g²; the step direction m/(√v + ε)."""
    m = B1 * s["m"] + (1 - B1) * u
    v = B2 * s["v"] + (1 - B2) * u * u
    return m / (v.sqrt() + EPS), {"m": m, "v": v}


def candidates() -> dict:
    """name → builder(params) of the optimizers compared with Adam without bias correction."""
    zeros = {"m": torch.zeros_like, "v": torch.zeros_like}
    ema = T.trace(B1, dampening=1 - B1)
    return {"adam (no bias correction)": lambda p: optim.create("adam", p, lr=LR, betas=(B1, B2), eps=EPS,
                                                                 bias_correction=False),
            "m/√v of the same g (one transform)": lambda p: ChainOptimizer(
                p, T.chain(T.pure(momentum_over_rms, state=zeros), T.scale_by_lr()), lr=LR),
            "chain: momentum → RMS scaling": lambda p: ChainOptimizer(
                p, T.chain(ema, T.scale_by_rms(B2, EPS), T.scale_by_lr()), lr=LR),
            "chain: RMS scaling → momentum": lambda p: ChainOptimizer(
                p, T.chain(T.scale_by_rms(B2, EPS), ema, T.scale_by_lr()), lr=LR)}


def logistic_problem(seed: int):
    """Softmax regression on 256 digits (float64): initial weights (seeded) and the loss's gradient."""
    data = load("digits", layout="flat")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train.y), generator=gen)[:256]
    x, y = data.train.x[idx].double(), data.train.y[idx]
    w0 = 0.01 * torch.randn(64, 10, generator=gen, dtype=torch.float64)

    def grad(w: torch.Tensor) -> torch.Tensor:
        w = w.detach().requires_grad_(True)
        return torch.autograd.grad(F.cross_entropy(x @ w, y), w)[0]

    return w0, grad


def compare_steps(seed: int) -> dict[str, float]:
    """Each candidate's parameters after STEPS steps on its own trajectory: max |θ − θ_adam| / max |θ_adam − θ_0|."""
    w0, grad = logistic_problem(seed)
    final = {}
    for name, build in candidates().items():
        w = w0.clone().requires_grad_(True)
        opt = build([w])
        for _ in range(STEPS):
            w.grad = grad(w)
            opt.step()
        final[name] = w.detach()
    ref = final["adam (no bias correction)"]
    scale = float((ref - w0).abs().max())
    return {name: float((w - ref).abs().max()) / scale for name, w in final.items() if w is not ref}


def step_ratios(seed: int) -> np.ndarray:
    """‖Δθ‖ without bias correction / with it, for t = 1..STEPS, both fed the same gradients (those of the
    corrected run's iterates)."""
    w0, grad = logistic_problem(seed)
    w_c, w_n = w0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    corrected = optim.create("adam", [w_c], lr=LR, betas=(B1, B2), eps=EPS)
    plain = optim.create("adam", [w_n], lr=LR, betas=(B1, B2), eps=EPS, bias_correction=False)
    ratios = []
    for _ in range(STEPS):
        g = grad(w_c)
        before_c, before_n = w_c.detach().clone(), w_n.detach().clone()
        w_c.grad, w_n.grad = g.clone(), g.clone()
        corrected.step()
        plain.step()
        ratios.append(float((w_n.detach() - before_n).norm() / (w_c.detach() - before_c).norm()))
    return np.array(ratios)


def decay_ratio(name: str, start, steps: int):
    """θ_flat/θ_steep after `steps` of `name` ("adam": L2 through the gradient; "adamw": decoupled) with
    λ = DECAY on f = ½·0.01(x − 1)² + ½(y − 1)², and the trajectory."""
    c = torch.tensor(CURVATURES, dtype=torch.float64)
    run = trajectory(lambda t: 0.5 * (c * (t - 1) ** 2).sum(-1), name, start, steps, lr=LR, weight_decay=DECAY,
                     no_decay_1d=False)
    x, y = run.points[-1]
    return float(x / y), run


@experiment("adam", shows={"optimizer.name": ["adam", "adamw"]},
            claim="Adam combines momentum and RMSprop; bias correction matters in the first steps; with "
            "Adam, L2 regularization is not weight decay.",
            precise="(1) The chain of nnopt's momentum transform (EMA, dampening 1−β₁) and RMS-scaling transform "
                    "equals Adam without bias correction step for step (50 steps of softmax regression on digits, "
                    "float64, to 1e-10 relative), in either order; (2) without bias correction the steps of the first "
                    "50 are too small by the factor (1−β₁ᵗ) (to 5%); (3) on f = ½·0.01(x−1)² + ½(y−1)², λ = 0.1, Adam "
                    "with L2 shrinks the flat coordinate far more than the steep one (θ_flat/θ_steep < 0.2; the L2 "
                    "optimum gives 0.1), AdamW shrinks both alike (ratio in [0.8, 1.25])",
            source="Kingma & Ba 2015 (§2–3); Loshchilov & Hutter 2019 (AdamW)", budget_s=15, part=2)
def adam(ctx: Context) -> Finding:
    deviation = {name: Spread(v) for name, v in _transpose([compare_steps(s) for s in ctx.seeds]).items()}
    ratios = np.array([step_ratios(s) for s in ctx.seeds])
    t = np.arange(1, STEPS + 1)
    claimed, full = 1 - B1 ** t, (1 - B1 ** t) / np.sqrt(1 - B2 ** t)
    claim_error = float(np.abs(ratios / claimed - 1).max())
    formula_error = float(np.abs(ratios / full - 1).max())
    steps = ctx.pick(1500, 3000)
    starts = {s: tuple((1.5 + torch.rand(2, generator=torch.Generator().manual_seed(s))).tolist()) for s in ctx.seeds}
    shrink = {name: [decay_ratio(name, starts[s], steps) for s in ctx.seeds] for name in ("adam", "adamw")}
    shrink_ratio = {name: Spread([r for r, _ in v]) for name, v in shrink.items()}
    checks = {
        "one transform m/√v = adam": deviation["m/√v of the same g (one transform)"].hi < 1e-10,
        "chain momentum → RMS = adam": deviation["chain: momentum → RMS scaling"].hi < 1e-10,
        "chain RMS → momentum = adam": deviation["chain: RMS scaling → momentum"].hi < 1e-10,
        "uncorrected steps = (1−β₁ᵗ) × corrected": claim_error < 0.05,
        "L2 shrinks the flat weight more": shrink_ratio["adam"].hi < 0.2,
        "AdamW shrinks both alike": 0.8 <= shrink_ratio["adamw"].lo and shrink_ratio["adamw"].hi <= 1.25}
    verdict, summary, failed = summarize(checks)
    rows = [[name, d.fmt(".2g")] for name, d in deviation.items()]
    rows += [[f"step ratio uncorrected/corrected at t = {k}", f"{ratios[:, k - 1].mean():.3f} (claim 1−β₁ᵗ = "
              f"{claimed[k - 1]:.3f}; (1−β₁ᵗ)/√(1−β₂ᵗ) = {full[k - 1]:.3f})"] for k in (1, 5, 10, 50)]
    rows += [[f"θ_flat/θ_steep after {steps} steps, {name}", shrink_ratio[name].fmt(".3g")] for name in shrink]
    return Finding(
        verdict=verdict,
        criterion="all: relative deviation from Adam (no bias correction) after 50 steps < 1e-10 for the one "
                  "transform and both chains; |ratio/(1−β₁ᵗ) − 1| < 5% for t ≤ 50; Adam+L2's θ_flat/θ_steep < 0.2 and "
                  "AdamW's in [0.8, 1.25], every seed",
        measured=summary + f" — chain deviations {deviation['chain: momentum → RMS scaling'].mean:.2g} and "
                   f"{deviation['chain: RMS scaling → momentum'].mean:.2g}; step ratio at t = 1: "
                   f"{ratios[:, 0].mean():.3f} (claim {claimed[0]:.2f}, full formula {full[0]:.3f}, which fits to "
                   f"{formula_error:.1%}); θ_flat/θ_steep Adam+L2 {shrink_ratio['adam'].mean:.3f}, AdamW "
                   f"{shrink_ratio['adamw'].mean:.3f}",
        table=Table(["measurement", "value (mean ± std [min, max] over seeds)"], rows),
        figures=[_figure(ctx, ratios, claimed, full, shrink)],
        numbers={"deviation_from_adam": deviation, "step_ratio_mean": ratios.mean(axis=0).tolist(),
                 "claim_error": claim_error, "formula_error": formula_error, "shrink_ratio": shrink_ratio,
                 "checks": checks},
        notes=failed
              + "Why: a chain feeds one transform's output to the next, so the RMS is taken of the momentum (or the "
                "momentum of RMSprop's step), while Adam divides the momentum of g by the RMS of the same g — two "
                "averages side by side, which one transform holding both reproduces exactly. Without bias correction "
                "both m and v are too small early; with β₂ = 0.999 v's factor √(1−β₂ᵗ) dominates, so the uncorrected "
                "steps are larger, by (1−β₁ᵗ)/√(1−β₂ᵗ) (3.2× at t = 1), not smaller by (1−β₁ᵗ). Seeds vary the "
                "initial weights, the 256 examples and (for (3)) the start point.")


def _transpose(records: list[dict]) -> dict[str, list]:
    return {k: [r[k] for r in records] for k in records[0]}


def _figure(ctx: Context, ratios: np.ndarray, claimed: np.ndarray, full: np.ndarray, shrink: dict) -> str:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
    t = np.arange(1, STEPS + 1)
    band(axes[0], t, ratios, f"measured (min–max over {len(ctx.seeds)} seeds)", "C0")
    axes[0].plot(t, claimed, "k--", label="claim: 1 − β₁ᵗ (too small)")
    axes[0].plot(t, full, "C1:", linewidth=2.5, label="(1 − β₁ᵗ)/√(1 − β₂ᵗ)")
    axes[0].axhline(1, color="grey", linewidth=0.8)
    axes[0].set(xlabel="step t", ylabel="‖Δθ‖ without / with bias correction", yscale="log")
    axes[0].set_title(f"Adam's first {STEPS} steps, same gradients (β₁ {B1}, β₂ {B2})", fontsize=10)
    axes[0].legend(fontsize=8, loc="lower right")
    for (name, runs), color in zip(shrink.items(), ("C3", "C2")):
        label = "Adam + L2" if name == "adam" else "AdamW"
        n = min(len(r.points) for _, r in runs)
        band(axes[1], np.arange(n), [r.points[:n, 0] for _, r in runs], f"{label}: θ_flat (c = 0.01)", color, "--")
        band(axes[1], np.arange(n), [r.points[:n, 1] for _, r in runs], f"{label}: θ_steep (c = 1)", color, "-")
    axes[1].set(xlabel="step", ylabel="θᵢ (the data alone pull both to 1)")
    axes[1].set_title(f"f = Σ ½cᵢ(θᵢ − 1)², λ = {DECAY}, α = {LR}", fontsize=10)
    axes[1].legend(fontsize=8, loc="upper right")
    return ctx.save_figure(fig, "adam")
