"""Schedule-free SGD and AdamW (Defazio et al. 2024, "The Road Less Scheduled"): no lr decay
schedule, the iterate average does its work. Three sequences: z (the SGD/AdamW steps), x (their
running average, where the model is evaluated) and y = (1−β)z + βx (where the gradient is
taken, and what the parameters hold while training). Per step, with c_t = w_t/Σw_i and
w_t = t^r·(max_i α_i)^p:

    z ← z − α_t·u;   x ← (1 − c_t)x + c_t·z;   y = (1 − β)z + βx

which, in y and z alone (the `schedulefree` package's form), is
y ← (1 − c)y + c·z_old + α_t(β(1 − c) − 1)·u. ``optimizer.eval()`` puts x into the parameters
(x = y + (1 − 1/β)(z − y)) and ``optimizer.train()`` puts y back — bit for bit, y being kept
aside while in eval mode, so evaluating does not perturb training and a checkpoint saved in eval
mode resumes exactly. The Trainer calls them around evaluation and saving.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ...params import Param
from ..define import LR
from ..groups import split_no_decay
from ..optimizer import ChainOptimizer
from ..transforms import Ref, _divide, _rsqrt_denominator, add_l2, addcmul, axpy, chain, materialize
from . import custom


def _at_most_one(x):
    return torch.clamp(x, max=1.0) if isinstance(x, Tensor) else min(x, 1.0)


@dataclass(frozen=True)
class scale_by_debiased_rms:
    """v ← β₂v + (1−β₂)u²; u ← u/(√(v/(1−β₂ᵗ)) + ε): Adam's denominator without its momentum
    (schedule-free AdamW's preconditioner)."""

    elementwise = True
    pending = True

    b2: float | Ref = 0.999
    eps: float | Ref = 1e-8
    slots = ("exp_avg_sq",)

    @property
    def powers(self):
        return (self.b2,)

    def init(self, params):
        return {"exp_avg_sq": [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]}

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        v, b2 = state["exp_avg_sq"], ctx.value(self.b2)
        torch._foreach_mul_(v, b2)
        addcmul(v, updates, updates, 1 - b2)
        return _divide(updates, _rsqrt_denominator(v, ctx.value(self.eps), False, 1 - ctx.power(self.b2)), ctx)


@dataclass(frozen=True)
class schedule_free:
    """The schedule-free step (module doc) on the incoming direction u, the last transform of a
    chain (it applies α itself: α_t = α·min(1, t/warmup_steps)). State: ``z``, and per parameter
    the 0-d ``lr_max`` = max α_t and ``weight_sum`` = Σ w_i (all parameters of one call share a
    step, so the first parameter's values serve for all)."""

    pending = True

    momentum: float | Ref = 0.9
    warmup_steps: int = 0
    r: float | Ref = 0.0
    weight_lr_power: float | Ref = 2.0
    slots = ("z", "lr_max", "weight_sum")

    def init(self, params):
        return {"z": [p.detach().clone(memory_format=torch.preserve_format) for p in params],
                "lr_max": [p.new_zeros(()) for p in params],
                "weight_sum": [p.new_zeros(()) for p in params]}

    def update(self, updates, state, ctx):
        updates = materialize(updates, ctx)
        lr = ctx.lr
        if self.warmup_steps:
            lr = lr * _at_most_one(ctx.step / self.warmup_steps)
        lr_max = torch.clamp(state["lr_max"][0], min=lr)
        weight = ctx.step ** ctx.value(self.r) * lr_max ** ctx.value(self.weight_lr_power)
        total = state["weight_sum"][0] + weight
        c = torch.where(total > 0, weight / total, 0.0)
        torch._foreach_copy_(state["lr_max"], [lr_max] * len(updates))
        torch._foreach_copy_(state["weight_sum"], [total] * len(updates))
        z = state["z"]
        out = torch._foreach_mul(z, c)
        axpy(out, updates, lr * (ctx.value(self.momentum) * (1 - c) - 1))
        axpy(z, updates, -lr)
        ctx.decay = 1 - c if ctx.decay is None else ctx.decay * (1 - c)
        ctx.owned = True
        return out


class ScheduleFree(ChainOptimizer):
    """A ChainOptimizer ending in `schedule_free`, with ``train()`` / ``eval()`` (module doc).
    `beta(group)` is the group's β (the interpolation y = (1−β)z + βx). It starts in train mode;
    ``step()`` in eval mode is an error."""

    def __init__(self, params, build, beta: Callable[[dict], float], **values):
        super().__init__(params, build, train_mode=True, **values)
        self._beta = beta

    @torch.no_grad()
    def eval(self) -> None:
        """Parameters ← x, the averaged point (y kept aside in the state as ``y``)."""
        for group in self.param_groups:
            if not group["train_mode"]:
                continue
            weight = 1 - 1 / self._beta(group)
            for p in group["params"]:
                st = self.state.get(p)
                if st and "z" in st:
                    st["y"] = p.detach().clone(memory_format=torch.preserve_format)
                    p.lerp_(st["z"], weight)
            group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        """Parameters ← y, where gradients are taken (the kept y; else y = x + (1−β)(z − x))."""
        for group in self.param_groups:
            if group["train_mode"]:
                continue
            weight = 1 - self._beta(group)
            for p in group["params"]:
                st = self.state.get(p)
                if st and "y" in st:
                    p.copy_(st.pop("y"))
                elif st and "z" in st:
                    p.lerp_(st["z"], weight)
            group["train_mode"] = True

    def step(self, closure=None):
        if not all(group["train_mode"] for group in self.param_groups):
            raise ValueError("schedule-free optimizer: step() in eval mode — call optimizer.train() "
                             "before training steps (optimizer.eval() before evaluating)")
        return super().step(closure)


SCHEDULE_FREE = {
    "warmup_steps": Param(int, 0, ge=0, doc="linear warmup of α over this many steps"),
    "r": Param(float, 0.0, ge=0, doc="w_t ∝ t^r: weight of later iterates in the average"),
    "weight_lr_power": Param(float, 2.0, ge=0, doc="w_t ∝ (max α)^p: iterates of the warmup weigh less"),
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: L2 at y, u + λy (the package's form)"),
}


def _sgd_chain(h):
    return chain(add_l2(h.weight_decay), schedule_free(h.momentum, h.warmup_steps, h.r, h.weight_lr_power))


def _adamw_chain(h):
    b1, b2 = h.betas
    return chain(scale_by_debiased_rms(b2, h.eps), add_l2(h.weight_decay),
                 schedule_free(b1, h.warmup_steps, h.r, h.weight_lr_power))


_sgd_chain.structural = _adamw_chain.structural = frozenset({"warmup_steps"})


def _factory(build, beta):
    def create(params, *, no_decay_1d, **values):
        if values["weight_decay"] > 0 and no_decay_1d:
            params = split_no_decay(params, values["weight_decay"])
        return ScheduleFree(params, build, beta, **values)
    return create


custom.register("schedule_free_sgd", _factory(_sgd_chain, lambda g: g["momentum"]), _sgd_chain, hyper={
    "lr": LR(1.0), "momentum": Param(float, 0.9, gt=0, lt=1, doc="β: y = (1−β)z + βx"), **SCHEDULE_FREE},
    doc="""Schedule-free SGD: z ← z − α(g + λy), x ← (1−c)x + c·z, gradients at y = (1−β)z + βx; no lr
    schedule, evaluate at x (Defazio et al. 2024; schedulefree.SGDScheduleFree).""")

custom.register("schedule_free_adamw", _factory(_adamw_chain, lambda g: g["betas"][0]), _adamw_chain, hyper={
    "lr": LR(2.5e-3),
    "betas": Param(tuple, (0.9, 0.999), length=2, item=Param(float, gt=0, lt=1),
                   doc="(β, β₂): y = (1−β)z + βx; decay of the squared-gradient average"),
    "eps": Param(float, 1e-8, gt=0), **SCHEDULE_FREE},
    doc="""Schedule-free AdamW: schedule-free SGD on g/(√v̂ + ε) + λy, v the squared-gradient
    average (Defazio et al. 2024; schedulefree.AdamWScheduleFree).""")


__all__ = ["scale_by_debiased_rms", "schedule_free", "ScheduleFree"]
