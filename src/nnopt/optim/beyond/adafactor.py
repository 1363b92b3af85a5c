"""Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
Cost"), in torch.optim.Adafactor's form: second moments of a matrix kept as a row and a column
factor (memory O(n + m) instead of O(nm)), a relative step size and update clipping."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...params import Param
from ..blocks import by_shape, stacked
from ..define import register
from ..transforms import Ref, _divide, chain, decoupled_weight_decay, materialize


def _tensor_min(a, b):
    """min(a, b) for floats or 0-d tensors (the compiled path passes tensors)."""
    return torch.minimum(a, torch.as_tensor(b)) if isinstance(a, torch.Tensor) else min(a, b)


@dataclass(frozen=True)
class scale_by_factored_rms:
    """Adafactor's update, per tensor U of shape (…, n, m), t the step, α the lr:

        β̂₂ = 1 − t^c (c = ``beta2_decay`` ≤ 0);  ρ_t = min(α, 1/√t);  a_t = max(ε₂, RMS(θ))·ρ_t
        R ← β̂₂R + (1−β̂₂)·mean_m(U²);  C ← β̂₂C + (1−β̂₂)·mean_n(U²)      (matrices)
        V̂ = R·C / max(mean_n(R), ε₁)   (vectors: V ← β̂₂V + (1−β̂₂)U², V̂ = V)
        U ← U/√max(V̂, ε₁²);  u ← −a_t·U / max(1, RMS(U)/d)

    so the result already includes −α (no ``scale_by_lr`` after it). ε₁ None: the dtype's machine
    ε. States ``row_var``, ``col_var`` (matrices) and ``variance`` (vectors) as in torch; each
    parameter holds a 0-element placeholder for the ones its shape does not use. Tensors of one
    shape run together, stacked (k, …) (`nnopt.optim.blocks.by_shape`): a step costs a few
    kernels per distinct shape, not per tensor; the per-tensor norms are reductions over the
    stack's trailing dims."""

    tensorwise = True
    pending = True

    beta2_decay: float | Ref = -0.8
    eps1: float | Ref | None = None
    eps2: float | Ref = 1e-3
    d: float | Ref = 1.0
    slots = ("row_var", "col_var", "variance")

    def init(self, params):
        state = {name: [] for name in self.slots}
        for p in params:
            empty = p.new_zeros(0)
            matrix = p.dim() > 1
            state["row_var"].append(p.new_zeros(*p.shape[:-1], 1) if matrix else empty)
            state["col_var"].append(p.new_zeros(*p.shape[:-2], 1, p.shape[-1]) if matrix else empty)
            state["variance"].append(empty if matrix else torch.zeros_like(p))
        return state

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        t = ctx.step
        weight = t ** ctx.value(self.beta2_decay)
        rho = _tensor_min(ctx.lr, t ** -0.5)
        eps2, d = ctx.value(self.eps2), ctx.value(self.d)
        norms = torch._foreach_norm(ctx.params)
        out, divisor = list(updates), list(updates)
        for (shape, dtype, _), idx in by_shape(updates).items():
            pick = (lambda xs: [xs[i] for i in idx]) if len(idx) < len(updates) else (lambda xs: xs)
            us = pick(updates)
            u = stacked(us)
            eps1 = torch.finfo(dtype).eps if self.eps1 is None else ctx.value(self.eps1)
            if len(shape) > 1:
                rows, cols = pick(state["row_var"]), pick(state["col_var"])
                # sums of U² (a norm along dim −2 of a large matrix is ~50× slower: strided)
                square = u * u
                torch._foreach_lerp_(rows, square.mean(dim=-1, keepdim=True).unbind(0), weight)
                torch._foreach_lerp_(cols, square.mean(dim=-2, keepdim=True).unbind(0), weight)
                del square
                row = stacked(rows)
                estimate = (row / row.mean(dim=-2, keepdim=True).clamp_(min=eps1)) * stacked(cols)
            else:
                variances = pick(state["variance"])
                torch._foreach_lerp_(variances, torch._foreach_mul(us, us), weight)
                estimate = stacked(variances).clone()
            step = estimate.clamp_(min=eps1 * eps1).rsqrt_().mul_(u)
            size = math.prod(shape) ** 0.5
            clip = torch.clamp(torch.linalg.vector_norm(step.view(len(idx), -1), dim=1) / (size * d), min=1.0)
            inverse = clip / (torch.clamp(torch.stack(pick(norms)) / size, min=eps2) * -rho)
            for i, s, r in zip(idx, step.unbind(0), inverse.to(dtype).unbind(0)):
                out[i], divisor[i] = s, r
        # −1/a_t per tensor (0-d) stays pending: θ ← θ + U/(−1/a_t) is one addcdiv, no scaling pass
        ctx.owned = True
        return _divide(out, divisor, ctx)


def _check_eps(values: dict) -> None:
    if values["eps"][1] is None:
        raise ValueError(f"eps = {values['eps']!r} — ε₂, the floor of RMS(θ), must be a number")


@register("adafactor", torch_class=torch.optim.Adafactor, check=_check_eps, structural=("eps",), hyper={
    "lr": Param(float, 1e-2, ge=0, doc="α: the relative step is min(α, 1/√t)"),
    "beta2_decay": Param(float, -0.8, le=0, doc="c in β̂₂ = 1 − t^c"),
    "eps": Param(tuple, (None, 1e-3), length=2, item=Param(float, ge=0, nullable=True),
                 doc="(ε₁, ε₂): floor of the second moment (none: the dtype's ε), floor of RMS(θ) in the step size"),
    "d": Param(float, 1.0, ge=1, doc="clipping threshold of RMS(update)"),
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: decoupled decay θ ← (1 − αλ)θ")})
def adafactor(h):
    """Adafactor: factored second moments (a row and a column average per matrix), relative step
    max(ε₂, RMS(θ))·min(α, 1/√t) and update clipping (Shazeer & Stern 2018; torch.optim.Adafactor).
    ``eps`` = (ε₁, ε₂) is read once (structural): a change rebuilds the chain."""
    eps1, eps2 = h.eps
    return chain(scale_by_factored_rms(h.beta2_decay, eps1, eps2, h.d), decoupled_weight_decay(h.weight_decay))


__all__ = ["scale_by_factored_rms", "adafactor"]
