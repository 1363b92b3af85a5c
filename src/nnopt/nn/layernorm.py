"""Layer normalization (Ba, Kiros & Hinton 2016): statistics per sample over its features.

    y = γ·(x − μ)/√(σ² + ε) + β,   μ, σ² (biased) over the last ``len(shape)`` axes of x

Matches torch.nn.LayerNorm. In a recurrent cell the chapter applies it to the pre-activation,
h_t = f(LN(U·h_{t−1} + W·x_t)) (see ``nnopt.nn.recurrent``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .checks import check_nonnegative


def layer_norm(x: torch.Tensor, dims: int, eps: float) -> torch.Tensor:
    """(x − μ)/√(σ² + ε) over the last `dims` axes."""
    axes = tuple(range(-dims, 0))
    var, mean = torch.var_mean(x, dim=axes, unbiased=False, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps)


class LayerNorm(nn.Module):
    """LayerNorm over the trailing ``shape`` of the input, with elementwise gain γ and bias β."""

    def __init__(self, shape: int | tuple[int, ...], eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.eps = check_nonnegative("eps", eps)
        self.weight = nn.Parameter(torch.ones(self.shape)) if affine else None
        self.bias = nn.Parameter(torch.zeros(self.shape)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-len(self.shape):]) != self.shape:
            raise ValueError(f"LayerNorm{self.shape} got input of shape {tuple(x.shape)}; its last "
                             f"{len(self.shape)} axes must be {self.shape}")
        y = layer_norm(x, len(self.shape), self.eps)
        return y * self.weight + self.bias if self.weight is not None else y

    def extra_repr(self) -> str:
        return f"{self.shape}, eps={self.eps} ({math.prod(self.shape)} features)"
