"""Non-finite gradient detection for the optimizers' opt-in screens: `found_nonfinite` on the
device (``nonfinite="skip"``, no sync), `check_finite` on the host (``"raise"``, one sync per step).

`check_finite` uses each tensor's 2-norm (a NaN or ±inf anywhere makes it non-finite), which torch
computes several times faster on CPU than the ∞-norm. A tensor whose 2-norm is not finite is then
checked element-wise, so finite gradients whose squares overflow (|g| ≳ 1e19) are not reported.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

NONFINITE = ("skip", "raise", "ignore")
NONFINITE_DEFAULT = "ignore"  # torch's behaviour, free (ChainOptimizer and the registry read it)
WIDE = (torch.float32, torch.float64)  # sums kept in the gradient's own dtype


def found_nonfinite(grads: list[Tensor]) -> Tensor:
    """1.0 when some gradient has a NaN/inf, else 0.0: a 0-d float32 tensor on the first
    gradient's device (GradScaler's ``found_inf``), computed without a host read. A NaN or ±inf
    makes a tensor's sum non-finite: on the CPU the sums (in at least float32) are the cheapest
    read; elsewhere the 2-norms, one multi-tensor kernel. A finite gradient whose sum (CPU), or
    2-norm (|g| ≳ 1e19), overflows float32 counts as non-finite."""
    device = grads[0].device
    if device.type == "cpu":  # (an explicit dtype= takes a slower kernel: only where it widens)
        totals = [g.sum() if g.dtype in WIDE else g.sum(dtype=torch.promote_types(g.dtype, torch.float32))
                  for g in grads]
    else:
        low = all(g.dtype in (torch.float16, torch.bfloat16) for g in grads)
        totals = torch._foreach_norm(grads, dtype=torch.float32 if low else None)
    totals = [t if t.device == device else t.to(device) for t in totals]
    return (~torch.isfinite(torch.stack(totals))).any().to(torch.float32)


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


__all__ = ["NONFINITE", "NONFINITE_DEFAULT", "found_nonfinite", "check_finite"]
