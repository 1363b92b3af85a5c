"""Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks"; Liu et
al. 2025, "Muon is Scalable for LLM Training"): momentum whose update matrix is orthogonalized by
a Newton–Schulz iteration, for 2-D weights; every other parameter (biases, norm weights, conv
filters) is trained by AdamW. The optimizer splits them itself."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ...params import Param
from .. import native
from ..blocks import by_shape
from ..define import LR
from ..groups import normalize_groups, split_no_decay
from ..named import ADAM
from ..optimizer import ChainOptimizer
from ..transforms import Ref, _divide, _zeros, chain, decoupled_weight_decay, lerp, materialize, scale_by_adam, scale_by_lr
from . import custom

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
ADJUST = ("original", "match_rms_adamw", "none")


def newton_schulz(m: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float) -> Tensor:
    """≈ UVᵀ for m = USVᵀ (or each matrix of a (k, n, m) stack), in bfloat16: X ← m/‖m‖_F (the
    wide way round), then `steps` times X ← aX + (bA + cA²)X with A = XXᵀ, the quintic that
    pushes every singular value towards [0.7, 1.2] fast (Jordan's coefficients; torch.optim.Muon).
    A stack runs as bmm/baddbmm, which give torch's per-matrix addmm bit for bit (tested); one
    matrix as torch's mm/addmm (bmm copies a transposed operand)."""
    a, b, c = coefficients
    x = m.to(torch.bfloat16, copy=True)
    if m.size(-2) > m.size(-1):
        x = x.mT
    x.div_(torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp_(min=eps))
    mm, addmm = (torch.bmm, torch.baddbmm) if x.dim() == 3 else (torch.mm, torch.addmm)
    for _ in range(steps):
        gram = mm(x, x.mT)
        x = addmm(x, addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if m.size(-2) > m.size(-1) else x


def lr_ratio(shape: torch.Size, adjust: str | None) -> float:
    """The per-matrix lr factor for an (A, B) weight: "original" (or None, torch's default) √max(1, A/B) (Jordan),
    "match_rms_adamw" 0.2·√max(A, B) (Liu et al.: the update RMS of AdamW, so AdamW's lr and
    decay carry over), "none" 1."""
    rows, cols = shape[:2]
    if adjust in ("original", None):
        return math.sqrt(max(1.0, rows / cols))
    if adjust == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return 1.0


@dataclass(frozen=True)
class orthogonalize:
    """Muon's direction for 2-D tensors: b ← μb + (1−μ)u; v = u + μ(b − u) (``nesterov``) or b;
    u ← NS(v)·ratio(shape) (see `newton_schulz`, `lr_ratio`). Chain ``scale_by_lr`` after it.
    Same-shape matrices run as one stack. As torch, u' is NS's bfloat16 output, added to θ in θ's
    dtype, with 1/ratio a pending divisor (a transform after it that reads u gets bfloat16)."""

    tensorwise = True
    pending = True

    momentum: float | Ref = 0.95
    nesterov: bool = True
    ns_coefficients: tuple = NS_COEFFICIENTS
    ns_steps: int = 5
    eps: float | Ref = 1e-7
    adjust_lr_fn: str | None = None
    slots = ("momentum_buffer",)

    @property
    def refs(self) -> tuple[Ref, ...]:
        """The Refs it reads, those inside ``ns_coefficients`` included."""
        values = (self.momentum, self.eps, *self.ns_coefficients)
        return tuple(v for v in values if isinstance(v, Ref))

    def init(self, params):
        bad = [tuple(p.shape) for p in params if p.ndim != 2]
        if bad:
            raise ValueError(f"muon orthogonalizes 2-D parameters only, got shape {bad[0]}")
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        bufs = state["momentum_buffer"]
        mu = ctx.value(self.momentum)
        lerp(bufs, updates, 1 - mu)
        coefficients = tuple(ctx.value(c) for c in self.ns_coefficients)
        eps = ctx.value(self.eps)
        out = list(updates)
        divisor = list(updates)
        for (shape, dtype, _), idx in by_shape(updates).items():
            b = bufs[idx[0]] if len(idx) == 1 else torch.stack([bufs[i] for i in idx])
            if self.nesterov:
                u = updates[idx[0]] if len(idx) == 1 else torch.stack([updates[i] for i in idx])
                b = u.lerp(b, mu)
            o = newton_schulz(b, coefficients, self.ns_steps, eps)
            if isinstance(ctx.lr, Tensor):  # compiled: a bfloat16 u times a 0-d lr tensor would round to bfloat16
                o = o.to(dtype)
            # 1/ratio stays pending: θ ← θ − α·o/(1/ratio) adds o in θ's dtype, as torch's add_
            inverse = o.new_full((), 1 / lr_ratio(shape, self.adjust_lr_fn), dtype=dtype)  # a fill: no copy from the host
            for i, one in zip(idx, o.unbind(0) if len(idx) > 1 else (o,)):
                out[i], divisor[i] = one, inverse
        ctx.owned = True
        return _divide(out, divisor, ctx)


def _muon_chain(h):
    """Muon's chain for the 2-D group, AdamW's for the others (the group key ``muon`` says which)."""
    if h.muon:
        core = orthogonalize(h.momentum, h.nesterov, h.ns_coefficients, h.ns_steps, h.eps, h.adjust_lr_fn)
    else:
        b1, b2 = h.adamw_betas
        core = scale_by_adam(b1, b2, h.adamw_eps)
    return chain(core, scale_by_lr(), decoupled_weight_decay(h.weight_decay))


def _muon_kernel(h):
    """torch's fused AdamW for the group of the other parameters; none for Muon's own."""
    return None if h.muon else native.adam_update(torch._fused_adamw_, betas="adamw_betas", eps="adamw_eps")


_muon_chain.structural = frozenset({"ns_steps"})
_muon_chain.kernel = _muon_kernel


def split_muon(params, adamw_lr: float, adamw_weight_decay: float, no_decay_1d: bool) -> list[dict]:
    """Each group → its 2-D parameters (``muon = True``) and the rest (``muon = False``, at
    `adamw_lr` and `adamw_weight_decay`, 1-D ones without decay when `no_decay_1d`)."""
    out = []
    for group in normalize_groups(params):
        names = group.get("param_names")
        rest = {k: v for k, v in group.items() if k not in ("params", "param_names")}
        for muon in (True, False):
            picked = [i for i, p in enumerate(group["params"]) if (p.ndim == 2) == muon]
            if not picked:
                continue
            part = dict(rest, muon=muon, params=[group["params"][i] for i in picked])
            if names:
                part["param_names"] = [names[i] for i in picked]
            if not muon:
                part.setdefault("lr", adamw_lr)
                part["weight_decay"] = rest.get("adamw_weight_decay", adamw_weight_decay)
                if no_decay_1d and part["weight_decay"] > 0:
                    out.extend(split_no_decay([part], part["weight_decay"]))
                    continue
            out.append(part)
    return out


def _muon(params, *, adamw_lr, adamw_weight_decay, no_decay_1d, **values):
    # muon=True: a group loaded from torch.optim.Muon's state dict (2-D parameters only) is a Muon group
    return ChainOptimizer(split_muon(params, adamw_lr, adamw_weight_decay, no_decay_1d), _muon_chain, muon=True,
                          **values)


custom.register("muon", _muon, _muon_chain, torch_class=torch.optim.Muon, hyper={
    "lr": LR(1e-3),
    "momentum": Param(float, 0.95, ge=0, lt=1, doc="μ: b ← μb + (1−μ)g"),
    "nesterov": Param(bool, True, doc="orthogonalize g + μ(b − g) instead of b"),
    "ns_coefficients": Param(tuple, NS_COEFFICIENTS, length=3, item=Param(float),
                             doc="(a, b, c) of the Newton–Schulz quintic"),
    "ns_steps": Param(int, 5, ge=1, lt=100, doc="Newton–Schulz iterations"),
    "eps": Param(float, 1e-7, gt=0, doc="floor of ‖m‖_F before the iteration"),
    "adjust_lr_fn": Param(str, None, choices=ADJUST, nullable=True,
                          doc="per-matrix lr factor (see lr_ratio; none: torch's default, \"original\")"),
    "weight_decay": Param(float, 0.1, ge=0, doc="λ: decoupled decay of the 2-D weights θ ← (1 − αλ)θ"),
    "adamw_lr": LR(3e-4),
    "adamw_betas": ADAM["betas"],
    "adamw_eps": Param(float, 1e-8, gt=0),
    "adamw_weight_decay": Param(float, 0.0, ge=0, doc="AdamW's decoupled decay of the other parameters")},
    doc="""Muon: b ← μb + (1−μ)g; θ ← (1 − αλ)θ − α·ratio·NS₅(g + μ(b − g)) for 2-D weights, AdamW
    at `adamw_lr` for every other parameter (Jordan et al. 2024; torch.optim.Muon + AdamW).""")


__all__ = ["newton_schulz", "lr_ratio", "orthogonalize", "split_muon"]
