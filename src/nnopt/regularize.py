"""Penalties added to the loss, over a selectable set of parameters.

    none                          no term
    l1           coef·Σ|θ|        (smooth surrogate with smooth = ε > 0: coef·Σ(√(θ² + ε) − √ε))
    l2           coef·½Σθ²        (gradient coef·θ, so ≡ weight_decay = coef for plain SGD)
    elastic_net  l1_coef·Σ|θ| + l2_coef·½Σθ²   (Zou & Hastie 2005; both coefficients >= 0)

A run's penalty is the recipe's [penalty] section: ``name`` (a PENALTIES entry), that entry's own
coefficients, and ``on``, the parameters it sees. A penalty is any function registered as
``@PENALTIES.register(name, skip=1)`` taking the list of selected tensors first and its
coefficients as keyword arguments, returning the term added to the loss (coefficients included) or
None for no term; the Trainer adds it to the cross-entropy of every batch.

The surrogate is shifted by √ε per element so it is 0 at θ = 0 like |θ|; its gradient
θ/√(θ² + ε) is smooth where |θ|'s jumps. Which parameters (``on``): "weights" (default: weight
matrices and kernels — tensors of ≥ 2 dims outside normalization layers, not weight-norm
magnitudes), "weights_and_biases" (everything outside normalization layers), "all".

This is a penalty in the loss: with adaptive optimizers it is *not* decoupled weight decay
(use ``optimizer.weight_decay`` with ``adamw`` for that).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .nn.batchnorm import BatchNorm
from .nn.group_rms import GroupNorm, RMSNorm
from .nn.layernorm import LayerNorm
from .nn.recurrent import GateNorm
from .params import REQUIRED, Param
from .registry import PENALTIES

SELECTIONS = ("weights", "weights_and_biases", "all")
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm,
              BatchNorm, LayerNorm, GroupNorm, RMSNorm, GateNorm)


def select(model: nn.Module, which: str = "weights") -> list[torch.Tensor]:
    """The trainable parameters of `model` a penalty applies to (see the module docstring)."""
    if which not in SELECTIONS:
        raise ValueError(f"which = {which!r} — must be one of {', '.join(map(repr, SELECTIONS))}")
    skip: set[int] = set()
    if which != "all":
        for module in model.modules():
            if isinstance(module, NORM_TYPES):
                skip.update(id(p) for p in module.parameters())
        for name, p in model.named_parameters():
            if name.endswith("parametrizations.weight.original0"):  # weight-norm magnitude g
                skip.add(id(p))
    chosen = [p for p in model.parameters() if p.requires_grad and id(p) not in skip]
    return [p for p in chosen if p.dim() >= 2] if which == "weights" else chosen


def weights(model: nn.Module) -> list[torch.Tensor]:
    """The parameters penalties apply to by default: ``select(model, "weights")``."""
    return select(model, "weights")


COEF = Param(float, 0.0, ge=0, doc="penalty coefficient; 0 = off")
SMOOTH = Param(float, 0.0, ge=0, doc="ε of the smooth L1 surrogate Σ(√(θ²+ε) − √ε); 0 = exact |θ|")
# l1 and l2 have no natural strength: a recipe naming them says how much
STRENGTH = Param(float, REQUIRED, ge=0, doc="the coefficient λ of the term; 0 = off")


def _check_coef(name: str, value: float) -> None:
    if value < 0:
        raise ValueError(f"{name} = {value!r} — must be >= 0 (a penalty coefficient; 0 = off)")


@PENALTIES.register("none", skip=1)
def none(params: list[torch.Tensor]) -> None:
    """no penalty term"""
    return None


@PENALTIES.register("l1", skip=1, params={"coef": STRENGTH, "smooth": SMOOTH})
def l1(params: list[torch.Tensor], coef: float = 1.0, smooth: float = 0.0) -> torch.Tensor | None:
    """coef·Σ|θ|, or the smooth surrogate coef·Σ(√(θ²+ε) − √ε) when smooth = ε > 0.

    None (no term) when coef = 0."""
    _check_coef("coef", coef)
    if smooth < 0:
        raise ValueError(f"smooth = {smooth!r} — must be >= 0 (0 = exact |θ|)")
    if not coef:
        return None
    if not params:
        return torch.zeros(())
    if smooth:
        root = smooth ** 0.5
        return coef * torch.stack([(p.pow(2) + smooth).sqrt().sub(root).sum() for p in params]).sum()
    return coef * torch.stack([p.abs().sum() for p in params]).sum()


@PENALTIES.register("l2", skip=1, params={"coef": STRENGTH})
def l2(params: list[torch.Tensor], coef: float = 1.0) -> torch.Tensor | None:
    """coef·½Σθ² (gradient coef·θ: under plain SGD the same as weight decay coef).

    None (no term) when coef = 0."""
    _check_coef("coef", coef)
    if not coef:
        return None
    if not params:
        return torch.zeros(())
    return coef * (0.5 * torch.stack([p.pow(2).sum() for p in params]).sum())


@PENALTIES.register("elastic_net", params={"l1_coef": COEF, "l2_coef": COEF, "l1_smooth": SMOOTH}, skip=1)
def elastic_net(params: list[torch.Tensor], l1_coef: float = 0.0, l2_coef: float = 0.0,
                l1_smooth: float = 0.0) -> torch.Tensor | None:
    """l1_coef·Σ|θ| + l2_coef·½Σθ² (Zou & Hastie 2005; L1 smoothed when l1_smooth > 0).

    None (no term) when both coefficients are 0."""
    _check_coef("l1_coef", l1_coef)
    _check_coef("l2_coef", l2_coef)
    terms = [t for t in (l1(params, l1_coef, l1_smooth), l2(params, l2_coef)) if t is not None]
    return sum(terms) if terms else None


def bind(name: str, params: list[torch.Tensor], values: Mapping[str, Any],
         field: str = "penalty") -> Callable[[], torch.Tensor | None]:
    """The registered penalty `name` with parameters `values` over the tensors `params`, as a
    function of no arguments giving the loss term (None = no term). The values are validated and
    the penalty is evaluated once here, so a bad value fails before training starts."""
    resolved = PENALTIES.resolve(name, values, field)
    with torch.no_grad():
        PENALTIES.create(name, params, field=field, **resolved)
    return partial(PENALTIES.get(name).factory, params, **resolved)
