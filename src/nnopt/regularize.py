"""Penalties added to the loss, over a selectable set of parameters.

    L1         Σ|θ|                 (smooth surrogate with l1_smooth = ε > 0: Σ(√(θ² + ε) − √ε))
    L2         ½Σθ²                 (gradient θ, so l2·½Σθ² ≡ weight_decay = l2 for plain SGD)
    elastic    l1·L1 + l2·L2        (Zou & Hastie 2005; both coefficients >= 0)

The surrogate is shifted by √ε per element so it is 0 at θ = 0 like |θ|; its gradient
θ/√(θ² + ε) is smooth where |θ|'s jumps. Which parameters: "weights" (default: weight matrices
and kernels — tensors of ≥ 2 dims outside normalization layers, not weight-norm magnitudes),
"weights_and_biases" (everything outside normalization layers), "all".

This is a penalty in the loss: with adaptive optimizers it is *not* decoupled weight decay
(use ``optimizer.weight_decay`` with ``adamw`` for that).
"""
from __future__ import annotations

import torch
from torch import nn

from .nn.batchnorm import BatchNorm
from .nn.group_rms import GroupNorm, RMSNorm
from .nn.layernorm import LayerNorm
from .nn.recurrent import GateNorm
from .params import Param
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


@PENALTIES.register("l1", skip=1, params={"smooth": SMOOTH})
def l1(params: list[torch.Tensor], smooth: float = 0.0) -> torch.Tensor:
    """Σ|θ|, or the smooth surrogate Σ(√(θ²+ε) − √ε) when smooth = ε > 0"""
    if smooth < 0:
        raise ValueError(f"smooth = {smooth!r} — must be >= 0 (0 = exact |θ|)")
    if not params:
        return torch.zeros(())
    if smooth:
        root = smooth ** 0.5
        return torch.stack([(p.pow(2) + smooth).sqrt().sub(root).sum() for p in params]).sum()
    return torch.stack([p.abs().sum() for p in params]).sum()


@PENALTIES.register("l2", skip=1)
def l2(params: list[torch.Tensor]) -> torch.Tensor:
    """½Σθ² (its gradient is θ)"""
    if not params:
        return torch.zeros(())
    return 0.5 * torch.stack([p.pow(2).sum() for p in params]).sum()


@PENALTIES.register("elastic_net", skip=1,
                    params={"l1_coef": COEF, "l2_coef": COEF, "l1_smooth": SMOOTH})
def penalty(params: list[torch.Tensor], l1_coef: float = 0.0, l2_coef: float = 0.0,
            l1_smooth: float = 0.0):
    """l1·Σ|θ| + l2·½Σθ² (elastic net; L1 smoothed when l1_smooth > 0), or None when both are 0"""
    for name, value in (("l1_coef", l1_coef), ("l2_coef", l2_coef)):
        if value < 0:
            raise ValueError(f"{name} = {value!r} — must be >= 0 (a penalty coefficient; 0 = off)")
    terms = []
    if l1_coef:
        terms.append(l1_coef * l1(params, l1_smooth))
    if l2_coef:
        terms.append(l2_coef * l2(params))
    return sum(terms) if terms else None
