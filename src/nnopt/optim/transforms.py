"""Update rules as small transforms over lists of tensors, with explicit state.

The transform contract (the one place it is written down)
----------------------------------------------------------
A transform turns the incoming update direction ``u`` (at first the gradients ``g``, one tensor per
parameter) into a new one; the optimizer then applies θ ← θ + u.

* ``init(params) -> {slot: [tensor per param]}`` makes its state; ``slots`` names the slots (state
  keys follow torch.optim: ``exp_avg``, ``momentum_buffer``, ...; two transforms of a chain must
  not share a slot). ``update(u, state, ctx) -> u'`` may write into u and its own slots, nothing
  else: the chain hands it a u it owns (a copy where needed), every pending factor applied.
  `Stateful` is the base to derive from: its hook ``apply(u, state, ctx)`` gets exactly that.
* ``ctx`` (a `StepContext`) is read only: ``ctx.params`` (θ), ``ctx.lr``, ``ctx.step`` (t, 1 on
  the first update), ``ctx.first`` and the values of its hyperparameters through ``ctx.value(h)``
  (``ctx.power(b)``: bᵗ).
* **Hyperparameters** are floats, or `Ref`s: a Ref names a param-group key (``Ref("momentum")``,
  ``Ref("betas.0")``) whose value is read at every step, so a schedule may move it (one-cycle's
  momentum) without a new chain or a recompile. ``bool(ref)`` is "non-zero when the chain was
  built"; the optimizer rebuilds the chain when that changes (a structural choice, like ``nesterov``).
* **Compiled path.** Under torch.compile, lr, t and hyperparameter values are 0-d tensors: Python
  code may branch on ``ctx.first``, ``is None`` and a Ref's truth value, never on a value. Use the
  helpers `axpy`, `addcmul`, `lerp` (they accept a number or a 0-d tensor).
* ``elementwise = True`` (optional) says each output element depends on the same element of u, θ
  and the state only: the eager CPU path may then run the chain on cache-sized blocks (a 0-d
  slot then comes whole with each piece of its tensor: change it once per step).
  ``tensorwise = True`` (optional) says each output tensor depends on the same tensor of u, θ and
  the state only (a per-tensor norm, a per-tensor 0-d state): the chain may run on groups of whole
  tensors.

The fusion rules (only for a transform that sets ``pending = True``)
--------------------------------------------------------------------
Scalings are kept out of memory passes: the update is really ``s``·u/``d`` and θ is to be
multiplied by ``c`` before it is added (θ ← c·θ + s·u/d, one ``addcdiv`` at the end, as torch). A
transform that opts in gets a `FusionContext` holding those pending factors — ``ctx.scale`` (s),
``ctx.divisor`` (d, per tensor), ``ctx.decay`` (c) — and ``ctx.owned`` (whether u may be written).
It must call `materialize` (or `own`) before it reads u's values, may leave its own factor pending
instead of taking a pass (``scale_by_lr`` sets s, ``scale_by_adam`` sets d, AdamW's decay sets c),
and writes into u only when ``ctx.owned``; returning a state buffer as u' means ``ctx.owned =
False``. A last transform may set ``ctx.lerp = (targets, w)``: θ ← θ + w·(target − θ) after the
decay and before the addition, one ``lerp`` pass over θ (schedule-free's averaging towards z). A
transform does no algebra on a factor pending from another: it materializes it.

A plain function works too: ``pure(torch.sign)`` (u' = f(u) per tensor) or ``pure(f, state=
{"ema": torch.zeros_like})`` with ``f(u, s) -> (u', s')`` (s: that parameter's slots); ``chain``
wraps a bare callable in `pure`. Such a function must not write into its arguments.

The chapter's two families are two kinds of transform:
* adapting the step size α: ``scale_by_sum_sq`` (Adagrad), ``scale_by_rms`` (RMSprop),
  ``scale_by_adadelta``; ``scale_by_lr`` multiplies by −α (the optimizer's current lr);
* correcting the gradient estimate: ``trace`` (momentum, Nesterov), ``book_nesterov``;
* both: ``scale_by_adam`` (Adam ≈ momentum + RMSprop, with bias correction).

Conventions: ``eps_inside_sqrt=False`` is torch's u/(√v + ε); True is the book's u/√(v + ε).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import torch
from torch import Tensor

Tensors = list[Tensor]
State = dict[str, Tensors]
Number = float | Tensor


@dataclass(frozen=True)
class Ref:
    """A hyperparameter read from the param group at every step: ``key`` is a group key, or
    ``key.i`` for item i of a tuple (``betas.0``). ``value`` is the value when the chain was
    built; only its being non-zero is used (``bool(ref)``), and it does not take part in ==."""

    key: str
    value: Any = field(default=1.0, compare=False)

    def __bool__(self) -> bool:
        return isinstance(self.value, Tensor) or self.value != 0

    def resolve(self, group: Mapping) -> Number:
        """The current value in `group`."""
        name, _, index = self.key.partition(".")
        return group[name][int(index)] if index else group[name]


def refs_of(transform) -> tuple[Ref, ...]:
    """The Refs a transform reads: its ``refs`` attribute, else its dataclass fields that are Refs."""
    if hasattr(transform, "refs"):
        return tuple(transform.refs)
    if dataclasses.is_dataclass(transform):
        return tuple(v for f in dataclasses.fields(transform) if isinstance(v := getattr(transform, f.name), Ref))
    return ()


def power_key(base) -> str:
    """The ``ctx.hyper`` key of baseᵗ, precomputed in the compiled path."""
    return f"{base.key if isinstance(base, Ref) else base!r}^t"


@dataclass
class StepContext:
    """What every transform may read besides its state (see the module doc). ``hyper`` holds the
    values of ``lr`` and of the chain's Refs (and, compiled, baseᵗ under `power_key`)."""

    params: Tensors
    hyper: dict
    step: Number
    first: bool

    @property
    def lr(self) -> Number:
        return self.hyper["lr"]

    def value(self, h) -> Number:
        """A hyperparameter's current value: a Ref's from the group, a number as it is."""
        return self.hyper[h.key] if isinstance(h, Ref) else h

    def power(self, base) -> Number:
        """baseᵗ (base a number or a Ref)."""
        key = power_key(base)
        return self.hyper[key] if key in self.hyper else self.value(base) ** self.step


@dataclass
class FusionContext(StepContext):
    """A `StepContext` with the pending factors, for transforms that opt into fusion (``pending =
    True``; the rules are in the module doc); `view` is what the others get."""

    owned: bool = False
    scale: Number | None = None
    decay: Number | None = None
    lerp: tuple[Tensors, Number] | None = None
    divisor: Tensors | None = None
    scratch: Tensors | None = None
    _view: StepContext | None = field(default=None, repr=False)

    def view(self) -> StepContext:
        """The read-only step context, without the pending factors."""
        if self._view is None:
            self._view = StepContext(self.params, self.hyper, self.step, self.first)
        return self._view


class Transform(Protocol):
    """See the module doc for the contract."""

    def init(self, params: Tensors) -> State: ...

    def update(self, updates: Tensors, state: State, ctx: StepContext) -> Tensors: ...


class Stateful:
    """Base of a transform with state that leaves fusion to the chain (module doc): ``apply(u,
    state, ctx)`` gets u owned — write into it freely — with every pending factor applied, and the
    read-only `StepContext`. ``slots`` names the state; `init` makes zeros like each parameter per
    slot (override it for other initial values)."""

    slots: tuple[str, ...] = ()

    def init(self, params: Tensors) -> State:
        return _zeros(params, *self.slots)

    def update(self, updates: Tensors, state: State, ctx: StepContext) -> Tensors:
        return self.apply(updates, state, ctx)

    def apply(self, updates: Tensors, state: State, ctx: StepContext) -> Tensors:
        raise NotImplementedError


# -- helpers that take a number or a 0-d tensor (the compiled path passes tensors) -------------
def axpy(dst: Tensors, src: Tensors, a: Number) -> None:
    """dst ← dst + a·src."""
    if isinstance(a, Tensor):
        torch._foreach_add_(dst, torch._foreach_mul(src, a))
    else:
        torch._foreach_add_(dst, src, alpha=a)


def addcmul(dst: Tensors, x: Tensors, y: Tensors, a: Number) -> None:
    """dst ← dst + a·x·y."""
    if isinstance(a, Tensor):
        torch._foreach_add_(dst, torch._foreach_mul(torch._foreach_mul(x, y), a))
    else:
        torch._foreach_addcmul_(dst, x, y, value=a)


def plus(x: Tensors, y: Tensors, a: Number) -> Tensors:
    """x + a·y as new tensors."""
    if isinstance(a, Tensor):
        return torch._foreach_add(x, torch._foreach_mul(y, a))
    return torch._foreach_add(x, y, alpha=a)


def lerp(dst: Tensors, x: Tensors, w: Number) -> None:
    """dst ← dst + w·(x − dst)."""
    if isinstance(w, Tensor):
        torch._foreach_add_(dst, torch._foreach_mul(torch._foreach_sub(x, dst), w))
    else:
        torch._foreach_lerp_(dst, x, w)


class Scratch:
    """Temporaries a transform keeps between steps: ``like(tensors)`` gives tensors of their
    shapes, views of one flat buffer per (dtype, device) that grows as needed, overwritten by the
    next call. On the CPU a fresh large tensor is memory from the system whose pages fault in on
    the first write — several times the cost of the op that fills it (256K float32: 0.46 ms for
    ``_foreach_abs`` against 0.06 ms into a kept buffer). The views are kept per list of shapes
    (a chain cut into blocks asks for a few such lists). A request over `limit` elements (a whole
    large tensor under ``foreach=False``) gets fresh tensors: the buffer never outgrows a few
    cache blocks."""

    limit = 1 << 19

    def __init__(self):
        self._buffers: dict[tuple, Tensor] = {}
        self._views: dict[tuple, Tensors] = {}

    def like(self, tensors: Tensors) -> Tensors:
        first = tensors[0]
        key = (first.dtype, first.device, *(t.shape for t in tensors))
        views = self._views.get(key)
        if views is None:
            total = sum(t.numel() for t in tensors)
            if total > self.limit:
                return [torch.empty_like(t) for t in tensors]
            buffer = self._buffers.get(key[:2])
            if buffer is None or buffer.numel() < total:
                buffer = self._buffers[key[:2]] = torch.empty(total, dtype=first.dtype, device=first.device)
                self._views.clear()
            views, offset = [], 0
            for t in tensors:
                views.append(buffer[offset:offset + t.numel()].view(t.shape))
                offset += t.numel()
            self._views[key] = views
        return views


def _zeros(params: Tensors, *names: str) -> State:
    return {name: [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
            for name in names}


def materialize(updates: Tensors, ctx: FusionContext) -> Tensors:
    """The updates with the pending ``ctx.divisor`` and ``ctx.scale`` applied. A divisor that is
    the chain's own temporary (``ctx.scratch``) receives the quotient on the CPU: a new tensor
    there is fresh memory from the system for a large one, and faulting its pages in costs more
    than the division."""
    if ctx.divisor is not None:
        divisor, ctx.divisor = ctx.divisor, None
        if ctx.owned:
            torch._foreach_div_(updates, divisor)
        elif divisor is ctx.scratch and divisor[0].device.type == "cpu":
            for u, d in zip(updates, divisor):
                torch.div(u, d, out=d)
            updates, ctx.owned = divisor, True
        else:
            updates, ctx.owned = torch._foreach_div(updates, divisor), True
    if ctx.scale is not None:
        factor, ctx.scale = ctx.scale, None
        if ctx.owned:
            torch._foreach_mul_(updates, factor)
        else:
            updates, ctx.owned = torch._foreach_mul(updates, factor), True
    return updates


def own(updates: Tensors, ctx: FusionContext) -> Tensors:
    """The updates materialized and safe to write into (copied when the chain does not own them)."""
    updates = materialize(updates, ctx)
    if not ctx.owned:
        updates, ctx.owned = [u.clone() for u in updates], True
    return updates


def _divide(updates: Tensors, denom: Tensors, ctx: FusionContext, scratch: bool = False) -> Tensors:
    """u / d, kept pending in ``ctx.divisor`` (applied by the next reader or the final
    θ ← θ + s·u/d, one addcdiv as in torch). ``scratch``: d is a temporary of u's shapes that
    nothing else holds (from `_rsqrt_denominator`), free to be overwritten."""
    ctx.divisor = denom
    ctx.scratch = denom if scratch else None
    return updates


def _rsqrt_denominator(v: Tensors, eps: Number, eps_inside_sqrt: bool, scale=None) -> Tensors:
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


def _debiased_denominator(v: Tensors, eps: Number, bias: Number) -> tuple[Tensors, Number]:
    """(√v + ε·r, r) with r = √bias: u/(√(v/bias) + ε) = r·u/(√v + ε·r), so the bias
    correction becomes a pending factor r instead of a pass over the denominator. With tensor
    values (compiled: one kernel, passes cost nothing) (√(v/bias) + ε, 1): torch.compile cannot
    hand the product ε·r, a 0-d tensor made inside, to ``_foreach_add_`` without a graph break."""
    if isinstance(bias, Tensor) or isinstance(eps, Tensor):
        return _rsqrt_denominator(v, eps, False, bias), 1.0
    root = bias ** 0.5
    out = torch._foreach_sqrt(v)
    torch._foreach_add_(out, eps * root)
    return out, root


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
    def tensorwise(self) -> bool:
        return all(getattr(t, "elementwise", False) or getattr(t, "tensorwise", False) for t in self.transforms)

    @property
    def powers(self) -> tuple:
        return tuple(dict.fromkeys(b for t in self.transforms for b in getattr(t, "powers", ())))

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(dict.fromkeys(r for t in self.transforms for r in refs_of(t)))

    def init(self, params: Tensors) -> State:
        state: State = {}
        for t in self.transforms:
            state.update(t.init(params))
        return state

    def update(self, updates: Tensors, state: State, ctx: FusionContext) -> Tensors:
        """Each transform in turn: those that opt into fusion with `ctx`; a `pure` function with u
        materialized (it writes into nothing); any other with u owned and materialized."""
        for t in self.transforms:
            if getattr(t, "pending", False):
                updates = t.update(updates, state, ctx)
            elif getattr(t, "pure", False):
                given = materialize(updates, ctx)
                updates = t.update(given, state, ctx.view())
                ctx.owned = _fresh(updates, given, state) or (ctx.owned and all(o is u for o, u in zip(updates, given)))
            else:
                before = own(updates, ctx)
                updates = t.update(before, state, ctx.view())
                # still owned where it handed back the tensors it got; another may be a state buffer
                ctx.owned = all(u is b for u, b in zip(updates, before))
        return updates


def _fresh(out: Tensors, given: Tensors, state: State) -> bool:
    """Whether every tensor of `out` is new: neither the one it came from nor a state buffer."""
    return all(o is not u and all(o is not s[i] for s in state.values()) for i, (o, u) in enumerate(zip(out, given)))


def chain(*transforms) -> Chain:
    """chain(a, b, c): u ← c(b(a(u))), the state being the union of theirs; a bare callable
    f is `pure(f)`."""
    return Chain(tuple(t if hasattr(t, "update") else pure(t) for t in transforms))


class pure:
    """A transform from a function of one parameter's update: u' = fn(u), or with ``state``
    (slot → init(θ), e.g. ``{"ema": torch.zeros_like}``) (u', s') = fn(u, s) where s maps each
    slot to that parameter's tensor. fn must not write into its arguments; the new state is
    copied into the slots. ``elementwise=True`` allows cache blocking; a function of one
    parameter's update is tensorwise by construction."""

    pure = True
    tensorwise = True

    def __init__(self, fn: Callable, state: Mapping[str, Callable] | None = None, elementwise: bool = False):
        self.fn, self.init_fns, self.elementwise = fn, dict(state or {}), elementwise
        self.slots = tuple(self.init_fns)

    def init(self, params: Tensors) -> State:
        return {k: [f(p) for p in params] for k, f in self.init_fns.items()}

    def update(self, updates, state, ctx):
        out = []
        for i, u in enumerate(updates):
            if not self.slots:
                out.append(self.fn(u))
                continue
            mine = {k: state[k][i] for k in self.slots}
            new_u, new_s = self.fn(u, dict(mine))
            for k, t in mine.items():
                if new_s[k] is not t:
                    t.copy_(new_s[k])
            out.append(new_u)
        return out


@dataclass(frozen=True)
class Stateless:
    slots = ()
    elementwise = True
    pending = True

    def init(self, params: Tensors) -> State:
        return {}


@dataclass(frozen=True)
class scale(Stateless):
    """u ← c·u."""

    factor: float

    def update(self, updates, state, ctx):
        factor = ctx.value(self.factor)
        ctx.scale = factor if ctx.scale is None else ctx.scale * factor
        return updates


@dataclass(frozen=True)
class scale_by_lr(Stateless):
    """u ← −α_t·u with α_t = α/(1 + (t−1)·decay) (torch Adagrad's lr_decay; decay=0: α_t = α)."""

    decay: float | Ref = 0.0

    def update(self, updates, state, ctx):
        lr = ctx.lr / (1 + (ctx.step - 1) * ctx.value(self.decay)) if self.decay else ctx.lr
        ctx.scale = -lr if ctx.scale is None else ctx.scale * -lr
        return updates


@dataclass(frozen=True)
class add_l2(Stateless):
    """u ← u + λθ: the gradient of the L2 penalty (λ/2)‖θ‖² (torch's `weight_decay`)."""

    weight_decay: float | Ref

    def update(self, updates, state, ctx):
        if not self.weight_decay:
            return updates
        updates = materialize(updates, ctx)
        wd = ctx.value(self.weight_decay)
        if ctx.owned:
            axpy(updates, ctx.params, wd)
            return updates
        ctx.owned = True
        return plus(updates, ctx.params, wd)


@dataclass(frozen=True)
class decoupled_weight_decay(Stateless):
    """θ ← (1 − αλ)θ + u, decay decoupled from the gradient (AdamW; torch applies it first)."""

    weight_decay: float | Ref

    def update(self, updates, state, ctx):
        if self.weight_decay:
            factor = 1 - ctx.lr * ctx.value(self.weight_decay)
            ctx.decay = factor if ctx.decay is None else ctx.decay * factor
        return updates


@dataclass(frozen=True)
class trace:
    """Momentum: b ← ρb + (1−d)·u (b₁ = u), then u ← b, or u + ρb with ``nesterov`` (torch SGD).

    Placed after ``scale_by_lr`` it is the book's form Δθ ← ρΔθ − αg (with d = 0), which differs
    from torch's when α changes (torch scales the buffer by the current α).
    """

    elementwise = True
    pending = True

    momentum: float | Ref
    dampening: float | Ref = 0.0
    nesterov: bool = False
    slots = ("momentum_buffer",)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        buf = state["momentum_buffer"]
        rho, keep = ctx.value(self.momentum), 1 - ctx.value(self.dampening)
        if ctx.divisor is not None and ctx.scale is None and not (ctx.first or self.nesterov) \
                and not isinstance(keep, Tensor):
            # b ← ρb + (1−d)·u/divisor in one addcdiv (torch RMSprop's form), u never made
            torch._foreach_mul_(buf, rho)
            torch._foreach_addcdiv_(buf, updates, ctx.divisor, value=keep)
            ctx.divisor, ctx.owned = None, False
            return buf
        updates = materialize(updates, ctx)
        if ctx.first:
            torch._foreach_copy_(buf, updates)
        else:
            torch._foreach_mul_(buf, rho)
            axpy(buf, updates, keep)
        if not self.nesterov:
            ctx.owned = False  # the buffer must not be modified downstream
            return buf
        if ctx.owned:
            axpy(updates, buf, rho)
            return updates
        ctx.owned = True
        return plus(updates, buf, rho)


@dataclass(frozen=True)
class book_nesterov(Stateful):
    """The book's Nesterov: v ← ρv − α∇f(θ + ρv); θ ← θ + v, with the parameters holding the
    look-ahead point θ̃ = θ + ρv where the gradient is taken. Then θ̃ ← θ̃ + (1+ρ)v_new − ρv_old.
    Place after ``scale_by_lr`` (the incoming u is −α·g, materialized by the chain: it is the
    pending factor's first reader anyway). Same trajectory as torch's Nesterov at constant α."""

    elementwise = True

    momentum: float | Ref
    slots = ("velocity",)

    def apply(self, updates, state, ctx):
        rho = ctx.value(self.momentum)
        v = state["velocity"]
        out = torch._foreach_mul(v, -rho)          # −ρ v_old
        torch._foreach_mul_(v, rho)
        torch._foreach_add_(v, updates)            # v_new = ρ v_old + u
        axpy(out, v, 1 + rho)
        return out


@dataclass(frozen=True)
class scale_by_sum_sq:
    """Adagrad: r ← r + u²; u ← u/(√r + ε) (or u/√(r + ε) with eps_inside_sqrt)."""

    elementwise = True
    pending = True

    eps: float | Ref = 1e-10
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
        denom = _rsqrt_denominator(r, ctx.value(self.eps), self.eps_inside_sqrt)
        return _divide(updates, denom, ctx, scratch=True)


@dataclass(frozen=True)
class scale_by_rms:
    """RMSprop: r ← βr + (1−β)u²; u ← u/(√r + ε). ``centered``: also m ← βm + (1−β)u and
    u ← u/(√(r − m²) + ε) (torch RMSprop; β is torch's `alpha`)."""

    elementwise = True
    pending = True

    alpha: float | Ref = 0.99
    eps: float | Ref = 1e-8
    centered: bool = False
    eps_inside_sqrt: bool = False

    @property
    def slots(self):
        return ("square_avg", "grad_avg") if self.centered else ("square_avg",)

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        beta, eps = ctx.value(self.alpha), ctx.value(self.eps)
        r = state["square_avg"]
        torch._foreach_mul_(r, beta)
        addcmul(r, updates, updates, 1 - beta)
        if self.centered:
            m = state["grad_avg"]
            lerp(m, updates, 1 - beta)
            var = torch._foreach_addcmul(r, m, m, value=-1)
            denom = _rsqrt_denominator(var, eps, self.eps_inside_sqrt)
        else:
            denom = _rsqrt_denominator(r, eps, self.eps_inside_sqrt)
        return _divide(updates, denom, ctx, scratch=True)


@dataclass(frozen=True)
class scale_by_adadelta:
    """Adadelta: r ← ρr + (1−ρ)u²; Δ = √(s + ε)/√(r + ε)·u; s ← ρs + (1−ρ)Δ²; u ← Δ.
    ε inside the square roots is torch's (and the paper's) form; eps_inside_sqrt=False gives
    (√s + ε)/(√r + ε)."""

    elementwise = True
    pending = True

    rho: float | Ref = 0.9
    eps: float | Ref = 1e-6
    eps_inside_sqrt: bool = True
    slots = ("square_avg", "acc_delta")

    def init(self, params):
        return _zeros(params, *self.slots)

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        rho, eps = ctx.value(self.rho), ctx.value(self.eps)
        r, s = state["square_avg"], state["acc_delta"]
        torch._foreach_mul_(r, rho)
        addcmul(r, updates, updates, 1 - rho)
        delta = _rsqrt_denominator(s, eps, self.eps_inside_sqrt)  # torch's order of operations
        torch._foreach_div_(delta, _rsqrt_denominator(r, eps, self.eps_inside_sqrt))
        torch._foreach_mul_(delta, updates)
        torch._foreach_mul_(s, rho)
        addcmul(s, delta, delta, 1 - rho)
        ctx.owned = True
        return delta


@dataclass(frozen=True)
class scale_by_adam:
    """Adam: m ← β₁m + (1−β₁)u; v ← β₂v + (1−β₂)u²; u ← m̂/(√v̂ + ε) with the bias corrections
    m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ) (``bias_correction=False``: m̂ = m, v̂ = v). ``amsgrad`` uses
    max(v) over time in place of v (torch's form: the max of the uncorrected v)."""

    elementwise = True
    pending = True

    b1: float | Ref = 0.9
    b2: float | Ref = 0.999
    eps: float | Ref = 1e-8
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
        b1, b2 = ctx.value(self.b1), ctx.value(self.b2)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp(m, updates, 1 - b1)
        torch._foreach_mul_(v, b2)
        addcmul(v, updates, updates, 1 - b2)
        if self.amsgrad:
            torch._foreach_maximum_(state["max_exp_avg_sq"], v)
            v = state["max_exp_avg_sq"]
        bc2 = 1 - ctx.power(self.b2) if self.bias_correction else None
        denom = _rsqrt_denominator(v, ctx.value(self.eps), self.eps_inside_sqrt, bc2)
        ctx.owned = False
        if self.bias_correction:
            ctx.scale = 1 / (1 - ctx.power(self.b1))
        return _divide(m, denom, ctx, scratch=True)


__all__ = ["Ref", "StepContext", "FusionContext", "Transform", "Stateful", "Chain", "chain", "pure", "materialize", "own", "axpy", "addcmul",
           "Scratch",
           "plus", "lerp", "scale", "scale_by_lr", "add_l2", "decoupled_weight_decay", "trace", "book_nesterov",
           "scale_by_sum_sq", "scale_by_rms", "scale_by_adadelta", "scale_by_adam"]
