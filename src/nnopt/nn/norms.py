"""Normalization layers by name, for the model builders.

A norm factory takes ``(features, kind)`` — kind "dense" (B, F), "conv" (B, C, H, W) or "seq"
(B, T, F) — and returns the module placed after a hidden affine layer. Per-position norms see
(B, T, F) as B·T samples of F features. Weight norm is not a layer after the affine map but a
reparametrization of it: `place_norm` handles both kinds, and is what builders should call.

A norm whose training statistics are over the batch is registered with ``min_batch=2`` (the
variance of one sample is 0): `least_batch` is what the Trainer's batch-size checks read.
"""
from __future__ import annotations

import torch
from torch import nn

from ..registry import NORMS
from .batchnorm import BatchNorm
from .group_rms import GroupNorm, RMSNorm, default_groups
from .layernorm import LayerNorm
from .lrn import LocalResponseNorm
from .weightnorm import weight_norm

KINDS = ("dense", "conv", "seq")


class PerStep(nn.Module):
    """Applies a (N, F) norm to each step of a (B, T, F) sequence: (B·T, F) → norm → (B, T, F)."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r} — must be one of {', '.join(map(repr, KINDS))}")
    return kind


def _per_step(norm: nn.Module, kind: str) -> nn.Module:
    return PerStep(norm) if _kind(kind) == "seq" else norm


@NORMS.register("none", skip=2)
def no_norm(features: int, kind: str) -> nn.Module:
    """No normalization"""
    _kind(kind)
    return nn.Identity()


@NORMS.register("batch", skip=2, min_batch=2)
def batch_norm(features: int, kind: str) -> nn.Module:
    """Batch norm: per channel over the batch (and space, or time for seq); momentum 0.1 (torch's)"""
    return _per_step(BatchNorm(features), kind)


@NORMS.register("layer", skip=2)
def layer_norm(features: int, kind: str) -> nn.Module:
    """Layer norm: per sample over its features (over C, H, W for conv, with per-channel γ, β)"""
    return GroupNorm(1, features) if _kind(kind) == "conv" else LayerNorm(features)


@NORMS.register("group", skip=2)
def group_norm(features: int, kind: str) -> nn.Module:
    """Group norm: per sample over groups of channels (the largest divisor of C up to 32 groups)"""
    return _per_step(GroupNorm(default_groups(features), features), kind)


@NORMS.register("rms", skip=2)
def rms_norm(features: int, kind: str) -> nn.Module:
    """RMS norm: x/√(mean(x²)+ε) over the features (over channels at each pixel for conv)"""
    return RMSNorm(features, channel_dim=1 if _kind(kind) == "conv" else -1)


@NORMS.register("lrn", skip=2)
def local_response_norm(features: int, kind: str) -> nn.Module:
    """Local response norm across 5 neighbouring channels, AlexNet's α=1e-4 (not divided by n), k=2, β=0.75"""
    return _per_step(LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0, convention="book"), kind)


@NORMS.register("weight", skip=2, reparametrizes=True)
def weight_norm_slot(features: int, kind: str) -> nn.Module:
    """Weight norm: the affine layer's weights as g·v/‖v‖ per output unit (place_norm applies it)"""
    _kind(kind)
    return nn.Identity()


def least_batch(name: str | None, per_rank: bool = False) -> int:
    """The samples every training batch needs under ``model.norm = name``: its registration's
    ``min_batch`` (1 when unset, or when the model has no norm). per_rank: of each data-parallel
    rank's shard, where a norm whose statistics span the ranks (``across_ranks``) needs only 1."""
    meta = NORMS.get(name).meta if name in NORMS else {}
    return 1 if per_rank and meta.get("across_ranks") else meta.get("min_batch", 1)


def place_norm(layer: nn.Module, features: int, kind: str, name: str) -> list[nn.Module]:
    """The modules for `layer` followed by norm `name`: [layer, norm], or [weight-normed layer]
    for norms that reparametrize the layer (weight)."""
    entry = NORMS.get(name, "model.norm")
    if entry.meta.get("reparametrizes"):
        _kind(kind)
        return [weight_norm(layer)]
    return [layer, entry.factory(features, kind)]
