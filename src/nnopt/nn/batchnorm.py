"""Batch normalization (Ioffe & Szegedy 2015).

Training:  x̂ = (x − μ_B) / √(σ²_B + ε),  y = γ·x̂ + β, with μ_B, σ²_B (biased) the mean and
variance of each channel over the batch (and every other axis but the channel axis).
Running statistics, used in eval mode, follow an exponential moving average whose momentum has
two conventions (one parameter, ``momentum``, read per ``convention``):

    torch (default, weight on the new value):  r ← (1 − m)·r + m·s,   m = 0.1
    book  (weight on the old value):          r ← m·r + (1 − m)·s,   m = 0.9

where s is the batch mean, or the *unbiased* batch variance σ²_B·n/(n−1) for the running variance
(as torch does). Both defaults describe the same average; the default matches torch.nn.BatchNorm1d/2d.
"""
from __future__ import annotations

import torch
from torch import nn

from .checks import check_choice, check_nonnegative, check_unit

DEFAULT_MOMENTUM = {"torch": 0.1, "book": 0.9}


class BatchNorm(nn.Module):
    """BatchNorm of (B, C, *) inputs: (B, F) as BatchNorm1d, (B, C, H, W) as BatchNorm2d."""

    def __init__(self, features: int, momentum: float | None = None, convention: str = "torch",
                 eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.convention = check_choice("convention", convention, tuple(DEFAULT_MOMENTUM))
        momentum = DEFAULT_MOMENTUM[convention] if momentum is None else momentum
        self.momentum = check_unit("momentum", momentum, closed_high=True,
                                   hint=f" (the {convention} convention's default is "
                                        f"{DEFAULT_MOMENTUM[convention]})")
        self.eps = check_nonnegative("eps", eps)
        self.features = features
        self.weight = nn.Parameter(torch.ones(features)) if affine else None
        self.bias = nn.Parameter(torch.zeros(features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    @property
    def new_weight(self) -> float:
        """The weight of the batch statistic in the running average (torch's momentum)."""
        return self.momentum if self.convention == "torch" else 1.0 - self.momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != self.features:
            raise ValueError(f"BatchNorm({self.features}) got input of shape {tuple(x.shape)}; "
                             f"it needs (B, {self.features}, *)")
        xc = x.movedim(1, -1).to(self.running_mean.dtype)  # (B, *, C); statistics in float32 under autocast
        if self.training:
            n = xc.numel() // self.features
            if n < 2:
                raise ValueError(
                    f"BatchNorm needs more than one value per channel in training; input shape "
                    f"{tuple(x.shape)} gives {n} — use train.batch_size >= 2 (and no last batch of "
                    f"size 1), or a per-sample norm: model.norm = \"layer\" or \"group\"")
            flat = xc.reshape(-1, self.features)
            var, mean = torch.var_mean(flat, dim=0, unbiased=False)
            with torch.no_grad():
                w = self.new_weight
                self.running_mean.lerp_(mean, w)
                self.running_var.lerp_(var * (n / (n - 1)), w)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        y = (xc - mean) * torch.rsqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y.movedim(-1, 1)

    def extra_repr(self) -> str:
        return (f"{self.features}, momentum={self.momentum} ({self.convention}), eps={self.eps}")
