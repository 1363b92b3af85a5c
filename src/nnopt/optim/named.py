"""The chapter's optimizers as short chains, registered by name with validated hyperparameters.

Hyperparameter names and defaults are torch.optim's for the same algorithm, so switching from
torch.optim is a change of import. Every entry also takes:
  no_decay_1d  when weight_decay > 0, put 1-D parameters (biases, norm weights) in a group with no
               weight decay (timm's default); false decays every parameter, as torch does
  nonfinite    "raise" | "skip" | "ignore" for a NaN/inf gradient (see ChainOptimizer)
  fused        None | true | false: torch's fused kernel or the compiled update (see nnopt.optim.fused)
The chain builders of sgd/momentum/nesterov, adagrad, rmsprop, adam and adamw carry a ``native`` attribute:
torch's fused kernel for the same update when the group uses torch's form (see nnopt.optim.native).
"""
from __future__ import annotations

from ..params import Param
from ..registry import OPTIMIZERS
from . import native
from .groups import split_no_decay
from .nonfinite import NONFINITE
from .optimizer import ChainOptimizer
from .transforms import (add_l2, book_nesterov, chain, decoupled_weight_decay, scale_by_adadelta,
                         scale_by_adam, scale_by_lr, scale_by_rms, scale_by_sum_sq, trace)


def _lr(default: float) -> Param:
    return Param(float, default, ge=0, doc="learning rate α")


COMMON = {
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: L2 added to the gradient, g + λθ (torch)"),
    "no_decay_1d": Param(bool, True, doc="no weight decay for 1-D params (biases, norm weights)"),
    "nonfinite": Param(str, "raise", choices=NONFINITE, doc="on a NaN/inf gradient: raise, skip the step, ignore"),
    "fused": Param(bool, None, nullable=True,
                   doc="true: torch's fused kernel, else compiled; false: the transforms; none: automatic"),
}
EPS_INSIDE = Param(bool, False, doc="book form u/√(v + ε) instead of torch's u/(√v + ε)")
FORM = Param(str, "torch", choices=("torch", "book"),
             doc="torch: b ← ρb + g, θ ← θ − αb; book: Δθ ← ρΔθ − αg (differ when α changes)")


def _optimizer(params, build, *, lr, weight_decay, no_decay_1d, nonfinite, fused, **hyper):
    if weight_decay > 0 and no_decay_1d:
        params = split_no_decay(params, weight_decay)
    return ChainOptimizer(params, build, lr=lr, weight_decay=weight_decay, nonfinite=nonfinite,
                          fused=fused, **hyper)


def _sgd_chain(g: dict):
    l2, rho = add_l2(g["weight_decay"]), g["momentum"]
    if rho == 0:
        return chain(l2, scale_by_lr())
    if g["form"] == "book":
        velocity = book_nesterov(rho) if g["nesterov"] else trace(rho, g["dampening"])
        return chain(l2, scale_by_lr(), velocity)
    return chain(l2, trace(rho, g["dampening"], g["nesterov"]), scale_by_lr())


_sgd_chain.native = native.sgd_kernel


def _sgd_family(params, lr, momentum, dampening, weight_decay, nesterov, form, **common):
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"nesterov needs momentum > 0 and dampening = 0 (got momentum = {momentum!r}, "
                         f"dampening = {dampening!r})")
    return _optimizer(params, _sgd_chain, lr=lr, momentum=momentum, dampening=dampening,
                      weight_decay=weight_decay, nesterov=nesterov, form=form, **common)


MOMENTUM = Param(float, 0.9, ge=0, doc="ρ: momentum coefficient")
DAMPENING = Param(float, 0.0, ge=0, le=1, doc="d: the buffer adds (1 − d)·g")


@OPTIMIZERS.register("sgd", skip=1, params={"lr": _lr(1e-3), "momentum": Param(float, 0.0, ge=0),
                                            "dampening": DAMPENING, "form": FORM, **COMMON})
def sgd(params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, form="torch",
        no_decay_1d=True, nonfinite="raise", fused=None):
    """Mini-batch SGD: θ ← θ − α·g (torch.optim.SGD; momentum/nesterov as in torch)."""
    return _sgd_family(params, lr, momentum, dampening, weight_decay, nesterov, form,
                       no_decay_1d=no_decay_1d, nonfinite=nonfinite, fused=fused)


@OPTIMIZERS.register("momentum", skip=1, params={"lr": _lr(1e-3), "momentum": MOMENTUM,
                                                 "dampening": DAMPENING, "form": FORM, **COMMON})
def momentum(params, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, form="torch",
             no_decay_1d=True, nonfinite="raise", fused=None):
    """SGD with momentum: b ← ρb + g; θ ← θ − αb (torch); form="book": v ← ρv − αg; θ ← θ + v."""
    return _sgd_family(params, lr, momentum, dampening, weight_decay, False, form,
                       no_decay_1d=no_decay_1d, nonfinite=nonfinite, fused=fused)


@OPTIMIZERS.register("nesterov", skip=1, params={
    "lr": _lr(1e-3), "momentum": Param(float, 0.9, gt=0, doc="ρ: momentum coefficient (> 0)"),
    "form": Param(str, "torch", choices=("torch", "book"),
                  doc="torch: b ← ρb + g, θ ← θ − α(g + ρb); book: gradient at θ + ρv, params hold θ + ρv"),
    **COMMON})
def nesterov(params, lr=1e-3, momentum=0.9, weight_decay=0.0, form="torch",
             no_decay_1d=True, nonfinite="raise", fused=None):
    """Nesterov momentum: b ← ρb + g; θ ← θ − α(g + ρb) (torch); form="book": v ← ρv − α∇f(θ + ρv)."""
    return _sgd_family(params, lr, momentum, 0.0, weight_decay, True, form,
                       no_decay_1d=no_decay_1d, nonfinite=nonfinite, fused=fused)


def _adagrad_chain(g: dict):
    return chain(add_l2(g["weight_decay"]),
                 scale_by_sum_sq(g["eps"], g["initial_accumulator_value"], g["eps_inside_sqrt"]),
                 scale_by_lr(g["lr_decay"]))


_adagrad_chain.native = native.adagrad_kernel


@OPTIMIZERS.register("adagrad", skip=1, params={
    "lr": _lr(1e-2), "lr_decay": Param(float, 0.0, ge=0, doc="α_t = α/(1 + (t−1)·lr_decay)"),
    "initial_accumulator_value": Param(float, 0.0, ge=0), "eps": Param(float, 1e-10, gt=0),
    "eps_inside_sqrt": EPS_INSIDE, **COMMON})
def adagrad(params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
            eps_inside_sqrt=False, no_decay_1d=True, nonfinite="raise", fused=None):
    """Adagrad: r ← r + g²; θ ← θ − α·g/(√r + ε) (torch.optim.Adagrad)."""
    return _optimizer(params, _adagrad_chain, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                      eps_inside_sqrt=eps_inside_sqrt, no_decay_1d=no_decay_1d, nonfinite=nonfinite,
                      fused=fused)


def _rmsprop_chain(g: dict):
    rms = scale_by_rms(g["alpha"], g["eps"], g["centered"], g["eps_inside_sqrt"])
    velocity = (trace(g["momentum"]),) if g["momentum"] > 0 else ()
    return chain(add_l2(g["weight_decay"]), rms, *velocity, scale_by_lr())


_rmsprop_chain.native = native.rmsprop_kernel


@OPTIMIZERS.register("rmsprop", skip=1, params={
    "lr": _lr(1e-2), "alpha": Param(float, 0.99, ge=0, lt=1, doc="β: decay of the squared-gradient average"),
    "eps": Param(float, 1e-8, gt=0), "momentum": Param(float, 0.0, ge=0),
    "eps_inside_sqrt": EPS_INSIDE, **COMMON})
def rmsprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
            eps_inside_sqrt=False, no_decay_1d=True, nonfinite="raise", fused=None):
    """RMSprop: r ← βr + (1−β)g²; θ ← θ − α·g/(√r + ε) (torch.optim.RMSprop)."""
    return _optimizer(params, _rmsprop_chain, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                      momentum=momentum, centered=centered, eps_inside_sqrt=eps_inside_sqrt,
                      no_decay_1d=no_decay_1d, nonfinite=nonfinite, fused=fused)


def _adadelta_chain(g: dict):
    return chain(add_l2(g["weight_decay"]), scale_by_adadelta(g["rho"], g["eps"], g["eps_inside_sqrt"]),
                 scale_by_lr())


@OPTIMIZERS.register("adadelta", skip=1, params={
    "lr": _lr(1.0), "rho": Param(float, 0.9, ge=0, lt=1, doc="ρ: decay of both running averages"),
    "eps": Param(float, 1e-6, gt=0),
    "eps_inside_sqrt": Param(bool, True, doc="√(s + ε)/√(r + ε) (torch, paper); false: (√s + ε)/(√r + ε)"),
    **COMMON})
def adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, eps_inside_sqrt=True,
             no_decay_1d=True, nonfinite="raise", fused=None):
    """Adadelta: r ← ρr + (1−ρ)g²; Δ = √(s+ε)/√(r+ε)·g; s ← ρs + (1−ρ)Δ²; θ ← θ − αΔ (torch)."""
    return _optimizer(params, _adadelta_chain, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                      eps_inside_sqrt=eps_inside_sqrt, no_decay_1d=no_decay_1d, nonfinite=nonfinite,
                      fused=fused)


def _adam_core(g: dict):
    b1, b2 = g["betas"]
    return scale_by_adam(b1, b2, g["eps"], g["amsgrad"], g["bias_correction"], g["eps_inside_sqrt"])


def _adam_chain(g: dict):
    return chain(add_l2(g["weight_decay"]), _adam_core(g), scale_by_lr())


def _adamw_chain(g: dict):
    return chain(_adam_core(g), scale_by_lr(), decoupled_weight_decay(g["weight_decay"]))


_adam_chain.native, _adamw_chain.native = native.adam_kernel, native.adamw_kernel


ADAM = {"betas": Param(tuple, (0.9, 0.999), length=2, item=Param(float, ge=0, lt=1),
                       doc="(β₁, β₂): decays of the gradient mean and of its square"),
        "eps": Param(float, 1e-8, gt=0),
        "bias_correction": Param(bool, True, doc="m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)"),
        "eps_inside_sqrt": EPS_INSIDE}


@OPTIMIZERS.register("adam", skip=1, params={"lr": _lr(1e-3), **ADAM, **COMMON})
def adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         bias_correction=True, eps_inside_sqrt=False, no_decay_1d=True, nonfinite="raise", fused=None):
    """Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − α·m̂/(√v̂ + ε) (torch.optim.Adam;
    weight_decay is L2 on the gradient)."""
    return _optimizer(params, _adam_chain, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                      amsgrad=amsgrad, bias_correction=bias_correction, eps_inside_sqrt=eps_inside_sqrt,
                      no_decay_1d=no_decay_1d, nonfinite=nonfinite, fused=fused)


@OPTIMIZERS.register("adamw", skip=1, params={
    "lr": _lr(1e-3), **ADAM, **COMMON,
    "weight_decay": Param(float, 1e-2, ge=0, doc="λ: decoupled decay θ ← (1 − αλ)θ")})
def adamw(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
          bias_correction=True, eps_inside_sqrt=False, no_decay_1d=True, nonfinite="raise", fused=None):
    """AdamW: Adam without L2, plus θ ← (1 − αλ)θ (torch.optim.AdamW)."""
    return _optimizer(params, _adamw_chain, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                      amsgrad=amsgrad, bias_correction=bias_correction, eps_inside_sqrt=eps_inside_sqrt,
                      no_decay_1d=no_decay_1d, nonfinite=nonfinite, fused=fused)


__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
