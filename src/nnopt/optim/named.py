"""The chapter's optimizers: one registration each (see `nnopt.optim.define`).

Hyperparameter names and defaults are torch.optim's for the same algorithm, so switching from
torch.optim is a change of import. Every entry also takes the options of
`nnopt.optim.define.OPTIONS` (no_decay_1d, nonfinite, fused, compile, foreach, maximize, ...).
"""
from __future__ import annotations

import torch

from ..params import Param
from ..torch_names import TorchName
from . import native
from .define import LR, WEIGHT_DECAY, register
from .transforms import (add_l2, book_nesterov, chain, decoupled_weight_decay, scale_by_adadelta,
                         scale_by_adam, scale_by_lr, scale_by_rms, scale_by_sum_sq, trace)

EPS_INSIDE = Param(bool, False, doc="book form u/√(v + ε) instead of torch's u/(√v + ε)")
FORM = Param(str, "torch", choices=("torch", "book"),
             doc="torch: b ← ρb + g, θ ← θ − αb; book: Δθ ← ρΔθ − αg (differ when α changes)")
MOMENTUM = Param(float, 0.9, ge=0, lt=1, doc="ρ: momentum coefficient (< 1, or the velocity never decays)")
DAMPENING = Param(float, 0.0, ge=0, le=1, doc="d: the buffer adds (1 − d)·g")


def _check_nesterov(values: dict) -> None:
    if values.get("nesterov") and (values["momentum"] <= 0 or values["dampening"] != 0):
        raise ValueError(f"nesterov needs momentum > 0 and dampening = 0 (got momentum = "
                         f"{values['momentum']!r}, dampening = {values['dampening']!r})")


def _sgd_chain(h):
    l2 = add_l2(h.weight_decay)
    if not h.momentum:
        return chain(l2, scale_by_lr())
    if h.form == "book":
        velocity = book_nesterov(h.momentum) if h.nesterov else trace(h.momentum, h.dampening)
        return chain(l2, scale_by_lr(), velocity)
    return chain(l2, trace(h.momentum, h.dampening, h.nesterov), scale_by_lr())


SGD_HYPER = {"lr": LR(1e-3), "momentum": MOMENTUM, "dampening": DAMPENING, "weight_decay": WEIGHT_DECAY,
             "form": FORM}


@register("sgd", torch_class=torch.optim.SGD, kernel=native.sgd_kernel, check=_check_nesterov, hyper={
    **SGD_HYPER, "momentum": Param(float, 0.0, ge=0, lt=1, doc="ρ: momentum coefficient"),
    "nesterov": Param(bool, False, doc="Nesterov momentum (needs momentum > 0, dampening = 0)")})
def sgd(h):
    """Mini-batch SGD: θ ← θ − α·g (torch.optim.SGD; momentum/nesterov as in torch)."""
    return _sgd_chain(h)


@register("momentum", torch_class=torch.optim.SGD, kernel=native.sgd_kernel, hyper=SGD_HYPER,
          fixed={"nesterov": False}, torch_names={
              "nesterov": TorchName("name = 'nesterov'", note="Nesterov momentum is an optimizer of its own")})
def momentum(h):
    """SGD with momentum: b ← ρb + g; θ ← θ − αb (torch); form="book": v ← ρv − αg; θ ← θ + v."""
    return _sgd_chain(h)


@register("nesterov", torch_class=torch.optim.SGD, kernel=native.sgd_kernel, fixed={"nesterov": True, "dampening": 0.0},
          torch_names={"nesterov": TorchName("nothing", note="this optimizer is Nesterov momentum; drop the key"),
                       "dampening": TorchName("nothing", note="torch's Nesterov needs dampening = 0, which this "
                                              "optimizer fixes")},
          hyper={"lr": LR(1e-3), "momentum": Param(float, 0.9, gt=0, lt=1, doc="ρ: momentum coefficient (0 < ρ < 1)"),
                 "weight_decay": WEIGHT_DECAY,
                 "form": Param(str, "torch", choices=("torch", "book"),
                               doc="torch: b ← ρb + g, θ ← θ − α(g + ρb); book: gradient at θ + ρv, "
                                   "params hold θ + ρv")})
def nesterov(h):
    """Nesterov momentum: b ← ρb + g; θ ← θ − α(g + ρb) (torch); form="book": v ← ρv − α∇f(θ + ρv)."""
    return _sgd_chain(h)


@register("adagrad", torch_class=torch.optim.Adagrad, kernel=native.adagrad_kernel,
          structural=("initial_accumulator_value",), hyper={
              "lr": LR(1e-2), "lr_decay": Param(float, 0.0, ge=0, doc="α_t = α/(1 + (t−1)·lr_decay)"),
              "weight_decay": WEIGHT_DECAY, "initial_accumulator_value": Param(float, 0.0, ge=0),
              "eps": Param(float, 1e-10, gt=0), "eps_inside_sqrt": EPS_INSIDE})
def adagrad(h):
    """Adagrad: r ← r + g²; θ ← θ − α·g/(√r + ε) (torch.optim.Adagrad)."""
    return chain(add_l2(h.weight_decay), scale_by_sum_sq(h.eps, h.initial_accumulator_value, h.eps_inside_sqrt),
                 scale_by_lr(h.lr_decay))


@register("rmsprop", torch_class=torch.optim.RMSprop, kernel=native.rmsprop_kernel, hyper={
    "lr": LR(1e-2), "alpha": Param(float, 0.99, ge=0, lt=1, doc="β: decay of the squared-gradient average"),
    "eps": Param(float, 1e-8, gt=0), "weight_decay": WEIGHT_DECAY, "momentum": Param(float, 0.0, ge=0, lt=1),
    "centered": Param(bool, False, doc="divide by the centered √(r − m²) (m: mean gradient)"),
    "eps_inside_sqrt": EPS_INSIDE})
def rmsprop(h):
    """RMSprop: r ← βr + (1−β)g²; θ ← θ − α·g/(√r + ε) (torch.optim.RMSprop)."""
    velocity = (trace(h.momentum),) if h.momentum else ()
    return chain(add_l2(h.weight_decay), scale_by_rms(h.alpha, h.eps, h.centered, h.eps_inside_sqrt), *velocity,
                 scale_by_lr())


@register("adadelta", torch_class=torch.optim.Adadelta, hyper={
    "lr": LR(1.0), "rho": Param(float, 0.9, ge=0, lt=1, doc="ρ: decay of both running averages"),
    "eps": Param(float, 1e-6, gt=0), "weight_decay": WEIGHT_DECAY,
    "eps_inside_sqrt": Param(bool, True, doc="√(s + ε)/√(r + ε) (torch, paper); false: (√s + ε)/(√r + ε)")})
def adadelta(h):
    """Adadelta: r ← ρr + (1−ρ)g²; Δ = √(s+ε)/√(r+ε)·g; s ← ρs + (1−ρ)Δ²; θ ← θ − αΔ (torch)."""
    return chain(add_l2(h.weight_decay), scale_by_adadelta(h.rho, h.eps, h.eps_inside_sqrt), scale_by_lr())


ADAM = {"betas": Param(tuple, (0.9, 0.999), length=2, item=Param(float, ge=0, lt=1),
                       doc="(β₁, β₂): decays of the gradient mean and of its square"),
        "eps": Param(float, 1e-8, gt=0), "amsgrad": Param(bool, False, doc="use max over time of v (torch)"),
        "bias_correction": Param(bool, True, doc="m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)"),
        "eps_inside_sqrt": EPS_INSIDE}


def _adam_core(h):
    b1, b2 = h.betas
    return scale_by_adam(b1, b2, h.eps, h.amsgrad, h.bias_correction, h.eps_inside_sqrt)


@register("adam", torch_class=torch.optim.Adam, kernel=native.adam_kernel, torch_names={
    "decoupled_weight_decay": TorchName("name = 'adamw'", note="torch's Adam with decoupled_weight_decay = true is AdamW")},
          hyper={"lr": LR(1e-3), **ADAM, "weight_decay": WEIGHT_DECAY})
def adam(h):
    """Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − α·m̂/(√v̂ + ε) (torch.optim.Adam;
    weight_decay is L2 on the gradient)."""
    return chain(add_l2(h.weight_decay), _adam_core(h), scale_by_lr())


@register("adamw", torch_class=torch.optim.AdamW, kernel=native.adamw_kernel, hyper={
    "lr": LR(1e-3), **ADAM, "weight_decay": Param(float, 1e-2, ge=0, doc="λ: decoupled decay θ ← (1 − αλ)θ")})
def adamw(h):
    """AdamW: Adam without L2, plus θ ← (1 − αλ)θ (torch.optim.AdamW)."""
    return chain(_adam_core(h), scale_by_lr(), decoupled_weight_decay(h.weight_decay))


__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
