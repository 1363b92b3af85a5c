"""Non-finite gradient detection: one max|g| per tensor, one sync per step."""
from __future__ import annotations

import math

import torch
from torch import Tensor

NONFINITE = ("raise", "skip", "ignore")


def check_finite(grads: list[list[Tensor]], labels: list[list[str]]) -> str | None:
    """None when every gradient is finite, else a message naming the first offending parameter,
    e.g. "gradient of 'fc.weight' is not finite (3 NaN, 1 inf of 640 values)"."""
    flat = [g for gs in grads for g in gs]
    if not flat:
        return None
    peaks = torch._foreach_norm(flat, math.inf)
    if bool(torch.isfinite(torch.stack(peaks)).all()):
        return None
    names = [n for ns in labels for n in ns]
    for g, peak, name in zip(flat, peaks, names):
        if not torch.isfinite(peak):
            return (f"gradient of {name!r} is not finite ({int(g.isnan().sum())} NaN, "
                    f"{int(g.isinf().sum())} inf of {g.numel()} values); lower the lr, clip "
                    f"gradients, or pass nonfinite='skip' to skip such steps")
    return None


__all__ = ["NONFINITE", "check_finite"]
