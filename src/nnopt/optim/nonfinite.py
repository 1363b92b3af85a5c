"""Non-finite gradient detection: one max|g| per tensor, one sync per step."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

NONFINITE = ("raise", "skip", "ignore")


def check_finite(grads: list[Tensor], label: Callable[[int], str]) -> str | None:
    """None when every gradient is finite, else a message naming the first offending parameter
    (``label(k)`` names grads[k]), e.g. "gradient of 'fc.weight' is not finite (3 NaN, 1 inf of
    640 values)"."""
    if not grads:
        return None
    peaks = torch._foreach_norm(grads, math.inf)
    if bool(torch.isfinite(torch.stack(peaks)).all()):
        return None
    for k, (g, peak) in enumerate(zip(grads, peaks)):
        if not torch.isfinite(peak):
            return (f"gradient of {label(k)!r} is not finite ({int(g.isnan().sum())} NaN, "
                    f"{int(g.isinf().sum())} inf of {g.numel()} values); lower the lr, clip "
                    f"gradients, or pass nonfinite='skip' to skip such steps")
    return None


__all__ = ["NONFINITE", "check_finite"]
