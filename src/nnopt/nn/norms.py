"""Normalization layers placed by the model builders after each hidden affine layer.

A norm factory takes ``(features, kind)`` where kind is "dense" (B,F), "conv" (B,C,H,W) or
"seq" (B,T,F), and returns a module.
"""
from torch import nn

from ..registry import NORMS


@NORMS.register("none", skip=2)
def no_norm(features: int, kind: str) -> nn.Module:
    """No normalization"""
    return nn.Identity()


@NORMS.register("batch", skip=2)
def batch_norm(features: int, kind: str) -> nn.Module:
    """Batch normalization over the batch (and space): torch.nn.BatchNorm1d/2d"""
    if kind == "seq":
        raise ValueError("batch norm is not placed inside recurrent models; use layer norm")
    return nn.BatchNorm2d(features) if kind == "conv" else nn.BatchNorm1d(features)


@NORMS.register("layer", skip=2)
def layer_norm(features: int, kind: str) -> nn.Module:
    """Layer normalization over each sample's features (channels for conv): torch.nn.LayerNorm/GroupNorm(1)"""
    return nn.GroupNorm(1, features) if kind == "conv" else nn.LayerNorm(features)
