"""The fused path: the whole update of a param group compiled into one kernel by torch.compile
(C++/OpenMP on CPU, Triton on GPU), so each parameter, gradient and state tensor is read and
written once per step instead of once per ``_foreach`` op.

When is it used (``fused=``):
  True   from the second step on (the first step, which initializes momentum buffers, runs eager);
         the compile (seconds to a minute, once per optimizer configuration) is paid at step 2.
  False  never: torch._foreach_* ops only.
  None   (default) eager for short runs, fused for long ones, decided by a deterministic rule so a
         recipe gives the same numbers every time: fused from step `FUSE_AFTER` (2000) on when the
         optimizer updates at least `FUSE_MIN_NUMEL` (1M) elements per step. Below 1M elements an
         eager step is cheap and compiling does not pay; by step 2000 a run has spent about as long
         in eager optimizer steps (≥ 2000 × ~5 ms) as compiling costs, the break-even point of
         renting vs buying, so the rule is never more than about 2× worse than the best choice
         made with hindsight.
If compiling fails (no C++ compiler, say), a warning is given and the eager path is used.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .transforms import Context, Transform

FUSE_AFTER = 2000
FUSE_MIN_NUMEL = 1_000_000


def apply_update(transform: Transform, params: list[Tensor], grads: list[Tensor],
                 state: dict[str, list[Tensor]], lr: float, step: float) -> None:
    """θ ← c·θ + s·u/d, u = transform(g) with its pending factors c, s, d, by torch._foreach_*
    ops (eager)."""
    ctx = Context(params, lr, step)
    updates = transform.update(grads, state, ctx)
    if ctx.decay != 1.0:
        torch._foreach_mul_(params, ctx.decay)
    if ctx.divisor is not None:
        torch._foreach_addcdiv_(params, updates, ctx.divisor, value=ctx.scale)
    else:
        torch._foreach_add_(params, updates, alpha=ctx.scale)


_compiled = torch.compile(apply_update, dynamic=False)


class FusedRule:
    """Decides per step between `apply_update` and its compiled form (see the module doc)."""

    def __init__(self, fused: bool | None):
        self.fused = fused
        self.failed = False

    def use_fused(self, steps_done: float, numel: int) -> bool:
        if self.failed or self.fused is False:
            return False
        if self.fused:
            return True
        return steps_done >= FUSE_AFTER and numel >= FUSE_MIN_NUMEL

    def kernel(self, transform: Transform):
        """The compiled update, or the eager one after a compile failure."""
        def run(*args):
            try:
                _compiled(*args)
            except Exception as exc:  # noqa: BLE001 — any backend failure falls back to eager
                self.failed = True
                warnings.warn(f"nnopt: compiling the optimizer update failed ({type(exc).__name__}: "
                              f"{exc}); using the eager torch._foreach_* path", RuntimeWarning)
                apply_update(*args)
        return run


__all__ = ["apply_update", "FusedRule", "FUSE_AFTER", "FUSE_MIN_NUMEL"]
