"""`ChainOptimizer`: a torch.optim.Optimizer that runs a transform chain per param group.

Per group and step: u = chain(g) over the parameters that have a gradient, then θ ← θ + u.
Hyperparameters live in the param groups (as in torch), so per-group settings, schedulers and
``state_dict`` work as torch users expect; ``optimizer.param_groups[i]["lr"]`` is the lr in use.
Each parameter's state holds ``step`` (a float tensor, as in torch) and the chain's buffers.
When ``build`` has a ``native(group)`` (see `nnopt.optim.native`) that gives torch's own fused
kernel for the group's algorithm, that kernel updates the same state instead of the transforms.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import Tensor

from ..errors import NonFiniteGradientError
from .blocks import blocks
from .fused import FusedRule, apply_update
from .groups import normalize_groups
from .native import Update, applicable
from .nonfinite import NONFINITE, check_finite
from .transforms import Transform

# Keys of a param group that are not hyperparameters of the chain.
_NOT_HYPER = ("params", "param_names", "lr")


class ChainOptimizer(torch.optim.Optimizer):
    """Run `transform` on each param group: θ ← θ + transform(g).

    transform  a Transform (the same for every group; it reads the group's lr through
               ``scale_by_lr``), or ``build(group) -> Transform`` to build one per group from the
               group's hyperparameters (so per-group betas, weight decay, ... work); a
               ``build.native(group) -> update | None`` attribute offers torch's fused kernel
    lr         the learning rate α, per group (``param_groups[i]["lr"]``)
    nonfinite  "raise" (NonFiniteGradientError, a ValueError, naming the parameter), "skip"
               (leave parameters and state as they are, return None) or "ignore" (no check)
    fused      True: torch's fused kernel, else one compiled kernel per group (torch.compile);
               False: the transforms' torch._foreach_* ops; None: see `nnopt.optim.fused`
    hyper      further group defaults read by `build`
    """

    def __init__(self, params: Iterable, transform: Transform | Callable[[dict], Transform], *,
                 lr: float = 1e-3, nonfinite: str = "raise", fused: bool | None = None, **hyper: Any):
        if lr < 0:
            raise ValueError(f"lr = {lr!r} — must be >= 0")
        if nonfinite not in NONFINITE:
            raise ValueError(f"nonfinite = {nonfinite!r} — must be one of {', '.join(map(repr, NONFINITE))}")
        if fused not in (None, True, False):
            raise ValueError(f"fused = {fused!r} — must be true, false or none")
        super().__init__(normalize_groups(params), dict(lr=lr, **hyper))
        self._build = transform if callable(transform) and not hasattr(transform, "update") else None
        self._fixed = None if self._build else transform
        self._native = getattr(self._build, "native", None)
        self._chains: dict[tuple, tuple[Transform, Update | None]] = {}
        self.nonfinite = nonfinite
        self.fused = fused
        self._rule = FusedRule(fused)

    # -- the chain of a group --------------------------------------------------------------
    def transform_for(self, group: dict) -> Transform:
        """The group's transform, rebuilt only when its hyperparameters change."""
        return self._rules_for(group)[0]

    def _rules_for(self, group: dict) -> tuple[Transform, Update | None]:
        """(transform, torch's fused kernel for it or None), cached by hyperparameters."""
        if self._fixed is not None:
            return self._fixed, None
        key = tuple((k, _freeze(v)) for k, v in group.items() if k not in _NOT_HYPER)
        if key not in self._chains:
            self._chains[key] = (self._build(group), self._native(group) if self._native else None)
        return self._chains[key]

    # -- the step ----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None):
        """One update of every parameter that has a gradient. Returns closure's loss, if any;
        with nonfinite="skip", None when the step was skipped."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work = []
        for index, group in enumerate(self.param_groups):
            chosen = [i for i, p in enumerate(group["params"]) if p.grad is not None]
            if not chosen:
                continue
            params = [group["params"][i] for i in chosen]
            grads = [p.grad for p in params]
            if any(g.is_sparse for g in grads):
                raise ValueError("nnopt optimizers do not support sparse gradients")
            work.append((index, chosen, group, params, grads))
        if self.nonfinite != "ignore":
            labels = [(index, group.get("param_names"), i) for index, chosen, group, *_ in work for i in chosen]
            bad = check_finite([g for w in work for g in w[4]], lambda k: _label(*labels[k]))
            if bad is not None:
                if self.nonfinite == "raise":
                    raise NonFiniteGradientError(bad)
                return None
        if work:
            first = self.state[work[0][3][0]]
            done = float(first["step"]) if first else 0.0
            fuse = self._rule.use_fused(done, sum(p.numel() for w in work for p in w[3]))
        for *_, group, params, grads in work:
            self._update_group(group, params, grads, fuse)
        return loss

    def _update_group(self, group: dict, params: list[Tensor], grads: list[Tensor], fuse: bool):
        transform, native = self._rules_for(group)
        native = native if native is not None and self.fused is not False and applicable(native, params) else None
        states = [self.state[p] for p in params]
        for p, st in zip(params, states):
            if not st:
                st["step"] = torch.tensor(0.0)
                st.update({k: v[0] for k, v in transform.init([p]).items()})
        counters = [st["step"] for st in states]
        # One op for all counters (a tensor list is the fast path for 0-d tensors).
        torch._foreach_add_(counters, [counters[0].new_ones(())] * len(counters))
        # Parameters that missed updates have a smaller step: update each step value apart.
        by_step: dict[float, list[int]] = {}
        for i, c in enumerate(counters):
            by_step.setdefault(c.item(), []).append(i)
        lr = float(group["lr"])
        for step, idx in by_step.items():
            pick = (lambda xs: [xs[i] for i in idx]) if len(idx) < len(params) else (lambda xs: xs)
            ps, gs, sts = pick(params), pick(grads), pick(states)
            state = {k: [st[k] for st in sts] for k in transform.slots}
            if native is not None:
                native(ps, gs, state, lr, step)
            elif fuse and step > 1:
                self._rule.run(transform, ps, gs, state, lr, step)
            else:
                for bp, bg, bs in blocks(transform, ps, gs, state):
                    apply_update(transform, bp, bg, bs, lr, step, step == 1)


def _label(index: int, names: list[str] | None, i: int) -> str:
    """How a message names parameter i of group `index`."""
    return names[i] if names else f"param_groups[{index}]['params'][{i}]"


def _freeze(value):
    return tuple(value) if isinstance(value, list) else value


__all__ = ["ChainOptimizer"]
