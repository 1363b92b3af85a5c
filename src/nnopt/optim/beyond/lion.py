"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an
interpolation between the momentum and the gradient, so every coordinate moves by exactly ±α."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...params import Param
from ..define import LR, register
from ..transforms import Ref, _zeros, axpy, chain, decoupled_weight_decay, lerp, materialize, scale_by_lr


@dataclass(frozen=True)
class scale_by_lion:
    """u ← sign(β₁m + (1−β₁)u); then m ← β₂m + (1−β₂)u (the momentum is updated after the sign
    is taken, with its own β₂). The ops are lion-pytorch's foreach form, two lerps (with tensor
    values, compiled, a multiply and an add); its for-loop form's multiply-and-add rounds the same
    interpolation differently only in the last bit (both are the oracle)."""

    elementwise = True
    pending = True

    b1: float | Ref = 0.9
    b2: float | Ref = 0.99
    slots = ("exp_avg",)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        m = state["exp_avg"]
        b1, b2 = ctx.value(self.b1), ctx.value(self.b2)
        if isinstance(b1, torch.Tensor) or isinstance(b2, torch.Tensor):  # compiled: one kernel anyway
            out = torch._foreach_mul(m, b1)
            axpy(out, updates, 1 - b1)
        else:  # lion-pytorch's foreach form: one lerp pass each
            out = torch._foreach_lerp(m, updates, 1 - b1)
        torch._foreach_sign_(out)
        lerp(m, updates, 1 - b2)
        ctx.owned = True
        return out


@register("lion", hyper={
    "lr": LR(1e-4),
    "betas": Param(tuple, (0.9, 0.99), length=2, item=Param(float, ge=0, le=1),
                   doc="(β₁, β₂): interpolation for the sign, decay of the momentum"),
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: decoupled decay θ ← (1 − αλ)θ")})
def lion(h):
    """Lion: θ ← (1 − αλ)θ − α·sign(β₁m + (1−β₁)g); m ← β₂m + (1−β₂)g (Chen et al. 2023;
    lion-pytorch). Take α 3–10× smaller than AdamW's and λ as many times larger."""
    return chain(scale_by_lion(*h.betas), scale_by_lr(), decoupled_weight_decay(h.weight_decay))


__all__ = ["scale_by_lion", "lion"]
