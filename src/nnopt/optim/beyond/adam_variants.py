"""Three relatives of Adam as transforms: Nesterov's look-ahead (NAdam), the rectified variance
(RAdam) and the ∞-norm (Adamax). Each keeps torch.optim's state names and conventions.

* ``scale_by_nadam``: Dozat 2016, "Incorporating Nesterov Momentum into Adam", with torch's
  momentum schedule μ_t = β₁(1 − ½·0.96^{tψ}).
* ``scale_by_radam``: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond".
* ``scale_by_adamax``: Kingma & Ba 2015, "Adam", §7.1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy
import torch
from torch import Tensor
from torch.utils.weak import WeakIdKeyDictionary

from ...params import Param
from ..define import LR, WEIGHT_DECAY, register
from ..named import ADAM
from ..transforms import (Number, Ref, Scratch, _debiased_denominator, _divide, _rsqrt_denominator, _zeros,
                          add_l2, addcmul, chain, decoupled_weight_decay, lerp, materialize, plus, scale_by_lr)


def _moments(updates, state, ctx, b1, b2):
    """m ← β₁m + (1−β₁)u; v ← β₂v + (1−β₂)u² (torch's ops)."""
    m, v = state["exp_avg"], state["exp_avg_sq"]
    lerp(m, updates, 1 - ctx.value(b1))
    b2 = ctx.value(b2)
    torch._foreach_mul_(v, b2)
    addcmul(v, updates, updates, 1 - b2)
    return m, v


class _HostMirror:
    """What the host knows of 0-d tensors: the step each was last advanced at and, for CPU
    tensors advanced by plain numbers, its value — valid while the tensor's version counter is the
    one recorded (any other in-place write — a loaded state, the compiled path, a restore — bumps
    it). A value not known is read once."""

    def __init__(self):
        self._entries = WeakIdKeyDictionary()

    def record(self, tensors: list[Tensor], step: int, value: float | None) -> None:
        for t in tensors:
            self._entries[t] = (t._version, step, value)

    def advanced(self, t: Tensor, step: int) -> bool:
        entry = self._entries.get(t)
        return entry is not None and entry[:2] == (t._version, step)

    def value(self, t: Tensor) -> float:
        version, _, value = self._entries.get(t, (None, 0, None))
        return value if version == t._version and value is not None else t.item()


def _times(product: float, mu: float, dtype: torch.dtype) -> float:
    """Π·μ as a 0-d tensor of `dtype` computes it in place (float32: μ rounded to float32, the
    product rounded to float32), so the host mirror of Π_t holds the tensor's value bit for bit."""
    return float(numpy.float32(product) * numpy.float32(mu)) if dtype == torch.float32 else product * mu


@dataclass(frozen=True)
class scale_by_nadam:
    """NAdam: m and v as in Adam, μ_t = β₁(1 − ½·0.96^{tψ}), Π_t = μ₁⋯μ_t;
    u ← [(1−μ_t)/(1−Π_t)·u + μ_{t+1}/(1−Π_tμ_{t+1})·m] / (√(v/(1−β₂ᵗ)) + ε) (torch.optim.NAdam).

    Π_t is kept per parameter as a 0-d tensor of torch's scalar dtype (``mu_product``: float32,
    float64 under a float64 default dtype, as torch), and every parameter of
    one update has the same Π_t (they share the step and the β₁ history). Elementwise: on the CPU
    a large tensor is cut into pieces that each bring the same Π_t tensor (see `blocks`), which is
    advanced once per step (`_HostMirror` notes which were). There a host mirror of Π_t also turns
    the two factors into plain numbers without reading the tensor; elsewhere (CUDA, compiled:
    values are tensors) they are 0-d tensors computed on the device. Either way the step reads
    nothing from the device."""

    elementwise = True
    pending = True

    b1: float | Ref = 0.9
    b2: float | Ref = 0.999
    eps: float | Ref = 1e-8
    momentum_decay: float | Ref = 4e-3
    slots = ("exp_avg", "exp_avg_sq", "mu_product")
    mirror: _HostMirror = field(default_factory=_HostMirror, init=False, compare=False, repr=False)

    @property
    def powers(self):
        return (self.b2,)

    def init(self, params):
        state = _zeros(params, "exp_avg", "exp_avg_sq")
        dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32  # torch's
        state["mu_product"] = [torch.ones((), dtype=dtype, device=p.device) for p in params]
        self.mirror.record(state["mu_product"], 0, 1.0)
        return state

    def _advance(self, products: list[Tensor], mu, step) -> Number:
        """Π_t ← Π_{t−1}·μ_t in each tensor not yet advanced at this step; Π_t (a number on the
        eager CPU path, else a 0-d tensor)."""
        if isinstance(step, Tensor) or products[0].device.type != "cpu":
            torch._foreach_mul_(products, mu)  # compiled or off the CPU: never cut, each tensor once
            return products[0]
        todo = list({id(t): t for t in products if not self.mirror.advanced(t, step)}.values())
        if isinstance(mu, Tensor):  # a β₁ or ψ given as a tensor
            if todo:
                torch._foreach_mul_(todo, mu)
                self.mirror.record(todo, step, None)
            return products[0]
        if not todo:
            return self.mirror.value(products[0])
        product = _times(self.mirror.value(todo[0]), mu, todo[0].dtype)
        torch._foreach_mul_(todo, mu)
        self.mirror.record(todo, step, product)
        return product

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        m, v = _moments(updates, state, ctx, self.b1, self.b2)
        b1, psi = ctx.value(self.b1), ctx.value(self.momentum_decay)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (ctx.step * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((ctx.step + 1) * psi))
        product = self._advance(state["mu_product"], mu, ctx.step)
        grad_factor = (1.0 - mu) / (1.0 - product)
        momentum_factor = mu_next / (1.0 - product * mu_next)
        # f₁u + f₂m = f₁(u + (f₂/f₁)m), made in one pass (f₁ > 0 as μ_t < 1), f₁ left pending
        out = plus(updates, m, momentum_factor / grad_factor)
        denom, root = _debiased_denominator(v, ctx.value(self.eps), 1 - ctx.power(self.b2))
        ctx.owned, ctx.scale = True, grad_factor * root
        return _divide(out, denom, ctx, scratch=True)


def _rectifier(rho_t, rho_inf):
    """RAdam's r_t = √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)) (a number or a 0-d tensor)."""
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


@dataclass(frozen=True)
class scale_by_radam:
    """RAdam: m, v as in Adam; ρ∞ = 2/(1−β₂) − 1, ρ_t = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ). While ρ_t ≤ 5 the
    variance of the adaptive step is not defined: u ← m̂ (momentum SGD). After, u ← r_t·m̂/√v̂
    with r_t = √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)), written as torch does:
    r_t·m̂·√(1−β₂ᵗ)/(√v + ε) (torch.optim.RAdam). Branch-free when t is a tensor (compiled)."""

    elementwise = True
    pending = True

    b1: float | Ref = 0.9
    b2: float | Ref = 0.999
    eps: float | Ref = 1e-8
    slots = ("exp_avg", "exp_avg_sq")

    @property
    def powers(self):
        return (self.b1, self.b2)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        m, v = _moments(updates, state, ctx, self.b1, self.b2)
        bc1, bc2 = 1 - ctx.power(self.b1), 1 - ctx.power(self.b2)
        rho_inf = 2 / (1 - ctx.value(self.b2)) - 1
        rho_t = rho_inf - 2 * ctx.step * ctx.power(self.b2) / bc2
        if isinstance(rho_t, Tensor):
            ok = rho_t > 5.0
            safe = torch.where(ok, rho_t, 5.0)
            rect = torch.where(ok, _rectifier(safe, rho_inf), 0.0)
            out = torch._foreach_reciprocal(_rsqrt_denominator(v, ctx.value(self.eps), False))
            torch._foreach_mul_(out, rect * bc2 ** 0.5)
            # 1 where not rectified (as a list: torch.compile breaks the graph on a 0-d tensor made
            # inside handed to _foreach_add_ as one scalar)
            torch._foreach_add_(out, [(~ok).to(rect.dtype)] * len(out))
            torch._foreach_mul_(out, m)
            ctx.owned, ctx.scale = True, 1 / bc1
            return out
        ctx.owned = False
        if rho_t <= 5.0:
            ctx.scale = 1 / bc1
            return m
        ctx.scale = _rectifier(rho_t, rho_inf) * bc2 ** 0.5 / bc1
        return _divide(m, _rsqrt_denominator(v, ctx.value(self.eps), False), ctx, scratch=True)


@dataclass(frozen=True)
class scale_by_adamax:
    """Adamax: m ← β₁m + (1−β₁)u; w ← max(β₂w, |u| + ε); u ← m/((1−β₁ᵗ)·w) (torch.optim.Adamax,
    ε inside the max as torch)."""

    elementwise = True
    pending = True

    b1: float | Ref = 0.9
    b2: float | Ref = 0.999
    eps: float | Ref = 1e-8
    slots = ("exp_avg", "exp_inf")
    scratch: Scratch = field(default_factory=Scratch, init=False, compare=False, repr=False)

    @property
    def powers(self):
        return (self.b1,)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        m, w = state["exp_avg"], state["exp_inf"]
        lerp(m, updates, 1 - ctx.value(self.b1))
        torch._foreach_mul_(w, ctx.value(self.b2))
        if updates[0].device.type == "cpu" and not isinstance(ctx.step, Tensor):
            # |u| into a kept buffer (`Scratch`): one abs per tensor where there are few (a cache
            # block's pieces), a copy and an in-place abs over all where there are many
            bound = self.scratch.like(updates)
            if len(updates) <= 16:
                for u, b in zip(updates, bound):
                    torch.abs(u, out=b)
            else:
                torch._foreach_copy_(bound, updates)
                torch._foreach_abs_(bound)
        else:
            bound = torch._foreach_abs(updates)
        torch._foreach_add_(bound, ctx.value(self.eps))
        torch._foreach_maximum_(w, bound)
        ctx.owned = False
        ctx.scale = 1 / (1 - ctx.power(self.b1))
        return _divide(m, w, ctx)


# -- registrations -------------------------------------------------------------------------------
DECOUPLED = Param(bool, False, doc="weight decay as θ ← (1 − αλ)θ (AdamW-style) instead of L2 on the gradient")
EPS = Param(float, 1e-8, gt=0)


def _around(h, core):
    """``core`` with torch's two weight decays: L2 on the gradient before it, or θ ← (1 − αλ)θ."""
    if h.decoupled_weight_decay:
        return chain(core, scale_by_lr(), decoupled_weight_decay(h.weight_decay))
    return chain(add_l2(h.weight_decay), core, scale_by_lr())


@register("nadam", torch_class=torch.optim.NAdam, hyper={
    "lr": LR(2e-3), "betas": ADAM["betas"], "eps": EPS, "weight_decay": WEIGHT_DECAY,
    "momentum_decay": Param(float, 4e-3, ge=0, doc="ψ in μ_t = β₁(1 − ½·0.96^{tψ})"),
    "decoupled_weight_decay": DECOUPLED})
def nadam(h):
    """NAdam: Adam with a Nesterov look-ahead on the first moment, θ ← θ − α[(1−μ_t)/(1−Π_t)·g +
    μ_{t+1}/(1−Π_{t+1})·m]/(√v̂ + ε) (Dozat 2016; torch.optim.NAdam)."""
    return _around(h, scale_by_nadam(*h.betas, h.eps, h.momentum_decay))


@register("radam", torch_class=torch.optim.RAdam, hyper={
    "lr": LR(1e-3), "betas": ADAM["betas"], "eps": EPS, "weight_decay": WEIGHT_DECAY,
    "decoupled_weight_decay": DECOUPLED})
def radam(h):
    """RAdam: Adam whose adaptive step is switched on only once the variance of √v̂ is defined
    (ρ_t > 5) and then rectified by r_t — a warmup without a warmup schedule (Liu et al. 2020;
    torch.optim.RAdam)."""
    return _around(h, scale_by_radam(*h.betas, h.eps))


@register("adamax", torch_class=torch.optim.Adamax, hyper={
    "lr": LR(2e-3), "betas": ADAM["betas"], "eps": EPS, "weight_decay": WEIGHT_DECAY})
def adamax(h):
    """Adamax: Adam with the ∞-norm, w ← max(β₂w, |g| + ε); θ ← θ − α/(1−β₁ᵗ)·m/w
    (Kingma & Ba 2015 §7.1; torch.optim.Adamax)."""
    return chain(add_l2(h.weight_decay), scale_by_adamax(*h.betas, h.eps), scale_by_lr())


__all__ = ["scale_by_nadam", "scale_by_radam", "scale_by_adamax", "nadam", "radam", "adamax"]
