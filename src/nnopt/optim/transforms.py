"""Update rules as small transforms over lists of tensors, with explicit state.

A transform turns the incoming update direction ``u`` (at first, the gradients ``g``) into a new
one. Its state is a few named buffers per parameter (``init``), updated in place by ``update``.
``chain`` runs transforms in order; the optimizer applies the final update: θ ← c·θ + s·u, where
the scalars s (``ctx.scale``, from ``scale``/``scale_by_lr``) and c (``ctx.decay``, from
``decoupled_weight_decay``) and a final division (``ctx.divisor``) are kept aside until a
transform needs u itself, so they cost no extra pass over memory.  The chapter's two families are two kinds of transform:

* adapting the step size α: ``scale_by_sum_sq`` (Adagrad), ``scale_by_rms`` (RMSprop),
  ``scale_by_adadelta``; ``scale_by_lr`` multiplies by −α (the optimizer's current lr);
* correcting the gradient estimate: ``trace`` (momentum, Nesterov), ``book_nesterov``;
* both: ``scale_by_adam`` (Adam ≈ momentum + RMSprop, with bias correction).

Each transform is a frozen dataclass of its hyperparameters, so per-group settings build one per
group. State names follow torch.optim (``exp_avg``, ``momentum_buffer``, ...). All of these are
``elementwise`` (each output element depends on the same element of u, θ and the state only),
which lets the eager path run them on cache-sized blocks (see ``blocks``).

Conventions: ``eps_inside_sqrt=False`` is torch's u/(√v + ε); True is the book's u/√(v + ε).
Transforms never write into the tensors they are given unless ``ctx.owned`` says the chain made
them (the first transform sees the user's ``p.grad``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

Tensors = list[Tensor]
State = dict[str, Tensors]


@dataclass
class Context:
    """What a transform may read besides its state: the parameters θ, the current lr α, the step
    t and ``first`` (t == 1), whether the incoming updates are owned, and the pending factors
    (None: none): the update is really ``scale``·u/``divisor``, and θ is to be multiplied by
    ``decay``. lr, step and the factors are floats, or 0-d tensors in the compiled path (so
    Python branches only test ``first``, ``owned`` and ``is None``)."""

    params: Tensors
    lr: float | Tensor
    step: float | Tensor
    first: bool
    owned: bool = False
    scale: float | Tensor | None = None
    decay: float | Tensor | None = None
    powers: dict | None = None
    divisor: Tensors | None = None

    def power(self, base: float):
        """baseᵗ; precomputed (``powers``) in the compiled path for the bases a transform lists
        in its ``powers`` attribute."""
        return self.powers[base] if self.powers is not None else base ** self.step


class Transform(Protocol):
    """``slots`` names its state; ``elementwise = True`` (optional) allows cache blocking."""

    def init(self, params: Tensors) -> State: ...

    def update(self, updates: Tensors, state: State, ctx: Context) -> Tensors: ...


def _zeros(params: Tensors, *names: str) -> State:
    return {name: [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
            for name in names}


def materialize(updates: Tensors, ctx: Context) -> Tensors:
    """The updates with the pending ``ctx.divisor`` and ``ctx.scale`` applied (every transform
    that reads u calls this first)."""
    if ctx.divisor is not None:
        divisor, ctx.divisor = ctx.divisor, None
        if ctx.owned:
            torch._foreach_div_(updates, divisor)
        else:
            updates, ctx.owned = torch._foreach_div(updates, divisor), True
    if ctx.scale is not None:
        factor, ctx.scale = ctx.scale, None
        if ctx.owned:
            torch._foreach_mul_(updates, factor)
        else:
            updates, ctx.owned = torch._foreach_mul(updates, factor), True
    return updates


def _divide(updates: Tensors, denom: Tensors, ctx: Context) -> Tensors:
    """u / d, kept pending in ``ctx.divisor`` (applied by the next reader or the final
    θ ← θ + s·u/d, one addcdiv as in torch)."""
    ctx.divisor = denom
    return updates


def _rsqrt_denominator(v: Tensors, eps: float, eps_inside_sqrt: bool, scale=None) -> Tensors:
    """√(v/scale) + ε (torch) or √(v/scale + ε) (book), as new tensors (scale None: 1)."""
    if eps_inside_sqrt:
        if scale is None:
            out = torch._foreach_add(v, eps)
        else:
            out = torch._foreach_div(v, scale)
            torch._foreach_add_(out, eps)
        torch._foreach_sqrt_(out)
        return out
    out = torch._foreach_sqrt(v)
    if scale is not None:
        torch._foreach_div_(out, scale ** 0.5)
    torch._foreach_add_(out, eps)
    return out


@dataclass(frozen=True)
class Chain:
    """Apply `transforms` in order; their state names must not collide."""

    transforms: tuple

    def __post_init__(self):
        seen: dict[str, object] = {}
        for t in self.transforms:
            for name in getattr(t, "slots", ()):
                if name in seen:
                    raise ValueError(f"chain: state {name!r} of {type(t).__name__} collides with "
                                     f"{type(seen[name]).__name__}; chain each kind of transform once")
                seen[name] = t

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(n for t in self.transforms for n in getattr(t, "slots", ()))

    @property
    def elementwise(self) -> bool:
        return all(getattr(t, "elementwise", False) for t in self.transforms)

    @property
    def powers(self) -> tuple[float, ...]:
        return tuple(dict.fromkeys(b for t in self.transforms for b in getattr(t, "powers", ())))

    def init(self, params: Tensors) -> State:
        state: State = {}
        for t in self.transforms:
            state.update(t.init(params))
        return state

    def update(self, updates: Tensors, state: State, ctx: Context) -> Tensors:
        for t in self.transforms:
            updates = t.update(updates, state, ctx)
        return updates


def chain(*transforms) -> Chain:
    """chain(a, b, c): u ← c(b(a(u))), the state being the union of theirs."""
    return Chain(tuple(transforms))


@dataclass(frozen=True)
class Stateless:
    slots = ()
    elementwise = True

    def init(self, params: Tensors) -> State:
        return {}


@dataclass(frozen=True)
class scale(Stateless):
    """u ← c·u."""

    factor: float

    def update(self, updates, state, ctx):
        ctx.scale = self.factor if ctx.scale is None else ctx.scale * self.factor
        return updates


@dataclass(frozen=True)
class scale_by_lr(Stateless):
    """u ← −α_t·u with α_t = α/(1 + (t−1)·decay) (torch Adagrad's lr_decay; decay=0: α_t = α)."""

    decay: float = 0.0

    def update(self, updates, state, ctx):
        lr = ctx.lr if self.decay == 0 else ctx.lr / (1 + (ctx.step - 1) * self.decay)
        return scale(-lr).update(updates, state, ctx)


@dataclass(frozen=True)
class add_l2(Stateless):
    """u ← u + λθ: the gradient of the L2 penalty (λ/2)‖θ‖² (torch's `weight_decay`)."""

    weight_decay: float

    def update(self, updates, state, ctx):
        if self.weight_decay == 0:
            return updates
        updates = materialize(updates, ctx)
        if ctx.owned:
            torch._foreach_add_(updates, ctx.params, alpha=self.weight_decay)
            return updates
        ctx.owned = True
        return torch._foreach_add(updates, ctx.params, alpha=self.weight_decay)


@dataclass(frozen=True)
class decoupled_weight_decay(Stateless):
    """θ ← (1 − αλ)θ + u, decay decoupled from the gradient (AdamW; torch applies it first)."""

    weight_decay: float

    def update(self, updates, state, ctx):
        if self.weight_decay != 0:
            factor = 1 - ctx.lr * self.weight_decay
            ctx.decay = factor if ctx.decay is None else ctx.decay * factor
        return updates


@dataclass(frozen=True)
class trace:
    """Momentum: b ← ρb + (1−d)·u (b₁ = u), then u ← b, or u + ρb with ``nesterov`` (torch SGD).

    Placed after ``scale_by_lr`` it is the book's form Δθ ← ρΔθ − αg (with d = 0), which differs
    from torch's when α changes (torch scales the buffer by the current α).
    """

    elementwise = True

    momentum: float
    dampening: float = 0.0
    nesterov: bool = False
    slots = ("momentum_buffer",)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        buf = state["momentum_buffer"]
        if ctx.divisor is not None and ctx.scale is None and not (ctx.first or self.nesterov):
            # b ← ρb + (1−d)·u/divisor in one addcdiv (torch RMSprop's form), u never made
            torch._foreach_mul_(buf, self.momentum)
            torch._foreach_addcdiv_(buf, updates, ctx.divisor, value=1 - self.dampening)
            ctx.divisor, ctx.owned = None, False
            return buf
        updates = materialize(updates, ctx)
        if ctx.first:
            torch._foreach_copy_(buf, updates)
        else:
            torch._foreach_mul_(buf, self.momentum)
            torch._foreach_add_(buf, updates, alpha=1 - self.dampening)
        if not self.nesterov:
            ctx.owned = False  # the buffer must not be modified downstream
            return buf
        if ctx.owned:
            torch._foreach_add_(updates, buf, alpha=self.momentum)
            return updates
        ctx.owned = True
        return torch._foreach_add(updates, buf, alpha=self.momentum)


@dataclass(frozen=True)
class book_nesterov:
    """The book's Nesterov: v ← ρv − α∇f(θ + ρv); θ ← θ + v, with the parameters holding the
    look-ahead point θ̃ = θ + ρv where the gradient is taken. Then θ̃ ← θ̃ + (1+ρ)v_new − ρv_old.
    Place after ``scale_by_lr`` (the incoming u is −α·g). Same trajectory as torch's Nesterov
    at constant α."""

    elementwise = True

    momentum: float
    slots = ("velocity",)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        v = state["velocity"]
        out = torch._foreach_mul(v, -self.momentum)          # −ρ v_old
        torch._foreach_mul_(v, self.momentum)
        torch._foreach_add_(v, updates)                      # v_new = ρ v_old + u
        torch._foreach_add_(out, v, alpha=1 + self.momentum)
        ctx.owned = True
        return out


@dataclass(frozen=True)
class scale_by_sum_sq:
    """Adagrad: r ← r + u²; u ← u/(√r + ε) (or u/√(r + ε) with eps_inside_sqrt)."""

    elementwise = True

    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    eps_inside_sqrt: bool = False
    slots = ("sum",)

    def init(self, params):
        return {"sum": [torch.full_like(p, self.initial_accumulator_value,
                                        memory_format=torch.preserve_format) for p in params]}

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        r = state["sum"]
        torch._foreach_addcmul_(r, updates, updates, value=1)
        denom = _rsqrt_denominator(r, self.eps, self.eps_inside_sqrt)
        return _divide(updates, denom, ctx)


@dataclass(frozen=True)
class scale_by_rms:
    """RMSprop: r ← βr + (1−β)u²; u ← u/(√r + ε). ``centered``: also m ← βm + (1−β)u and
    u ← u/(√(r − m²) + ε) (torch RMSprop; β is torch's `alpha`)."""

    elementwise = True

    alpha: float = 0.99
    eps: float = 1e-8
    centered: bool = False
    eps_inside_sqrt: bool = False

    @property
    def slots(self):
        return ("square_avg", "grad_avg") if self.centered else ("square_avg",)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        r = state["square_avg"]
        torch._foreach_mul_(r, self.alpha)
        torch._foreach_addcmul_(r, updates, updates, value=1 - self.alpha)
        if self.centered:
            m = state["grad_avg"]
            torch._foreach_lerp_(m, updates, 1 - self.alpha)
            var = torch._foreach_addcmul(r, m, m, value=-1)
            denom = _rsqrt_denominator(var, self.eps, self.eps_inside_sqrt)
        else:
            denom = _rsqrt_denominator(r, self.eps, self.eps_inside_sqrt)
        return _divide(updates, denom, ctx)


@dataclass(frozen=True)
class scale_by_adadelta:
    """Adadelta: r ← ρr + (1−ρ)u²; Δ = √(s + ε)/√(r + ε)·u; s ← ρs + (1−ρ)Δ²; u ← Δ.
    ε inside the square roots is torch's (and the paper's) form; eps_inside_sqrt=False gives
    (√s + ε)/(√r + ε)."""

    elementwise = True

    rho: float = 0.9
    eps: float = 1e-6
    eps_inside_sqrt: bool = True
    slots = ("square_avg", "acc_delta")

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        r, s = state["square_avg"], state["acc_delta"]
        torch._foreach_mul_(r, self.rho)
        torch._foreach_addcmul_(r, updates, updates, value=1 - self.rho)
        if self.eps_inside_sqrt:  # √((s + ε)/(r + ε)): one square root instead of two
            delta = torch._foreach_add(s, self.eps)
            torch._foreach_div_(delta, torch._foreach_add(r, self.eps))
            torch._foreach_sqrt_(delta)
        else:
            delta = _rsqrt_denominator(s, self.eps, False)
            torch._foreach_div_(delta, _rsqrt_denominator(r, self.eps, False))
        torch._foreach_mul_(delta, updates)
        torch._foreach_mul_(s, self.rho)
        torch._foreach_addcmul_(s, delta, delta, value=1 - self.rho)
        ctx.owned = True
        return delta


@dataclass(frozen=True)
class scale_by_adam:
    """Adam: m ← β₁m + (1−β₁)u; v ← β₂v + (1−β₂)u²; u ← m̂/(√v̂ + ε) with the bias corrections
    m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (``bias_correction=False``: m̂ = m, v̂ = v). ``amsgrad`` uses
    max(v) over time in place of v (torch's form: the max of the uncorrected v)."""

    elementwise = True

    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    amsgrad: bool = False
    bias_correction: bool = True
    eps_inside_sqrt: bool = False

    @property
    def slots(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    @property
    def powers(self):
        return (self.b1, self.b2) if self.bias_correction else ()

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        torch._foreach_lerp_(m, updates, 1 - self.b1)
        torch._foreach_mul_(v, self.b2)
        torch._foreach_addcmul_(v, updates, updates, value=1 - self.b2)
        if self.amsgrad:
            torch._foreach_maximum_(state["max_exp_avg_sq"], v)
            v = state["max_exp_avg_sq"]
        bc2 = 1 - ctx.power(self.b2) if self.bias_correction else None
        denom = _rsqrt_denominator(v, self.eps, self.eps_inside_sqrt, bc2)
        ctx.owned = False
        if self.bias_correction:
            ctx.scale = 1 / (1 - ctx.power(self.b1))
        return _divide(m, denom, ctx)


__all__ = ["Context", "Transform", "Chain", "chain", "materialize", "scale", "scale_by_lr", "add_l2",
           "decoupled_weight_decay", "trace", "book_nesterov", "scale_by_sum_sq", "scale_by_rms",
           "scale_by_adadelta", "scale_by_adam"]
