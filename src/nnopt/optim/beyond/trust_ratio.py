"""Layer-wise trust ratios for very large batches: each tensor's step is rescaled by ‖θ‖ over the
norm of its update, so no layer moves by more than a set fraction of its weights.

* LARS: You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional Networks".
* LAMB: You et al. 2020, "Large Batch Optimization for Deep Learning: Training BERT in 76
  minutes" (Algorithm 2).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...params import Param
from ..define import LR, register
from ..named import ADAM
from ..transforms import Ref, axpy, chain, materialize, plus, scale_by_adam, scale_by_lr, trace


def _divisors(numerator, denominator, where):
    """The trust ratio numerator/denominator per tensor as its reciprocal, a 0-d divisor
    denominator/numerator (1 where `where` is false; no host sync). Left pending in
    ``ctx.divisor``, it is applied in the pass that next reads u (the momentum's addcdiv, or the
    final θ ← θ + s·u/d) instead of a pass of its own."""
    return list(torch.where(where, denominator / numerator, 1.0).unbind())


@dataclass(frozen=True)
class scale_by_lars:
    """LARS for tensors of ≥ 2 dims: u ← η‖θ‖/(‖u‖ + λ‖θ‖)·(u + λθ) (ratio 1 where ‖θ‖ or the
    denominator is 0); vectors (biases, norm weights) pass unchanged, without decay
    (pytorch-optimizer's LARS). Chain ``trace`` and ``scale_by_lr`` after it."""

    tensorwise = True
    pending = True

    trust_coefficient: float | Ref = 1e-3
    weight_decay: float | Ref = 0.0
    slots = ()

    def init(self, params):
        return {}

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        picked = [i for i, p in enumerate(ctx.params) if p.ndim > 1]
        if not picked:
            return updates
        params = [ctx.params[i] for i in picked]
        theta = torch.stack(torch._foreach_norm(params))
        grad = torch.stack(torch._foreach_norm([updates[i] for i in picked]))
        wd = ctx.value(self.weight_decay)
        denominator = grad + wd * theta
        divisors = _divisors(ctx.value(self.trust_coefficient) * theta, denominator,
                             (theta > 0) & (denominator > 0))
        out = list(updates)
        if self.weight_decay:
            for i, s in zip(picked, plus([updates[i] for i in picked], params, wd)):
                out[i] = s
            ctx.owned = ctx.owned or len(picked) == len(updates)
        ctx.divisor = [theta.new_ones(())] * len(updates)
        for i, d in zip(picked, divisors):
            ctx.divisor[i] = d
        return out


@dataclass(frozen=True)
class scale_by_lamb_trust_ratio:
    """LAMB's layer adaptation: u ← u + λθ; u ← φ(‖θ‖)/(‖u‖ + ε)·u with φ(x) = min(x, clamp)
    (ratio 1 where ‖θ‖ or ‖u‖ is 0). Chain after ``scale_by_adam``, then ``scale_by_lr``."""

    tensorwise = True
    pending = True

    weight_decay: float | Ref = 0.0
    eps: float | Ref = 1e-6
    clamp: float | Ref = 10.0
    slots = ()

    def init(self, params):
        return {}

    def update(self, updates, state, ctx):
        # Adam's pending factors are applied first (no algebra on them); the trust ratio itself is
        # left pending, a 0-d divisor per tensor
        updates = materialize(updates, ctx)
        if self.weight_decay:
            wd = ctx.value(self.weight_decay)
            if ctx.owned:
                axpy(updates, ctx.params, wd)
            else:
                updates, ctx.owned = plus(updates, ctx.params, wd), True
        theta = torch.stack(torch._foreach_norm(ctx.params))
        norm = torch.stack(torch._foreach_norm(updates))
        ctx.divisor = _divisors(torch.clamp(theta, max=ctx.value(self.clamp)), norm + ctx.value(self.eps),
                                (theta > 0) & (norm > 0))
        return updates


def _check_lars(values: dict) -> None:
    if values["nesterov"] and values["momentum"] <= 0:
        raise ValueError(f"nesterov needs momentum > 0 (got momentum = {values['momentum']!r})")


@register("lars", check=_check_lars, hyper={
    "lr": LR(1e-1), "momentum": Param(float, 0.9, ge=0, lt=1, doc="ρ: momentum coefficient"),
    "trust_coefficient": Param(float, 1e-3, gt=0, doc="η: at most η‖θ‖ per step and unit lr"),
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: u ← ratio·(g + λθ), matrices and filters only"),
    "nesterov": Param(bool, False, doc="Nesterov momentum on the scaled gradient")})
def lars(h):
    """LARS: per tensor of ≥ 2 dims g ← η‖θ‖/(‖g‖ + λ‖θ‖)·(g + λθ); b ← ρb + g; θ ← θ − αb
    (You et al. 2017; pytorch-optimizer's LARS). For batch sizes where SGD's lr cannot grow."""
    momentum = (trace(h.momentum, 0.0, h.nesterov),) if h.momentum else ()
    return chain(scale_by_lars(h.trust_coefficient, h.weight_decay), *momentum, scale_by_lr())


@register("lamb", hyper={
    "lr": LR(1e-3), "betas": ADAM["betas"], "eps": Param(float, 1e-6, gt=0),
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: added to the Adam direction, inside the trust ratio"),
    "bias_correction": Param(bool, True, doc="m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (the paper); false: its v3"),
    "clamp": Param(float, 10.0, gt=0, doc="φ(‖θ‖) = min(‖θ‖, clamp)")})
def lamb(h):
    """LAMB: r = m̂/(√v̂ + ε) + λθ; θ ← θ − α·min(‖θ‖, clamp)/(‖r‖ + ε)·r per tensor (You et al.
    2020, Algorithm 2; pytorch-optimizer's Lamb with weight_decouple=False). Adam for large batches."""
    b1, b2 = h.betas
    return chain(scale_by_adam(b1, b2, h.eps, bias_correction=h.bias_correction),
                 scale_by_lamb_trust_ratio(h.weight_decay, h.eps, h.clamp), scale_by_lr())


__all__ = ["scale_by_lars", "scale_by_lamb_trust_ratio", "lars", "lamb"]
