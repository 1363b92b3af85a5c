"""Decaying schedules: closed-form functions of t (a step or an epoch count, per the recipe).

The formulas use the parameter names (T = total_steps); t beyond T holds the value at T.
"""
from __future__ import annotations

import bisect
import math

from torch.optim import lr_scheduler as L

from ..params import Param, REQUIRED
from ..torch_names import TorchName
from .base import LR, MIN_LR, RATE, STAIRCASE, STEP_SIZE, TOTAL_STEPS, at_most, register, required
from .warmup import Schedule


def _clock(t: float, step_size: int, staircase: bool) -> float:
    """t/s, or ⌊t/s⌋ with staircase."""
    return t // step_size if staircase else t / step_size


@register("constant", lr=LR)
def constant(*, lr=None) -> Schedule:
    """lr_t = lr"""
    return lambda t: lr


@register("step", torch_class=L.StepLR, lr=LR, rate=Param(float, 0.1, gt=0, aliases=("gamma",), doc="the factor per step (torch's gamma)"),
          step_size=Param(int, 10, ge=1, doc="s: t units between decays"))
def step(*, lr=None, rate=0.1, step_size=10) -> Schedule:
    """lr_t = lr·rate^⌊t/step_size⌋  (torch StepLR)"""
    return lambda t: lr * rate ** (t // step_size)


@register("piecewise", torch_class=L.MultiStepLR, lr=LR,
          milestones=Param(list, REQUIRED, item=Param(int, ge=1), doc="t where each piece starts"),
          values=Param(list, None, item=Param(float, ge=0), nullable=True,
                       doc="multiples of lr per piece (len(milestones)+1); none = rate^k"),
          rate=Param(float, 0.1, gt=0, aliases=("gamma",), doc="the factor per milestone when values is none"))
def piecewise(*, lr=None, milestones, values=None, rate=0.1) -> Schedule:
    """lr_t = lr·values[k] (or lr·rate^k) with k = #{milestones ≤ t}  (torch MultiStepLR)"""
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f"milestones = {list(milestones)} — must be strictly increasing")
    if values is not None and len(values) != len(milestones) + 1:
        raise ValueError(f"values has {len(values)} items — must have len(milestones) + 1 = "
                         f"{len(milestones) + 1}")
    factors = values if values is not None else [rate ** k for k in range(len(milestones) + 1)]
    return lambda t: lr * factors[bisect.bisect_right(milestones, t)]


@register("polynomial", torch_class=L.PolynomialLR, lr=LR, total_steps=TOTAL_STEPS, min_lr=MIN_LR,
          power=Param(float, 1.0, gt=0, doc="the polynomial's degree"))
def polynomial(*, lr=None, total_steps=None, min_lr=0.0, power=1.0) -> Schedule:
    """lr_t = min_lr + (lr − min_lr)·(1 − min(t, T)/T)^power  (torch PolynomialLR with min_lr = 0)"""
    T = required("total_steps", total_steps)
    at_most("min_lr", min_lr, "lr", lr)
    return lambda t: min_lr + (lr - min_lr) * (1 - min(t, T) / T) ** power


@register("linear", torch_class=L.LinearLR, torch_names={
    "start_factor": TorchName("lr = start_factor·(the base lr)", ("lr",), lambda v: v["start_factor"] * v["lr"],
                              note="the base lr is lr, or the optimizer's when none; a rising LinearLR is a "
                                   "warmup: warmup_steps = total_iters, warmup_start_lr = start_factor·lr"),
    "end_factor": TorchName("min_lr = end_factor·(the base lr)", ("min_lr",), lambda v: v["end_factor"] * v["lr"],
                            note="the base lr is lr, or the optimizer's when none")},
          lr=LR, total_steps=TOTAL_STEPS, min_lr=MIN_LR)
def linear(*, lr=None, total_steps=None, min_lr=0.0) -> Schedule:
    """lr_t = (1 − t/T)·lr + (t/T)·min_lr for t ≤ T  (torch LinearLR to end_factor = min_lr/lr)"""
    return polynomial(lr=lr, total_steps=total_steps, min_lr=min_lr, power=1.0)


@register("inverse_time", lr=LR, rate=RATE, step_size=STEP_SIZE, staircase=STAIRCASE)
def inverse_time(*, lr=None, rate=0.1, step_size=1, staircase=False) -> Schedule:
    """lr_t = lr/(1 + rate·t/step_size)  (Keras InverseTimeDecay; ⌊t/step_size⌋ with staircase)"""
    return lambda t: lr / (1 + rate * _clock(t, step_size, staircase))


@register("exponential", torch_class=L.ExponentialLR, lr=LR,
          rate=Param(float, 0.9, gt=0, aliases=("gamma",), doc="the factor per step_size (torch's gamma)"),
          step_size=STEP_SIZE, staircase=STAIRCASE)
def exponential(*, lr=None, rate=0.9, step_size=1, staircase=False) -> Schedule:
    """lr_t = lr·rate^(t/step_size)  (torch ExponentialLR with step_size = 1; Keras ExponentialDecay)"""
    return lambda t: lr * rate ** _clock(t, step_size, staircase)


@register("natural_exp", lr=LR, rate=RATE, step_size=STEP_SIZE, staircase=STAIRCASE)
def natural_exp(*, lr=None, rate=0.1, step_size=1, staircase=False) -> Schedule:
    """lr_t = lr·exp(−rate·t/step_size)"""
    return lambda t: lr * math.exp(-rate * _clock(t, step_size, staircase))


@register("cosine", torch_class=L.CosineAnnealingLR, lr=LR, total_steps=TOTAL_STEPS, min_lr=MIN_LR)
def cosine(*, lr=None, total_steps=None, min_lr=0.0) -> Schedule:
    """lr_t = min_lr + ½(lr − min_lr)(1 + cos(π·min(t, T)/T))  (torch CosineAnnealingLR, t ≤ T)"""
    T = required("total_steps", total_steps)
    at_most("min_lr", min_lr, "lr", lr)
    return lambda t: min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(t, T) / T))
