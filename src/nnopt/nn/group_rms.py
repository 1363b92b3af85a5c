"""Two cheap per-sample norms beyond the chapter.

GroupNorm (Wu & He 2018): the C channels split into G groups; each sample's group is normalized
over its channels (and space), y = γ_c·(x − μ_g)/√(σ²_g + ε) + β_c. G = 1 is layer norm over
(C, H, W); G = C is instance norm. Matches torch.nn.GroupNorm.

RMSNorm (Zhang & Sennrich 2019): no centering, y = γ·x / √(mean(x²) + ε) over the channel axis.
Matches torch.nn.RMSNorm for ``channel_dim = −1``.
"""
from __future__ import annotations

import torch
from torch import nn

from .checks import check_nonnegative


def default_groups(channels: int, most: int = 32) -> int:
    """The largest divisor of `channels` that is at most `most`."""
    return next(g for g in range(min(most, channels), 0, -1) if channels % g == 0)


class GroupNorm(nn.Module):
    """GroupNorm of (B, C, *) inputs."""

    def __init__(self, groups: int, channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        if groups < 1 or channels % groups:
            raise ValueError(f"groups = {groups} — must be >= 1 and divide channels = {channels}")
        self.groups, self.channels = groups, channels
        self.eps = check_nonnegative("eps", eps)
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise ValueError(f"GroupNorm({self.groups}, {self.channels}) got input of shape "
                             f"{tuple(x.shape)}; it needs (B, {self.channels}, *)")
        shape = x.shape
        g = x.reshape(shape[0], self.groups, -1)
        var, mean = torch.var_mean(g, dim=-1, unbiased=False, keepdim=True)
        y = ((g - mean) * torch.rsqrt(var + self.eps)).reshape(shape)
        if self.weight is not None:
            expand = (1, -1) + (1,) * (len(shape) - 2)
            y = y * self.weight.view(expand) + self.bias.view(expand)
        return y

    def extra_repr(self) -> str:
        return f"{self.groups}, {self.channels}, eps={self.eps}"


class RMSNorm(nn.Module):
    """RMSNorm over the channel axis (``channel_dim``; −1 for (B, F) and (B, T, F), 1 for images)."""

    def __init__(self, features: int, eps: float = 1e-6, affine: bool = True, channel_dim: int = -1):
        super().__init__()
        self.features, self.channel_dim = features, channel_dim
        self.eps = check_nonnegative("eps", eps)
        self.weight = nn.Parameter(torch.ones(features)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xc = x.movedim(self.channel_dim, -1)
        if xc.shape[-1] != self.features:
            raise ValueError(f"RMSNorm({self.features}) got input of shape {tuple(x.shape)}; dim "
                             f"{self.channel_dim} must have {self.features} features")
        y = xc * torch.rsqrt(xc.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.weight is not None:
            y = y * self.weight
        return y.movedim(-1, self.channel_dim)

    def extra_repr(self) -> str:
        return f"{self.features}, eps={self.eps}, channel_dim={self.channel_dim}"
