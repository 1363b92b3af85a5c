"""Penalties added to the loss: L1 and L2 on weights (tensors of ≥2 dims; biases and norm gains
are left alone)."""
from __future__ import annotations

import torch
from torch import nn

from .registry import PENALTIES


def weights(model: nn.Module) -> list[torch.Tensor]:
    """The parameters penalties apply to by default: weight matrices and kernels (ndim ≥ 2)."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


@PENALTIES.register("l1", skip=1)
def l1(params: list[torch.Tensor]) -> torch.Tensor:
    """Σ|w|"""
    return torch.stack([p.abs().sum() for p in params]).sum()


@PENALTIES.register("l2", skip=1)
def l2(params: list[torch.Tensor]) -> torch.Tensor:
    """½Σw² (its gradient is w, so l2·½Σw² ≡ weight_decay = l2 for plain SGD)"""
    return 0.5 * torch.stack([p.pow(2).sum() for p in params]).sum()


def penalty(params: list[torch.Tensor], l1_coef: float = 0.0, l2_coef: float = 0.0):
    """l1·Σ|w| + l2·½Σw², or None when both coefficients are 0."""
    terms = []
    if l1_coef:
        terms.append(l1_coef * l1(params))
    if l2_coef:
        terms.append(l2_coef * l2(params))
    return sum(terms) if terms else None
