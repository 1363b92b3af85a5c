"""Learning-rate schedules: each is a pure function ``t -> lr`` (t = step or epoch)."""
from __future__ import annotations

import math
from typing import Callable

from .params import Param
from .registry import SCHEDULES

Schedule = Callable[[int], float]
BASE_LR = Param(float, None, ge=0, nullable=True, doc="α0; none = the optimizer's lr")


def create(name: str, **hyper) -> Schedule:
    """Build the registered schedule `name`: a callable step -> lr."""
    return SCHEDULES.create(name, field="schedule", **hyper)


def available() -> list[str]:
    return SCHEDULES.names()


@SCHEDULES.register("constant", params={"lr": BASE_LR})
def constant(lr=None) -> Schedule:
    """α_t = α0"""
    return lambda t: lr


@SCHEDULES.register("step", params={"lr": BASE_LR, "rate": Param(float, 0.1, gt=0, le=1),
                                    "step_size": Param(int, 10, ge=1)})
def step(lr=None, rate=0.1, step_size=10) -> Schedule:
    """α_t = α0 · γ^⌊t/s⌋  (γ = rate, s = step_size)"""
    return lambda t: lr * rate ** (t // step_size)


@SCHEDULES.register("cosine", params={"lr": BASE_LR, "total_steps": Param(int, None, ge=1, nullable=True),
                                      "min_lr": Param(float, 0.0, ge=0)})
def cosine(lr=None, total_steps=None, min_lr=0.0) -> Schedule:
    """α_t = min_lr + ½(α0 − min_lr)(1 + cos(π·min(t,T)/T)); T = total_steps (none = the whole run)"""
    def value(t: int) -> float:
        return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))
    return value
