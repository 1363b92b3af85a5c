"""The update of a param group as one function (`apply_update`) and its compiled form: torch.compile
turns the whole update into one kernel (C++/OpenMP on CPU, Triton on GPU), so each parameter,
gradient and state tensor is read and written once per step instead of once per ``_foreach`` op.

Which path runs is decided per group and step (``fused``, ``compile``; the table is in
`nnopt.optim.optimizer`). The compiled update takes lr, t and every hyperparameter value as 0-d
tensors, so neither an lr schedule nor one-cycle's momentum recompiles it; it is compiled once
per chain (a structural change — amsgrad, nesterov, a weight decay becoming 0 — compiles anew).
If compiling fails (no C++ compiler, say), a warning is given and the eager path is used.
"""
from __future__ import annotations

import types
import warnings

import torch
from torch import Tensor

from .transforms import FusionContext, Ref, Transform, lerp, power_key

COMPILE_AFTER = 2000
COMPILE_MIN_NUMEL = 1_000_000


def apply_update(transform: Transform, params: list[Tensor], grads: list[Tensor],
                 state: dict[str, list[Tensor]], hyper: dict, step, first: bool,
                 found: Tensor | None = None, maximize: bool = False) -> None:
    """θ ← c·θ + s·u/d where u = transform(±g) and c, s, d are its pending factors (with
    ``ctx.lerp`` = (targets, w), θ ← θ + w·(target − θ) before the addition). With `found` (a 0-d
    tensor, non-zero: the gradients are not finite) θ and the state keep their values, decided on
    the device."""
    if found is not None:  # what the step writes, and copies to put back
        written = params + [t for slot in getattr(transform, "slots", ()) for t in state[slot]]
        kept = [t.clone() for t in written]
    ctx = FusionContext(params, hyper, step, first, scale=-1.0 if maximize else None)
    updates = transform.update(grads, state, ctx)
    if ctx.decay is not None:
        torch._foreach_mul_(params, ctx.decay)
    if ctx.lerp is not None:
        lerp(params, *ctx.lerp)
    if isinstance(ctx.scale, Tensor):
        ctx.divisor, divisor = None, ctx.divisor
        updates = torch._foreach_mul(updates, ctx.scale) if divisor is None else \
            torch._foreach_div(torch._foreach_mul(updates, ctx.scale), divisor)
        torch._foreach_add_(params, updates)
    elif ctx.divisor is not None:
        torch._foreach_addcdiv_(params, updates, ctx.divisor, value=1.0 if ctx.scale is None else ctx.scale)
    else:
        torch._foreach_add_(params, updates, alpha=1.0 if ctx.scale is None else ctx.scale)
    if found is not None:
        skip = found.bool()
        for t, old in zip(written, kept):
            torch.where(skip, old, t, out=t)


def hyper_values(group: dict, refs: tuple[Ref, ...]) -> dict:
    """lr and the current value of each Ref, read from the param group."""
    out = {"lr": group["lr"]}
    for ref in refs:
        out[ref.key] = ref.resolve(group)
    return out


class CompiledRule:
    """For a group without torch's fused kernel: whether a step runs compiled (``compile``: True
    from step 2, False never, None from step `COMPILE_AFTER` when at least `COMPILE_MIN_NUMEL`
    elements are updated), and the compiled kernels, one per chain."""

    def __init__(self):
        self.failed = False
        self.kernels: dict = {}

    def use(self, compile: bool | None, steps_done: int, numel) -> bool:
        """`numel`: the elements updated, an int or anything int() reads (computed when needed)."""
        if self.failed or compile is False:
            return False
        if compile:
            return steps_done >= 1
        return steps_done >= COMPILE_AFTER and int(numel) >= COMPILE_MIN_NUMEL

    def run(self, transform: Transform, params, grads, state, hyper: dict, step: int,
            found: Tensor | None, maximize: bool) -> None:
        """The compiled update, values as 0-d tensors; the eager one after a compile failure."""
        kernel = self.kernels.get(transform)
        if kernel is None:
            # A fresh code object per chain: torch.compile's cache limit is per code object.
            code = apply_update.__code__.replace(co_name=f"update_{type(transform).__name__}")
            fn = types.FunctionType(code, apply_update.__globals__, code.co_name)
            kernel = self.kernels[transform] = torch.compile(fn)
        values = dict(hyper)
        # βᵗ computed here, once: inside the kernel it would be recomputed for every element.
        for base in getattr(transform, "powers", ()):
            values[power_key(base)] = (hyper[base.key] if isinstance(base, Ref) else base) ** step
        numbers = [k for k, v in values.items() if not isinstance(v, Tensor)]  # tensors pass as they are
        packed = torch.tensor([float(step), *(values[k] for k in numbers)], dtype=torch.float64)
        values.update(zip(numbers, packed[1:]))
        try:
            kernel(transform, params, grads, state, values, packed[0], False, found, maximize)
        except Exception as exc:  # noqa: BLE001 — a backend failure falls back to eager for good
            self.failed = True
            warnings.warn(f"nnopt: compiling the optimizer update failed ({type(exc).__name__}: "
                          f"{exc}); using the eager torch._foreach_* path", RuntimeWarning)
            apply_update(transform, params, grads, state, hyper, step, False, found, maximize)


__all__ = ["apply_update", "hyper_values", "CompiledRule", "COMPILE_AFTER", "COMPILE_MIN_NUMEL"]
