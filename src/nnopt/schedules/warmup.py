"""Warmup and joining: building schedules out of schedules, at exact boundaries.

``join([f0, f1, f2], [b1, b2])(t) = f_k(t − b_k)`` on ``b_k ≤ t < b_{k+1}`` (b_0 = 0): each piece
runs on its own clock, starting at 0 at its boundary. Warmup is a join of a ramp and the schedule.
"""
from __future__ import annotations

import bisect
import math
from typing import Callable, Sequence

Schedule = Callable[[float], float]


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """f(t) = schedules[k](t − boundaries[k−1]) for boundaries[k−1] ≤ t < boundaries[k]."""
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(f"boundaries has {len(boundaries)} items — must have one fewer than "
                         f"the {len(schedules)} schedules")
    starts = [0, *boundaries]
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"boundaries = {list(boundaries)} — must be strictly increasing and > 0")

    def value(t: float) -> float:
        k = bisect.bisect_right(starts, t) - 1
        k = max(k, 0)
        return schedules[k](t - starts[k])
    return value


def ramp(start: float, end: float, steps: int, kind: str = "linear") -> Schedule:
    """linear: start + (end − start)·t/W;  exponential: start·(end/start)^(t/W);  (W = steps)."""
    if kind == "linear":
        return lambda t: start + (end - start) * t / steps
    if kind == "exponential":
        if start <= 0 or end <= 0:
            raise ValueError(f"warmup_start_lr = {start!r} and the lr it warms up to ({end!r}) — both "
                             f"must be > 0 for an exponential warmup")
        return lambda t: start * math.exp(math.log(end / start) * t / steps)
    raise ValueError(f"warmup = {kind!r} — must be 'linear' or 'exponential'")


def warmup(schedule: Schedule, steps: int, start_lr: float = 0.0, kind: str = "linear") -> Schedule:
    """The ramp from `start_lr` to schedule(0) over `steps`, then the schedule on its own clock:
    f(t) = ramp(t) for t < W, schedule(t − W) after, so f(W) = schedule(0) exactly."""
    if steps < 0:
        raise ValueError(f"warmup_steps = {steps!r} — must be >= 0")
    if steps == 0:
        return schedule
    return join([ramp(start_lr, schedule(0), steps, kind), schedule], [steps])


def constant(value: float) -> Schedule:
    """f(t) = value"""
    return lambda t: value
