"""Weight normalization (Salimans & Kingma 2016): w = g · v / ‖v‖ per output unit.

The norm ‖v‖ is taken over every axis but ``dim`` (0 = output units/channels), so each unit's
weight vector has length g. Registered as a torch parametrization with the same parameter names
and initialization as torch.nn.utils.parametrizations.weight_norm (``original0`` = g = ‖w‖,
``original1`` = v = w), so state dicts interchange.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


def norm_except(v: torch.Tensor, dim: int) -> torch.Tensor:
    """‖v‖ over every axis but `dim`, kept broadcastable to v."""
    dim = dim % v.dim()
    axes = tuple(a for a in range(v.dim()) if a != dim)
    return torch.linalg.vector_norm(v, dim=axes, keepdim=True)


class WeightNorm(nn.Module):
    """Parametrization (g, v) ↦ g·v/‖v‖; ``right_inverse(w)`` gives g = ‖w‖, v = w."""

    def __init__(self, dim: int = 0):
        super().__init__()
        self.dim = dim

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return v * (g / norm_except(v, self.dim))

    def right_inverse(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return norm_except(w, self.dim), w


def weight_norm(module: nn.Module, name: str = "weight", dim: int = 0) -> nn.Module:
    """Reparametrize ``module.<name>`` as g·v/‖v‖ in place; returns the module."""
    if not isinstance(getattr(module, name, None), torch.Tensor):
        raise ValueError(f"weight_norm: {type(module).__name__} has no tensor {name!r} to reparametrize")
    parametrize.register_parametrization(module, name, WeightNorm(dim), unsafe=True)
    return module
