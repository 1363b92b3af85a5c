"""The chapter's slips: where ch. 7 of Qiu Xipeng's "Neural Networks and Deep Learning" writes an update
rule differently from the paper it cites, each run as written beside the paper's rule.

Every rule here is the formula itself, in float64, on a one-dimensional quadratic
f(θ) = ½·s·(θ − θ*)² (gradient g = s·(θ − θ*)), so that a run is a few hundred multiply-adds and a
test can check its first steps by hand. The paper's rules are checked against torch.optim
(tests/lab/test_errata.py), the chapter's as written against hand computations.

1. **Adam's bias correction** (§7.2.4). The chapter writes
   M_t = β₁M_{t−1} + (1−β₁)g_t, G_t = β₂G_{t−1} + (1−β₂)g_t², **M̂_t = M_t / (1−β₂ᵗ)**,
   Ĝ_t = G_t / (1−β₂ᵗ), Δθ_t = −α M̂_t / √(Ĝ_t + ε).
   Kingma & Ba 2015, Alg. 1: m̂_t = m_t / (1−β₁ᵗ). As written the first moment is multiplied by
   (1−β₁ᵗ)/(1−β₂ᵗ) — 100× at t = 1 with β = (0.9, 0.999), still ≈ 10× at t = 100.
2. **Adadelta's accumulator** (§7.2.3). The chapter writes
   ΔX²_{t−1} = β₁ΔX²_{t−2} + (1−β₁) **θ_{t−1}⊙θ_{t−1}**,
   Δθ_t = −√(ΔX²_{t−1} + ε) / √(G_t + ε) ⊙ g_t, G_t = β₂G_{t−1} + (1−β₂)g_t².
   Zeiler 2012, Alg. 1: E[Δx²]_t = ρE[Δx²]_{t−1} + (1−ρ)Δx_t² — the squared *updates*. As written the
   step scales with |θ| itself, so the rule depends on where the origin is: the same problem shifted
   by a constant trains differently.
3. **ε inside the square root** (§7.2.3–7.2.4, AdaGrad, RMSprop, Adam): Δθ = −α/√(G + ε) ⊙ g.
   Duchi et al. 2011 and Kingma & Ba 2015 add ε outside: −α g/(√G + ε). Inside, ε acts as a floor
   √ε on the gradient's RMS (1e-4 for ε = 1e-8), so gradients of that size or smaller take steps
   shrunk by |g|/√ε: the paper's Adam is (nearly) invariant to scaling the loss, the chapter's is not.
4. **Label smoothing's convention** (§7.7.6): the chapter's target is 1 − ε on the true class and
   ε/(K−1) on each other; Szegedy et al. 2016 (and torch's ``label_smoothing``) use
   (1 − ε)·onehot + ε/K. Not an error — the chapter's ε equals the paper's ε·(K−1)/K — but the same
   ε means different targets (0.9 vs 0.91 for ε = 0.1, K = 10).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def quadratic_grad(s: float, target: float) -> Callable[[float], float]:
    """g(θ) = s·(θ − target), the gradient of ½·s·(θ − target)²."""
    return lambda theta: s * (theta - target)


def adam(grad: Callable[[float], float], theta0: float, lr: float, steps: int, *, second_moment_in_m: bool = False,
         eps_inside: bool = True, betas: tuple[float, float] = BETAS, eps: float = ADAM_EPS) -> np.ndarray:
    """θ_0..θ_steps of Adam on a scalar: m̂ = m/(1−β₁ᵗ) (Kingma & Ba), or m/(1−β₂ᵗ) with
    `second_moment_in_m` (the chapter's slip); the step −α m̂/√(v̂ + ε) with `eps_inside` (the chapter),
    else −α m̂/(√v̂ + ε) (the paper, torch)."""
    b1, b2 = betas
    theta, m, v, out = theta0, 0.0, 0.0, [theta0]
    for t in range(1, steps + 1):
        g = grad(theta)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - (b2 if second_moment_in_m else b1) ** t)
        v_hat = v / (1 - b2 ** t)
        theta -= lr * m_hat / (math.sqrt(v_hat + eps) if eps_inside else math.sqrt(v_hat) + eps)
        out.append(theta)
    return np.array(out)


def adadelta(grad: Callable[[float], float], theta0: float, steps: int, *, accumulate_theta: bool = False,
             rho: float = 0.9, eps: float = 1e-6) -> np.ndarray:
    """θ_0..θ_steps of Adadelta (no learning rate): G_t = ρG + (1−ρ)g², Δθ_t = −√(X + ε)/√(G_t + ε)·g_t;
    X accumulates the squared updates Δθ² (Zeiler 2012) or, with `accumulate_theta` (the chapter as
    written), the squared parameters θ_{t−1}² before the step."""
    theta, G, X, out = theta0, 0.0, 0.0, [theta0]
    for _ in range(steps):
        g = grad(theta)
        G = rho * G + (1 - rho) * g * g
        if accumulate_theta:
            X = rho * X + (1 - rho) * theta * theta
        delta = -math.sqrt(X + eps) / math.sqrt(G + eps) * g
        if not accumulate_theta:
            X = rho * X + (1 - rho) * delta * delta
        theta += delta
        out.append(theta)
    return np.array(out)


def smoothed_targets(k: int, eps: float, convention: str) -> tuple[float, float]:
    """(true-class target, each other class's target): "book" 1 − ε and ε/(K−1); "paper" 1 − ε + ε/K and ε/K."""
    if convention == "book":
        return 1 - eps, eps / (k - 1)
    return 1 - eps + eps / k, eps / k


@dataclass
class Erratum:
    """One place where the chapter's formula differs from its source, and a run of both."""

    key: str
    section: str
    as_written: str
    source_rule: str
    source: str
    effect: str  # one sentence, with the run's numbers
    numbers: dict
    series: dict  # label → |θ − θ*| per step (for the figure); empty if the erratum is not a run
    slip: bool  # True: an error of the chapter; False: a different (equivalent) convention


def adam_bias_correction(steps: int = 200, lr: float = 0.1, at: int = 50) -> Erratum:
    """Adam on ½(θ − 1)² from θ = 0, α = 0.1: the chapter's M̂ = M/(1−β₂ᵗ) beside Kingma & Ba's
    M/(1−β₁ᵗ) (both with the chapter's ε inside the root, so only the slip differs)."""
    grad = quadratic_grad(1.0, 1.0)
    written = adam(grad, 0.0, lr, steps, second_moment_in_m=True)
    paper = adam(grad, 0.0, lr, steps)
    first = abs(written[1] - written[0]) / abs(paper[1] - paper[0])
    err_w, err_p = np.abs(written - 1.0), np.abs(paper - 1.0)
    numbers = {"first_step_ratio": first, "first_step_ratio_formula": (1 - BETAS[0]) / (1 - BETAS[1]),
               "largest_error_written": float(err_w.max()), "largest_error_paper": float(err_p.max()),
               "error_at_written": float(err_w[at]), "error_at_paper": float(err_p[at]), "at": at,
               "lr": lr, "steps": steps}
    return Erratum(
        "adam_bias_correction", "§7.2.4 Adam", "M̂_t = M_t / (1 − β₂ᵗ)", "m̂_t = m_t / (1 − β₁ᵗ)",
        "Kingma & Ba 2015, Algorithm 1",
        f"as written the first step is {first:.0f}× the paper's ((1−β₁)/(1−β₂)), and still ≈ 10× at t = 100: on "
        f"½(θ−1)² from 0 with α = {lr:g}, θ lands {err_w.max():.2g} from the optimum (paper: never farther than the "
        f"start, {err_p.max():.2g}) and after {at} steps is {err_w[at]:.2g} from it (paper {err_p[at]:.2g})",
        numbers, {"as written": err_w, "Kingma & Ba": err_p}, True)


def adadelta_accumulator(steps: int = 300, shift: float = 100.0) -> Erratum:
    """Adadelta on ½(θ − 1)² from θ = 0, and on the same problem shifted by `shift` (½(θ − 1 − shift)²
    from θ = shift): Zeiler's rule gives the same distances to the optimum in both, the chapter's
    (squared parameters accumulated) does not."""
    runs = {}
    for rule, accumulate_theta in (("as written", True), ("Zeiler", False)):
        for where, c in (("at 0", 0.0), (f"shifted by {shift:g}", shift)):
            runs[f"{rule}, {where}"] = np.abs(adadelta(quadratic_grad(1.0, 1.0 + c), c, steps,
                                                       accumulate_theta=accumulate_theta) - (1.0 + c))
    w0, ws = runs["as written, at 0"], runs[f"as written, shifted by {shift:g}"]
    p0, ps = runs["Zeiler, at 0"], runs[f"Zeiler, shifted by {shift:g}"]
    numbers = {"final_error": {k: float(v[-1]) for k, v in runs.items()},
               "shift_effect_written": float(np.abs(w0 - ws).max()), "shift_effect_paper": float(np.abs(p0 - ps).max()),
               "steps": steps, "shift": shift}
    return Erratum(
        "adadelta_accumulator", "§7.2.3 AdaDelta", "ΔX²_{t−1} = β₁ΔX²_{t−2} + (1 − β₁) θ_{t−1} ⊙ θ_{t−1}",
        "E[Δx²]_t = ρE[Δx²]_{t−1} + (1 − ρ) Δx_t ⊙ Δx_t", "Zeiler 2012, Algorithm 1",
        f"as written the step scales with |θ|: the same problem moved by {shift:g} ends {ws[-1]:.3g} from its optimum "
        f"instead of {w0[-1]:.3g} after {steps} steps (largest difference {numbers['shift_effect_written']:.3g}); "
        f"Zeiler's rule does not notice the shift (difference {numbers['shift_effect_paper']:.1g})",
        numbers, runs, True)


def epsilon_placement(steps: int = 300, scale: float = 1e-6) -> Erratum:
    """Adam (correct bias correction) on ½·s(θ − 1)² from θ = 0, α = 0.01, for s = 1 and s = `scale`,
    with ε = 1e-8 inside the root (the chapter) and outside (Kingma & Ba, torch)."""
    runs = {}
    for rule, inside in (("ε inside √", True), ("ε outside √", False)):
        for s in (1.0, scale):
            runs[f"{rule}, loss × {s:g}"] = np.abs(adam(quadratic_grad(s, 1.0), 0.0, 0.01, steps, eps_inside=inside) - 1.0)
    inside_small, outside_small = runs[f"ε inside √, loss × {scale:g}"], runs[f"ε outside √, loss × {scale:g}"]
    numbers = {"final_error": {k: float(v[-1]) for k, v in runs.items()},
               "first_step_inside_small": float(1 - inside_small[1]), "first_step_outside_small": float(1 - outside_small[1]),
               "first_step_inside_small_formula": 0.01 * scale / math.sqrt(scale ** 2 + ADAM_EPS),
               "scale": scale, "steps": steps}
    return Erratum(
        "epsilon_placement", "§7.2.3–7.2.4 AdaGrad, RMSprop, Adam", "Δθ_t = −α / √(G_t + ε) ⊙ g_t",
        "Δθ_t = −α g_t / (√G_t + ε)", "Duchi et al. 2011; Kingma & Ba 2015, Algorithm 1",
        f"inside the root ε = 1e-8 floors the gradient's RMS at 1e-4: with the loss scaled by {scale:g} the first "
        f"step is {numbers['first_step_inside_small']:.2g} instead of {numbers['first_step_outside_small']:.2g}, and "
        f"after {steps} steps |θ − θ*| = {inside_small[-1]:.3g} (outside: {outside_small[-1]:.3g}; "
        f"unscaled, both {runs['ε inside √, loss × 1'][-1]:.2g})",
        numbers, runs, True)


def label_smoothing_convention(k: int = 10, eps: float = 0.1) -> Erratum:
    """The two conventions' targets for K classes and smoothing ε, and the chapter's ε that gives the paper's."""
    book, paper = smoothed_targets(k, eps, "book"), smoothed_targets(k, eps, "paper")
    numbers = {"book": book, "paper": paper, "k": k, "eps": eps, "equivalent_book_eps": eps * (k - 1) / k}
    return Erratum(
        "label_smoothing_convention", "§7.7.6 label smoothing", "ỹ = [ε/(K−1), …, 1 − ε, …, ε/(K−1)]",
        "q′ = (1 − ε)·onehot + ε/K", "Szegedy et al. 2016 §7",
        f"a convention, not an error: ε = {eps:g}, K = {k} gives {book[0]:.3g} / {book[1]:.3g} (chapter) vs "
        f"{paper[0]:.3g} / {paper[1]:.3g} (paper, torch); the chapter's ε = {numbers['equivalent_book_eps']:g} gives "
        f"the paper's targets", numbers, {}, False)


def all_errata() -> list[Erratum]:
    return [adam_bias_correction(), adadelta_accumulator(), epsilon_placement(), label_smoothing_convention()]
