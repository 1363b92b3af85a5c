"""Gradient clipping, applied to unscaled gradients (after ``GradScaler.unscale_``) before a step.

Each function clips the ``.grad`` of `params` in place with ``torch._foreach_*`` ops and returns
the pre-clip norm(s). A registered clip factory returns None (no clipping) or
``clip(params) -> pre-clip global L2 norm`` (a tensor), which the Trainer logs.
"""
from __future__ import annotations

from typing import Iterable

import torch

from .params import Param
from .registry import CLIPPING

Params = Iterable[torch.Tensor] | torch.Tensor


def _grads(params: Params) -> list[torch.Tensor]:
    if isinstance(params, torch.Tensor):
        params = [params]
    return [p.grad for p in params if p.grad is not None]


def _norms(grads: list[torch.Tensor], norm_type: float = 2.0) -> torch.Tensor:
    """‖g_i‖ per tensor, as one 1-D tensor."""
    if not grads:
        return torch.zeros(0)
    return torch.stack(torch._foreach_norm(grads, norm_type))


def _total(norms: torch.Tensor, norm_type: float = 2.0) -> torch.Tensor:
    return torch.linalg.vector_norm(norms, norm_type) if norms.numel() else torch.tensor(0.0)


def by_value(params: Params, min: float | None = None, max: float | None = None) -> torch.Tensor:
    """g ← max(min(g, max), min) element-wise (torch clip_grad_value_ with min = −max); a bound left
    out (None) leaves that side unclipped, like torch.clamp. Returns the pre-clip global L2 norm."""
    if min is None and max is None:
        raise ValueError("by_value needs min, max or both")
    if min is not None and max is not None and min > max:
        raise ValueError(f"min = {min!r} — must be <= max = {max!r}")
    grads = _grads(params)
    total = _total(_norms(grads))
    if grads and min is not None:
        torch._foreach_clamp_min_(grads, min)
    if grads and max is not None:
        torch._foreach_clamp_max_(grads, max)
    return total


def by_norm(params: Params, max_norm: float) -> torch.Tensor:
    """g_i ← g_i·b/‖g_i‖ for each tensor with ‖g_i‖ > b; returns the pre-clip ‖g_i‖ (1-D)."""
    grads = _grads(params)
    norms = _norms(grads)
    if grads:
        coef = (max_norm / norms).clamp(max=1.0)
        torch._foreach_mul_(grads, [c.to(g.dtype) for c, g in zip(coef.unbind(), grads)])
    return norms


def by_global_norm(params: Params, max_norm: float, norm_type: float = 2.0) -> torch.Tensor:
    """g ← g·min(1, b/(‖g‖ + 1e−6)) with ‖g‖ the norm of all gradients together (torch
    clip_grad_norm_); returns the pre-clip ‖g‖."""
    grads = _grads(params)
    total = _total(_norms(grads, norm_type), norm_type)
    if grads:
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        torch._foreach_mul_(grads, coef)
    return total


def unitwise_norm(x: torch.Tensor) -> torch.Tensor:
    """‖x‖ per output unit (over every dim but the first); the whole norm for 0-/1-D tensors."""
    if x.ndim <= 1:
        return torch.linalg.vector_norm(x)
    return torch.linalg.vector_norm(x, dim=tuple(range(1, x.ndim)), keepdim=True)


def agc(params: Params, ratio: float = 0.01, eps: float = 1e-3) -> torch.Tensor:
    """Adaptive gradient clipping (Brock et al. 2021), per unit i of each weight W:
    G_i ← G_i·λ·max(‖W_i‖, ε)/‖G_i‖ when ‖G_i‖/max(‖W_i‖, ε) > λ (λ = ratio);
    returns the pre-clip ‖G‖ per tensor (1-D)."""
    params = [params] if isinstance(params, torch.Tensor) else [p for p in params if p.grad is not None]
    grads = [p.grad for p in params]
    norms = _norms(grads)
    for p, g in zip(params, grads):
        limit = unitwise_norm(p.detach()).clamp(min=eps) * ratio
        g_norm = unitwise_norm(g)
        g.mul_(torch.where(g_norm > limit, limit / g_norm.clamp(min=1e-6), 1.0))
    return norms


# -- registry: factories return None or clip(params) -> pre-clip global L2 norm ------------------

@CLIPPING.register("none")
def none():
    """No clipping"""
    return None


@CLIPPING.register("value", params={
    "min": Param(float, None, nullable=True, doc="the lower bound; none = −max"),
    "max": Param(float, 1.0, gt=0, doc="the upper bound of each gradient element")})
def value(min=None, max=1.0):
    """g ← max(min(g, max), min) element-wise"""
    low = -max if min is None else min
    if low >= max:
        raise ValueError(f"min = {low!r} — must be < max = {max!r}")
    return lambda params: by_value(params, low, max)


@CLIPPING.register("norm", params={"max_norm": Param(float, 1.0, gt=0, doc="the bound, per tensor")})
def norm(max_norm=1.0):
    """g_i ← g_i·max_norm/‖g_i‖ per tensor when ‖g_i‖ > max_norm"""
    return lambda params: _total(by_norm(params, max_norm))


@CLIPPING.register("global_norm", params={"max_norm": Param(float, 1.0, gt=0, doc="the bound, for all together")})
def global_norm(max_norm=1.0):
    """g ← g·max_norm/‖g‖ when the norm ‖g‖ of all gradients together exceeds max_norm
    (torch's clip_grad_norm_)"""
    return lambda params: by_global_norm(params, max_norm)


@CLIPPING.register("agc", params={"ratio": Param(float, 0.01, gt=0, doc="max ‖G_i‖/‖W_i‖ per unit"),
                                  "eps": Param(float, 1e-3, gt=0, doc="the floor of ‖W_i‖")})
def adaptive(ratio=0.01, eps=1e-3):
    """Adaptive gradient clipping: unit-wise ‖G_i‖ ≤ ratio·max(‖W_i‖, eps)"""
    return lambda params: _total(agc(params, ratio, eps))


def create(name: str, **hyper):
    """The registered clip `name`: None (no clipping) or clip(params) -> pre-clip global L2 norm,
    e.g. ``clip.create("global_norm", max_norm=1.0)`` (validated; ConfigError on bad input)."""
    return CLIPPING.create(name, field="clip", **hyper)


def available() -> list[str]:
    return CLIPPING.names()


__all__ = ["create", "available", "by_value", "by_norm", "by_global_norm", "agc", "unitwise_norm"]
