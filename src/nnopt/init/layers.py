"""Which tensors of a module an init scheme touches, and the fans each one has.

A *weight block* is one matrix the chapter's variance argument applies to, with its own fans:

    Linear      W (out, in)                       fan_in = in,        fan_out = out
    Conv        W (out, in/groups, k1, k2, ...)   fan_in = in/groups·Πk, fan_out = out·Πk
    RNN/GRU/LSTM W_ih (G·H, in), W_hh (G·H, H)    one block per gate: fan_in = in (or H), fan_out = H
                (G = 1 tanh-RNN, 3 GRU, 4 LSTM; W_hr of a projected LSTM is one block)

(the conv fans follow torch's convention: dim 0 is fan_out, dim 1 times the receptive field is
fan_in). Norm layers (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm) are reset to γ = 1,
β = 0. Any other module's parameters are left as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

LAYER_TYPES = ("linear", "conv", "recurrent")
NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
_CONV_TYPES = (nn.modules.conv._ConvNd,)
_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


@dataclass
class Block:
    """One weight matrix (a view into a parameter) with its fans and layer type."""

    name: str
    tensor: torch.Tensor
    fan_in: int
    fan_out: int
    layer_type: str


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear or Conv weight: (size(1)·Πk, size(0)·Πk)."""
    if weight.dim() < 2:
        raise ValueError(f"a weight needs at least 2 dimensions to have fans, got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def layer_type(module: nn.Module) -> str | None:
    """"linear", "conv", "recurrent", "norm" or None (a module this package leaves alone)."""
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, _CONV_TYPES):
        return "conv"
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
        return "recurrent"
    if isinstance(module, NORM_TYPES):
        return "norm"
    return None


def _gates(module: nn.Module) -> int:
    kind = getattr(module, "mode", None) or type(module).__name__.replace("Cell", "")
    return _GATES.get(kind.split("_")[0], 1)


def weight_blocks(module: nn.Module) -> Iterator[Block]:
    """Every weight block of `module` and its children (a recurrent weight once per gate)."""
    for prefix, child in module.named_modules():
        kind = layer_type(child)
        if kind in ("linear", "conv") and child.weight is not None:
            yield Block(_join(prefix, "weight"), child.weight, *fans(child.weight), kind)
        elif kind == "recurrent":
            gates = _gates(child)
            for pname, param in child.named_parameters(recurse=False):
                if not pname.startswith("weight"):
                    continue
                n = 1 if pname.startswith("weight_hr") else gates
                rows = param.shape[0] // n
                for g in range(n):
                    chunk = param[g * rows:(g + 1) * rows]
                    yield Block(f"{_join(prefix, pname)}[{g}]", chunk, chunk.shape[1], rows, kind)


def biases(module: nn.Module) -> Iterator[tuple[str, torch.Tensor, str]]:
    """(name, tensor, layer type) of every bias of a Linear, Conv or recurrent layer."""
    for prefix, child in module.named_modules():
        kind = layer_type(child)
        if kind in LAYER_TYPES:
            for pname, param in child.named_parameters(recurse=False):
                if pname.startswith("bias"):
                    yield _join(prefix, pname), param, kind


def reset_norms(module: nn.Module) -> None:
    """γ = 1, β = 0 for every norm layer (running statistics untouched)."""
    with torch.no_grad():
        for child in module.modules():
            if layer_type(child) == "norm":
                if getattr(child, "weight", None) is not None:
                    child.weight.fill_(1.0)
                if getattr(child, "bias", None) is not None:
                    child.bias.zero_()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
