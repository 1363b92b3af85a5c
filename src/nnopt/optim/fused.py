"""Which update runs (``fused=``), and the compiled path: a param group's whole update compiled
into one kernel by torch.compile (C++/OpenMP on CPU, Triton on GPU), so each parameter, gradient
and state tensor is read and written once per step instead of once per ``_foreach`` op.

Three ways to run a group's update, the same numbers up to rounding (≈1e-7 relative per step):
  native    torch's own fused kernel on nnopt's state (`nnopt.optim.native`): SGD/momentum/
            Nesterov, Adagrad, Adam, AdamW in torch's form, and RMSprop without momentum,
            centering or weight decay. No compile, so as good for a 30-second demo as for a week.
  eager     the transforms' torch._foreach_* ops, on cache-sized blocks (`nnopt.optim.blocks`).
  compiled  `apply_update` through torch.compile, from the second step on (the first, which
            initializes momentum buffers, runs eager); the compile (seconds to a minute, once per
            optimizer configuration and parameter set) is paid at step 2.

The rule, per group and step:
  fused=None   (default) native when available. Otherwise eager for short runs, compiled for
               long ones, decided deterministically so a recipe gives the same numbers every
               time: compiled from step `FUSE_AFTER` (2000) on when the optimizer updates at
               least `FUSE_MIN_NUMEL` (1M) elements per step. Below 1M elements an eager step is
               cheap and compiling does not pay; by step 2000 a run has spent about as long in
               eager optimizer steps (≥ 2000 × ~5 ms) as compiling costs, the break-even point of
               renting vs buying, so the rule is never much more than 2× worse than the best
               choice made with hindsight.
  fused=True   native when available, else compiled (from step 2).
  fused=False  eager always: the transforms are the definition, nothing else runs.
If compiling fails (no C++ compiler, say), a warning is given and the eager path is used.
"""
from __future__ import annotations

import types
import warnings

import torch
from torch import Tensor

from .transforms import Context, Transform

FUSE_AFTER = 2000
FUSE_MIN_NUMEL = 1_000_000


def apply_update(transform: Transform, params: list[Tensor], grads: list[Tensor],
                 state: dict[str, list[Tensor]], lr, step, first: bool, powers=None) -> None:
    """θ ← c·θ + s·u/d where u = transform(g) and c, s, d are its pending factors."""
    ctx = Context(params, lr, step, first, powers=powers)
    updates = transform.update(grads, state, ctx)
    if ctx.decay is not None:
        torch._foreach_mul_(params, ctx.decay)
    if isinstance(ctx.scale, Tensor):  # compiled: scalars are 0-d tensors
        ctx.divisor, divisor = None, ctx.divisor
        updates = torch._foreach_mul(updates, ctx.scale) if divisor is None else \
            torch._foreach_div(torch._foreach_mul(updates, ctx.scale), divisor)
        torch._foreach_add_(params, updates)
    elif ctx.divisor is not None:
        torch._foreach_addcdiv_(params, updates, ctx.divisor, value=1.0 if ctx.scale is None else ctx.scale)
    else:
        torch._foreach_add_(params, updates, alpha=1.0 if ctx.scale is None else ctx.scale)


class FusedRule:
    """For a group without a native kernel, decides per step between `apply_update` and its
    compiled form (see the module doc)."""

    def __init__(self, fused: bool | None):
        self.fused = fused
        self.failed = False
        self._kernels: dict = {}

    def use_fused(self, steps_done: float, numel: int) -> bool:
        if self.failed or self.fused is False:
            return False
        if self.fused:
            return True
        return steps_done >= FUSE_AFTER and numel >= FUSE_MIN_NUMEL

    def run(self, transform: Transform, params, grads, state, lr: float, step: float) -> None:
        """The compiled update (lr and t passed as 0-d tensors so they never trigger a
        recompile), or the eager one after a compile failure."""
        kernel = self._kernels.get(transform)
        if kernel is None:
            # A fresh code object per transform: torch.compile's cache limit is per code object.
            code = apply_update.__code__.replace(co_name=f"update_{type(transform).__name__}")
            fn = types.FunctionType(code, apply_update.__globals__, code.co_name)
            kernel = self._kernels[transform] = torch.compile(fn)
        # βᵗ computed here, once: inside the kernel it would be recomputed for every element.
        bases = getattr(transform, "powers", ())
        scalars = torch.tensor([lr, step, *(b ** step for b in bases)], dtype=torch.float64)
        powers = dict(zip(bases, scalars[2:]))
        try:
            kernel(transform, params, grads, state, scalars[0], scalars[1], False, powers)
        except Exception as exc:  # noqa: BLE001 — a backend failure falls back to eager for good
            self.failed = True
            warnings.warn(f"nnopt: compiling the optimizer update failed ({type(exc).__name__}: "
                          f"{exc}); using the eager torch._foreach_* path", RuntimeWarning)
            apply_update(transform, params, grads, state, lr, step, False)


__all__ = ["apply_update", "FusedRule", "FUSE_AFTER", "FUSE_MIN_NUMEL"]
