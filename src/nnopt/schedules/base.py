"""Registration of schedules, with warmup and the run length added to every one of them.

Every registered schedule accepts ``total_steps`` (T, the run length in t units; none = the whole
run, filled by the Trainer), ``warmup_steps`` (W), ``warmup_start_lr`` and ``warmup``
(linear | exponential). With W > 0 the schedule runs on its own clock after the warmup, over the
remaining T − W: ``f(t) = ramp(t)`` for t < W and ``schedule(t − W)`` after, continuous at W.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Callable, Mapping

from ..params import Param
from ..registry import SCHEDULES
from .warmup import Schedule, constant, join, warmup

LR = Param(float, None, ge=0, nullable=True, doc="the base lr; none = the optimizer's lr")
TOTAL_STEPS = Param(int, None, ge=1, nullable=True, aliases=("T_max", "total_iters"),
                    doc="T, the run length in t units; none = the whole run")
MIN_LR = Param(float, 0.0, ge=0, aliases=("eta_min",), doc="the floor the schedule decays to")
RATE = Param(float, 0.1, ge=0, doc="the decay rate")
STEP_SIZE = Param(int, 1, ge=1, doc="t units per decay step")
STAIRCASE = Param(bool, False, doc="decay in whole steps: ⌊t/step_size⌋ instead of t/step_size")
WARMUP = {
    "warmup_steps": Param(int, 0, ge=0, doc="W: t units of warmup; the schedule starts after them"),
    "warmup_start_lr": Param(float, 0.0, ge=0, doc="the value at t = 0, ramped to the schedule's start"),
    "warmup": Param(str, "linear", choices=("linear", "exponential"), doc="the warmup ramp's shape"),
}


def required(name: str, value, why: str = ""):
    """`value`, or a ValueError naming `name` when it is None."""
    if value is None:
        raise ValueError(f"{name} is none — give it{why}")
    return value


def at_most(name: str, value: float, bound_name: str, bound: float) -> None:
    """ValueError naming `name` unless value <= bound."""
    if value > bound:
        raise ValueError(f"{name} = {value!r} — must be <= {bound_name} = {bound!r}")


def register(name: str, *, torch_class: type | None = None, torch_names: Mapping | None = None,
             **params: Param) -> Callable:
    """Register `fn(*, lr, ..., [total_steps])` as schedule `name` (`with_warmup` adds the rest);
    `torch_class` is torch's scheduler of the same schedule (the tests' oracle), `torch_names` its
    arguments nnopt spells differently (`nnopt.torch_names.TorchName` rows)."""
    return SCHEDULES.register(name, params=params, torch_class=torch_class, torch_names=dict(torch_names or {}))


def with_warmup(fn: Callable, params: Mapping[str, Param] | None) -> tuple[Callable, dict[str, Param]]:
    """SCHEDULES.adapt: every schedule, built in or a user's, gets WARMUP and total_steps.

    The factory checks lr and W < T, hands T − W to `fn` (when it takes total_steps), wraps the
    result with `warmup` and checks t and the values at the ends. Hyperparameters the schedule
    drives besides the lr (``schedule.drives``, e.g. momentum) hold their start value during the
    warmup.
    """
    sig = inspect.signature(fn)
    takes_total = "total_steps" in sig.parameters

    @functools.wraps(fn)
    def factory(*, total_steps=None, warmup_steps=0, warmup_start_lr=0.0, warmup="linear", **hyper):
        required("lr", hyper.get("lr"), " (the Trainer fills it with the optimizer's lr)")
        if total_steps is not None and warmup_steps >= total_steps:
            raise ValueError(f"warmup_steps = {warmup_steps} — must be < total_steps = {total_steps}")
        if takes_total:
            hyper["total_steps"] = None if total_steps is None else total_steps - warmup_steps
        return _checked(_warmed(fn(**hyper), warmup_steps, warmup_start_lr, warmup), total_steps)

    extra = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=p.default)
             for k, p in {"total_steps": TOTAL_STEPS, **WARMUP}.items() if k not in sig.parameters]
    kept = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    factory.__signature__ = sig.replace(parameters=[*kept, *extra])
    return factory, {"total_steps": TOTAL_STEPS, **(params or {}), **WARMUP}


def _warmed(main: Schedule, steps: int, start_lr: float, kind: str) -> Schedule:
    out = warmup(main, steps, start_lr, kind)
    if steps and hasattr(main, "drives"):
        out.drives = {k: join([constant(f(0)), f], [steps]) for k, f in main.drives.items()}
    return out


def _checked(schedule: Schedule, total_steps: int | None) -> Schedule:
    """`schedule`, refusing t that is not a whole number >= 0; its values at t = 0 and T (where the
    monotone ones peak) must be finite numbers >= 0."""
    def value(t):
        if t < 0 or t != math.floor(t):
            raise ValueError(f"t = {t!r} — must be a whole number >= 0 (a step or epoch count)")
        return schedule(t)

    for t in (0, total_steps) if total_steps else (0,):
        try:
            lr = float(schedule(t))
        except (OverflowError, ZeroDivisionError) as exc:
            raise ValueError(f"the value at t = {t} cannot be computed ({exc})") from None
        if not 0 <= lr < math.inf:
            raise ValueError(f"the value at t = {t} is {lr!r} — must be a finite number >= 0")
    if hasattr(schedule, "drives"):
        value.drives = schedule.drives
    return value


SCHEDULES.adapt = with_warmup
