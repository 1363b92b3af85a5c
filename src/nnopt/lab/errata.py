"""The chapter's slips: where ch. 7 of Qiu Xipeng's "Neural Networks and Deep Learning" (nndl.github.io) writes
an update rule differently from the paper it cites, each run as written beside the paper's rule.

Every rule here is the formula itself, in float64, on a one-dimensional quadratic
f(θ) = ½·s·(θ − θ*)² (gradient g = s·(θ − θ*)), so that a run is a few hundred multiply-adds and a
test can check its first steps by hand. The paper's rules are checked against torch (tests/lab/test_lab_b.py:
torch.optim.Adam, torch.nn.utils.clip_grad_norm_), the chapter's as written against hand computations.

1. **ε inside the square root** (§7.2.3 AdaGrad, RMSprop; §7.2.4 Adam): Δθ_t = −α/√(G_t + ε) ⊙ g_t and
   Δθ_t = −α/√(Ĝ_t + ε) M̂_t. Duchi et al. 2011 and Kingma & Ba 2015 add ε outside: −α g/(√G + ε).
   Inside, ε acts as a floor √ε on the gradient's RMS (1e-4 for ε = 1e-8), so gradients of that size or
   smaller take steps shrunk by |g|/√ε: the paper's Adam is (nearly) invariant to scaling the loss, the
   chapter's is not.
2. **Gradient clipping by norm** (§7.2.4): "if ‖g_t‖² ≤ b keep g_t; if ‖g_t‖² > b, g_t = b/‖g_t‖ · g_t" — the
   test squares the norm, the rescaling does not. Pascanu et al. 2013, Alg. 1: if ‖ĝ‖ ≥ threshold,
   ĝ ← threshold/‖ĝ‖ · ĝ. As written, with b > 1 a gradient of norm between √b and b is *enlarged* to norm
   b; with b < 1 one of norm up to √b passes unclipped.
3. **Label smoothing's convention** (§7.7.6): the chapter's target is 1 − ε on the true class and
   ε/(K−1) on each other; Szegedy et al. 2016 (and torch's ``label_smoothing``) use
   (1 − ε)·onehot + ε/K. Not an error — the chapter's ε equals the paper's ε·(K−1)/K — but the same
   ε means different targets (0.9 vs 0.91 for ε = 0.1, K = 10).

Checked and agreeing with their papers (the first pass listed the first two as slips, quoted from memory):
Adam's bias correction M̂_t = M_t/(1−β₁ᵗ), Ĝ_t = G_t/(1−β₂ᵗ) (Kingma & Ba, Alg. 1); AdaDelta's
ΔX²_{t−1} = β₁ΔX²_{t−2} + (1−β₁)Δθ_{t−1}⊙Δθ_{t−1}, the squared *updates* (Zeiler 2012, Alg. 1); momentum,
Nesterov's look-ahead gradient, the decay schedules, gradual warmup, the triangular cyclic rate, SGDR.
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


def adam(grad: Callable[[float], float], theta0: float, lr: float, steps: int, *, eps_inside: bool = True,
         betas: tuple[float, float] = BETAS, eps: float = ADAM_EPS) -> np.ndarray:
    """θ_0..θ_steps of Adam on a scalar: m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (Kingma & Ba, and the chapter); the step
    −α m̂/√(v̂ + ε) with `eps_inside` (the chapter), else −α m̂/(√v̂ + ε) (the paper, torch)."""
    b1, b2 = betas
    theta, m, v, out = theta0, 0.0, 0.0, [theta0]
    for t in range(1, steps + 1):
        g = grad(theta)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        theta -= lr * m_hat / (math.sqrt(v_hat + eps) if eps_inside else math.sqrt(v_hat) + eps)
        out.append(theta)
    return np.array(out)


def clip_by_norm(g: float, bound: float, *, squared_test: bool = False) -> float:
    """g rescaled to norm `bound` when its norm exceeds it: |g| > b (Pascanu et al. 2013), or, with
    `squared_test` (the chapter as written), when |g|² > b — rescaled to b/|g|·g either way."""
    return bound / abs(g) * g if (g * g if squared_test else abs(g)) > bound else g


def clipped_gd(grad: Callable[[float], float], theta0: float, lr: float, bound: float, steps: int, *,
               squared_test: bool = False) -> np.ndarray:
    """θ_0..θ_steps of gradient descent θ ← θ − α·clip(g) with `clip_by_norm`."""
    theta, out = theta0, [theta0]
    for _ in range(steps):
        theta -= lr * clip_by_norm(grad(theta), bound, squared_test=squared_test)
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
    compare: tuple[str, ...] = ()  # the labels of `series` run as written and as in the paper (a run's erratum)


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
        numbers, runs, True, (f"ε inside √, loss × {scale:g}", f"ε outside √, loss × {scale:g}"))


def norm_clipping(lr: float = 0.8, bound: float = 9.0, theta0: float = 4.0, steps: int = 40) -> Erratum:
    """Gradient descent with clipping by norm on ½θ² from θ = `theta0`, α = `lr`, bound b = `bound`: Pascanu et
    al.'s rule leaves |g| = 4 < 9 alone and GD contracts by 1 − α = 0.2 a step; the chapter's squared test
    (16 > 9) rescales it *up* to 9, a step of α·9 = 7.2 — θ jumps to −3.2, whose gradient (10.24 > 9) is
    enlarged again, and GD bounces between θ₀ and θ₀ − αb for good (any start with |θ₀| and |θ₀ − αb| in
    (√b, b))."""
    grad = quadratic_grad(1.0, 0.0)
    written = np.abs(clipped_gd(grad, theta0, lr, bound, steps, squared_test=True))
    paper = np.abs(clipped_gd(grad, theta0, lr, bound, steps))
    small = 0.25
    numbers = {"final_written": float(written[-1]), "final_paper": float(paper[-1]),
               "first_clipped_norm_written": abs(clip_by_norm(theta0, bound, squared_test=True)),
               "first_clipped_norm_paper": abs(clip_by_norm(theta0, bound)), "lr": lr, "bound": bound,
               "theta0": theta0, "steps": steps, "small_bound": small,
               "passes_unclipped_written": abs(clip_by_norm(0.4, small, squared_test=True)),
               "passes_unclipped_paper": abs(clip_by_norm(0.4, small))}
    return Erratum(
        "norm_clipping", "§7.2.4 gradient clipping by norm", "if ‖g_t‖² > b: g_t = b/‖g_t‖ · g_t",
        "if ‖g‖ ≥ b: g = b/‖g‖ · g", "Pascanu et al. 2013, Algorithm 1",
        f"the squared test against an unsquared rescaling: with b = {bound:g} a gradient of norm {theta0:g} is "
        f"enlarged to {numbers['first_clipped_norm_written']:g}, and GD on ½θ² from {theta0:g} (α = {lr:g}) bounces "
        f"between {theta0:g} and {theta0 - lr * bound:.2g} for good (paper: |θ| = {paper[-1]:.1g} after {steps} steps); with b = {small:g} a "
        f"gradient of norm 0.4 passes unclipped (0.4² ≤ {small:g})", numbers, {"as written": written,
                                                                           "Pascanu et al.": paper},
        True, ("as written", "Pascanu et al."))


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
    return [epsilon_placement(), norm_clipping(), label_smoothing_convention()]
