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
from ..transforms import Ref, _debiased_denominator, _divide, add_l2, addcmul, axpy, chain, materialize
from . import custom


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
        denom, ctx.scale = _debiased_denominator(v, ctx.value(self.eps), 1 - ctx.power(self.b2))
        return _divide(updates, denom, ctx, scratch=True)


@dataclass(frozen=True)
class schedule_free:
    """The schedule-free step (module doc) on the incoming direction u, the last transform of a
    chain: z ← z − α_t·u, then θ ← (1 − c)θ + c·z + α_t(1 − c)(β − 1)·u — the package's
    θ ← (1 − c)θ + c·z_old + α_t(β(1 − c) − 1)·u written with the new z — as the pending
    ``ctx.lerp`` = (z, c) and factor α_t(1 − c)(β − 1): three in-place passes, no temporary (a
    pending divisor d stays pending: z ← z − α_t·u/d is one addcdiv). The scalars c_t (``ckp1``)
    and α_t (``scheduled_lr``, the lr after warmup) are group keys the `ScheduleFree` optimizer
    sets on the host before each step, as the schedulefree package does."""

    elementwise = True
    pending = True

    momentum: float | Ref = 0.9
    ckp1: float | Ref = 0.0
    lr: float | Ref = 0.0
    slots = ("z",)

    def init(self, params):
        return {"z": [p.detach().clone(memory_format=torch.preserve_format) for p in params]}

    def update(self, updates, state, ctx):
        # a pending factor s joins the step's α_t instead of taking a pass
        s, ctx.scale = 1.0 if ctx.scale is None else ctx.scale, None
        c, lr = ctx.value(self.ckp1), ctx.value(self.lr) * s
        z = state["z"]
        if ctx.divisor is not None and not isinstance(lr, Tensor):
            torch._foreach_addcdiv_(z, updates, ctx.divisor, value=-lr)
        else:
            updates = materialize(updates, ctx)
            axpy(z, updates, -lr)
        ctx.lerp, ctx.scale = (z, c), lr * (1 - c) * (ctx.value(self.momentum) - 1)
        return updates


class ScheduleFree(ChainOptimizer):
    """A ChainOptimizer ending in `schedule_free`, with ``train()`` / ``eval()`` (module doc).
    `beta(group)` is the group's β (the interpolation y = (1−β)z + βx). Before each step it sets,
    per group and in float64 on the host: k (steps taken), α_t = α·min(1, t/warmup_steps),
    lr_max = max α_t, w_t = t^r·lr_max^p, weight_sum = Σw, ckp1 = w_t/weight_sum (group keys, so
    they are in ``state_dict``). It starts in train mode; ``step()`` in eval mode is an error."""

    def __init__(self, params, build, beta: Callable[[dict], float], **values):
        super().__init__(params, build, train_mode=True, k=0, lr_max=0.0, weight_sum=0.0, ckp1=0.0,
                         scheduled_lr=0.0, **values)
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
        for group in self.param_groups:
            if any(p.grad is not None for p in group["params"]):
                _advance(group)
        return super().step(closure)


def _advance(group: dict) -> None:
    """The group's step scalars for step t = k + 1 (see `ScheduleFree`)."""
    t = group["k"] + 1
    lr = float(group["lr"])
    if group["warmup_steps"]:
        lr *= min(1.0, t / group["warmup_steps"])
    group["lr_max"] = lr_max = max(group["lr_max"], lr)
    weight = t ** group["r"] * lr_max ** group["weight_lr_power"]
    group["weight_sum"] += weight
    group["ckp1"] = weight / group["weight_sum"] if group["weight_sum"] > 0 else 0.0
    group["scheduled_lr"], group["k"] = lr, t


SCHEDULE_FREE = {
    "warmup_steps": Param(int, 0, ge=0, doc="linear warmup of α over this many steps"),
    "r": Param(float, 0.0, ge=0, doc="w_t ∝ t^r: weight of later iterates in the average"),
    "weight_lr_power": Param(float, 2.0, ge=0, doc="w_t ∝ (max α)^p: iterates of the warmup weigh less"),
    "weight_decay": Param(float, 0.0, ge=0, doc="λ: L2 at y, u + λy (the package's form)"),
}


def _sgd_chain(h):
    return chain(add_l2(h.weight_decay), schedule_free(h.momentum, h.ckp1, h.scheduled_lr))


def _adamw_chain(h):
    b1, b2 = h.betas
    return chain(scale_by_debiased_rms(b2, h.eps), add_l2(h.weight_decay), schedule_free(b1, h.ckp1, h.scheduled_lr))



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
