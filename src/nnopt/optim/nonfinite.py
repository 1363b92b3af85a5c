"""Non-finite gradient detection: one norm per tensor, one sync per step.

The screen uses each tensor's 2-norm (a NaN or ±inf anywhere makes it non-finite), which torch
computes several times faster on CPU than the ∞-norm. A tensor whose 2-norm is not finite is then
checked element-wise, so finite gradients whose squares overflow (|g| ≳ 1e19) are not reported.
"""
from __future__ import annotations

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
    norms = torch._foreach_norm(grads)
    if bool(torch.isfinite(torch.stack(norms)).all()):
        return None
    for k, (g, norm) in enumerate(zip(grads, norms)):
        if not torch.isfinite(norm) and not bool(torch.isfinite(g).all()):
            return (f"gradient of {label(k)!r} is not finite ({int(g.isnan().sum())} NaN, "
                    f"{int(g.isinf().sum())} inf of {g.numel()} values); lower the lr, clip "
                    f"gradients, or pass nonfinite='skip' to skip such steps")
    return None


__all__ = ["NONFINITE", "check_finite"]
