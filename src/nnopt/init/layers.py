"""Which tensors of a module an init scheme touches, and the fans each one has.

A *weight block* is one matrix the chapter's variance argument applies to, with its own fans:

    Linear      W (out, in)                       fan_in = in,        fan_out = out
    Conv        W (out, in/groups, k1, k2, ...)   fan_in = in/groups·Πk, fan_out = out·Πk
    RNN/GRU/LSTM W_ih (G·H, in), W_hh (G·H, H)    one block per gate: fan_in = in (or H), fan_out = H
                (G = 1 tanh-RNN, 3 GRU, 4 LSTM; W_hr of a projected LSTM is one block)

(the conv fans follow torch's convention: dim 0 is fan_out, dim 1 times the receptive field is
fan_in). Norm layers (torch's and nnopt's) are reset to γ = 1, β = 0. A weight-normed layer (a
parametrization) is filled as w and written back (g = ‖w‖, v = w). Any other module's parameters are
left as they are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn
from torch.nn.utils import parametrize

LAYER_TYPES = ("linear", "conv", "recurrent")
_TORCH_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)


@dataclass
class Block:
    """One weight matrix (a view into a parameter) with its fans and layer type. ``commit``, when
    set, writes the filled tensor back through a parametrization (e.g. weight norm's g, v)."""

    name: str
    tensor: torch.Tensor
    fan_in: int
    fan_out: int
    layer_type: str
    commit: Callable[[], None] | None = None


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a Linear or Conv weight: (size(1)·Πk, size(0)·Πk)."""
    if weight.dim() < 2:
        raise ValueError(f"a weight needs at least 2 dimensions to have fans, got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:])
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def layer_type(module: nn.Module) -> str | None:
    """"linear", "conv", "recurrent", "norm" or None (a module this package leaves alone).

    Recurrent: torch's RNN/LSTM/GRU (and cells), or any module with a ``hidden_size`` and
    ``weight_ih*``/``weight_hh*`` parameters of its own (nnopt's LoopRNN). Norm: torch's norm
    layers, or any module whose class name contains "Norm" (nnopt's own norm layers).
    """
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.modules.conv._ConvNd):
        return "conv"
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)) or (
            hasattr(module, "hidden_size")
            and any(n.startswith(("weight_ih", "weight_hh")) for n, _ in module.named_parameters(recurse=False))):
        return "recurrent"
    if isinstance(module, _TORCH_NORMS) or "Norm" in type(module).__name__:
        return "norm"
    return None


def _weights(module: nn.Module, kind: str) -> list[tuple[str, int]]:
    """(parameter name, number of blocks) of a layer's weights: gates for recurrent ones."""
    if kind != "recurrent":
        return [("weight", 1)] if getattr(module, "weight", None) is not None else []
    names = [n for n, _ in module.named_parameters(recurse=False) if n.startswith("weight")]
    return [(n, 1 if n.startswith("weight_hr") else getattr(module, n).shape[0] // module.hidden_size)
            for n in names]


def weight_blocks(module: nn.Module) -> Iterator[Block]:
    """Every weight block of `module` and its children (a recurrent weight once per gate)."""
    for prefix, child in module.named_modules():
        kind = layer_type(child)
        if kind not in LAYER_TYPES:
            continue
        for pname, n in _weights(child, kind):
            weight = getattr(child, pname)
            commit = None
            if parametrize.is_parametrized(child, pname):
                weight = weight.detach().clone()
                commit = (lambda c=child, p=pname, w=weight: setattr(c, p, w))
            rows = weight.shape[0] // n
            for g in range(n):
                block = weight[g * rows:(g + 1) * rows] if n > 1 else weight
                fan_in, fan_out = fans(block)
                name = _join(prefix, pname) + (f"[{g}]" if n > 1 else "")
                yield Block(name, block, fan_in, fan_out, kind, commit if g == n - 1 else None)


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
