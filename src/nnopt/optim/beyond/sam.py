"""Sharpness-aware minimization around any base optimizer.

* SAM: Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving
  Generalization": ε = ρ·g/‖g‖; the base optimizer steps with ∇L(θ + ε).
* ASAM: Kwon et al. 2021, "ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant
  Learning of Deep Neural Networks": ε = ρ·T²g/‖Tg‖ with T = |θ| (elementwise), a neighbourhood
  that scales with the weights (the form of the authors' code and pytorch-optimizer, T without η).

Each step needs two gradients, so ``step(closure)`` requires a closure that zeroes the
gradients, recomputes the loss and calls backward (the Trainer passes one: ``needs_closure``).
The gradient at θ must be in ``p.grad`` when ``step`` is called.
"""
from __future__ import annotations

import dataclasses

import torch

from ...params import Param
from ...registry import OPTIMIZERS
from . import custom


class SAM(torch.optim.Optimizer):
    """Wraps `base` (its param groups and state are this optimizer's: schedules, ``state_dict``
    and param groups act on the base). Per group: ``rho`` (ρ), ``adaptive`` (ASAM's T = |θ|);
    ``perturb_eps`` is added to the global norm ‖Tg‖.

        ε = ρ·T²g/(‖Tg‖ + eps);  θ ← θ + ε;  g' = ∇L(θ);  θ ← θ − ε (restored exactly);
        base.step() with g'
    """

    needs_closure = True

    def __init__(self, base: torch.optim.Optimizer, rho: float = 0.05, adaptive: bool = False,
                 perturb_eps: float = 1e-12):
        self.base = base
        super().__init__(base.param_groups, dict(rho=rho, adaptive=adaptive, perturb_eps=perturb_eps))
        self.param_groups, self.state = base.param_groups, base.state

    def __getattr__(self, name: str):
        """Anything else (``train()``/``eval()`` of a schedule-free base, ``skipped_steps``) is the base's."""
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def state_dict(self):
        return self.base.state_dict()

    def load_state_dict(self, state_dict) -> None:
        self.base.load_state_dict(state_dict)
        self.param_groups, self.state = self.base.param_groups, self.base.state

    @torch.no_grad()
    def step(self, closure=None):
        """Perturb to θ + ε, take the gradient there (closure), restore θ, step the base.
        Returns the closure's loss (at the perturbed point)."""
        if closure is None:
            raise ValueError("sam: step() needs a closure that zeroes the gradients, recomputes the "
                             "loss and calls backward (SAM takes a second gradient at θ + ε)")
        groups = [(g, [p for p in g["params"] if p.grad is not None]) for g in self.param_groups]
        groups = [(g, ps) for g, ps in groups if ps]
        if not groups:
            return None
        scaled = []
        for group, params in groups:
            grads = [p.grad for p in params]
            scaled += torch._foreach_mul(grads, torch._foreach_abs(params)) if group["adaptive"] else grads
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(scaled)))
        kept = []
        for group, params in groups:
            kept.append([p.detach().clone() for p in params])
            scale = group["rho"] / (norm + group["perturb_eps"])
            grads = [p.grad for p in params]
            if group["adaptive"]:
                eps = torch._foreach_mul(params, params)
                torch._foreach_mul_(eps, grads)
                torch._foreach_mul_(eps, scale)
            else:
                eps = torch._foreach_mul(grads, scale)
            torch._foreach_add_(params, eps)
        with torch.enable_grad():
            loss = closure()
        for (_, params), old in zip(groups, kept):
            torch._foreach_copy_(params, old)
        self.base.step()
        return loss


def _base_hyper(bases: tuple[str, ...]) -> dict[str, Param]:
    """Every hyperparameter of the `bases`, each optional (none: the base's default), in the
    loosest range any base allows (`_loosest`): a recipe's value outside it (momentum = 1.5) is
    refused when the recipe is read, naming the field; the base then checks its own bounds."""
    seen: dict[str, list[Param]] = {}
    for entry in map(OPTIMIZERS.get, bases):
        for key, param in entry.params.items():
            seen.setdefault(key, []).append(param)
    return {key: dataclasses.replace(_loosest(params), default=None, nullable=True,
                                     doc=f"for the base optimizer: {params[0].doc}".rstrip(": "))
            for key, params in seen.items()}


def _loosest(params: list[Param]) -> Param:
    """The first Param with the widest bounds of those of its kind (no bound on a side where one
    has none; the smaller lower and the larger upper bound, inclusive on a tie), items alike."""
    first = params[0]
    same = [p for p in params if p.kind is first.kind]
    lows = [(p.ge, True) if p.ge is not None else (p.gt, False) if p.gt is not None else None for p in same]
    highs = [(p.le, True) if p.le is not None else (p.lt, False) if p.lt is not None else None for p in same]
    low = None if None in lows else min(lows, key=lambda b: (b[0], not b[1]))
    high = None if None in highs else max(highs, key=lambda b: (b[0], b[1]))
    items = [p.item for p in same if p.item is not None]
    return dataclasses.replace(
        first, ge=low[0] if low and low[1] else None, gt=low[0] if low and not low[1] else None,
        le=high[0] if high and high[1] else None, lt=high[0] if high and not high[1] else None,
        item=_loosest(items) if len(items) == len(same) and items else first.item)


def _sam_factory(adaptive: bool):
    def create(params, *, base, rho, perturb_eps, **values):
        given = {k: v for k, v in values.items() if v is not None}
        inner = OPTIMIZERS.create(base, params, field="optimizer", **given)
        return SAM(inner, rho=rho, adaptive=adaptive, perturb_eps=perturb_eps)
    return create


def _register(name: str, adaptive: bool, rho: float, doc: str) -> None:
    bases = tuple(n for n in OPTIMIZERS.names() if n not in ("sam", "asam"))
    own = {"base": Param(str, "momentum", choices=bases, doc="the optimizer that takes the step"),
           "rho": Param(float, rho, ge=0, doc="ρ: radius of the neighbourhood"),
           "perturb_eps": Param(float, 1e-12, ge=0, doc="added to ‖Tg‖")}
    hyper = {**own, **{k: v for k, v in _base_hyper(bases).items() if k not in own}}
    custom.register(name, _sam_factory(adaptive), None, hyper=hyper, options={}, doc=doc)


_register("sam", False, 0.05, """SAM: the base optimizer (``base``, its hyperparameters as usual) steps with the
    gradient at θ + ρ·g/‖g‖, which seeks flat minima (Foret et al. 2021; pytorch-optimizer's SAM).""")
_register("asam", True, 0.5, """ASAM: SAM with the neighbourhood scaled by |θ|, ε = ρ·θ²g/‖θg‖ — invariant to
    rescaling the weights (Kwon et al. 2021; pytorch-optimizer's SAM with adaptive=True).""")


__all__ = ["SAM"]
