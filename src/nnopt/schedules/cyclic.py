"""Cyclic schedules: triangular cycles (Smith 2017), SGDR warm restarts, one-cycle (Smith 2018).

Each is a closed form of t; the conventions (phase ends, rounding) follow torch's CyclicLR,
CosineAnnealingWarmRestarts and OneCycleLR so the values agree with them.
"""
from __future__ import annotations

import math

from dataclasses import replace

from torch.optim import lr_scheduler as L

from ..params import Param, REQUIRED
from ..torch_names import TorchName
from .base import LR, MIN_LR, TOTAL_STEPS, at_most, register, required
from .warmup import Schedule

MAX_LR = Param(float, REQUIRED, gt=0, doc="the peak of each cycle")
CYCLE_STEPS = Param(int, 2000, ge=2, doc="t units per full cycle (up then down)")


def _symmetric_cycle(v) -> int:
    up, down = v["step_size_up"], v.get("step_size_down")
    if down not in (None, up):
        raise ValueError("asymmetric cycle")
    return 2 * up


NO_MOMENTUM_CYCLE = TorchName("no counterpart in cyclic", note="cyclic drives the lr only (torch's CyclicLR "
                              "cycles momentum by default); one_cycle has cycle_momentum, base_momentum, max_momentum")

RUN_LENGTH = TorchName("total_steps = epochs·steps_per_epoch", ("total_steps",),
                       lambda v: v["epochs"] * v["steps_per_epoch"], note="none = the whole run, filled by the Trainer")


@register("cyclic", torch_class=L.CyclicLR, torch_names={
    "step_size_up": TorchName("cycle_steps = 2·step_size_up", ("cycle_steps",), _symmetric_cycle,
                              note="the whole cycle; nnopt's cycles rise and fall equally long"),
    "step_size_down": TorchName("cycle_steps = step_size_up + step_size_down",
                                note="the whole cycle, only when step_size_down = step_size_up: nnopt's cycles "
                                     "are symmetric"),
    "scale_fn": TorchName("mode", note="triangular, triangular2 or exp_range; a custom scale is a schedule of "
                          "your own (nnopt.schedules.register)"),
    "scale_mode": TorchName("mode", note="triangular2 scales per cycle, exp_range per step"),
    "cycle_momentum": NO_MOMENTUM_CYCLE, "base_momentum": NO_MOMENTUM_CYCLE, "max_momentum": NO_MOMENTUM_CYCLE},
          lr=replace(LR, aliases=("base_lr",), doc="the bottom of each cycle (torch's base_lr)"),
          max_lr=MAX_LR, cycle_steps=CYCLE_STEPS,
          mode=Param(str, "triangular", choices=("triangular", "triangular2", "exp_range")),
          rate=Param(float, 1.0, gt=0, le=1, aliases=("gamma",),
                     doc="exp_range: the amplitude is scaled by rate^t (torch's gamma)"))
def cyclic(*, lr=None, max_lr, cycle_steps=2000, mode="triangular", rate=1.0) -> Schedule:
    """lr_t = lr + (max_lr − lr)·max(0, 1 − |2t/cycle_steps − 2c + 1|)·scale, c = ⌊1 + t/cycle_steps⌋;
    scale = 1 (triangular), 2^(1−c) (triangular2), rate^t (exp_range)  (torch CyclicLR)"""
    at_most("lr", lr, "max_lr", max_lr)
    half = cycle_steps / 2

    def value(t: float) -> float:
        c = math.floor(1 + t / cycle_steps)
        height = (max_lr - lr) * max(0.0, 1 - abs(t / half - 2 * c + 1))
        scale = 1.0 if mode == "triangular" else 0.5 ** (c - 1) if mode == "triangular2" else rate ** t
        return lr + height * scale
    return value


@register("cosine_restarts", torch_class=L.CosineAnnealingWarmRestarts, lr=LR, min_lr=MIN_LR,
          cycle_steps=Param(int, 1000, ge=1, aliases=("T_0",), doc="t units of the first cycle"),
          cycle_mult=Param(int, 1, ge=1, aliases=("T_mult",), doc="each cycle is this many times longer than the last"),
          rate=Param(float, 1.0, gt=0, le=1, doc="the peak lr is multiplied by this after each cycle"))
def cosine_restarts(*, lr=None, min_lr=0.0, cycle_steps=1000, cycle_mult=1, rate=1.0) -> Schedule:
    """SGDR: lr_t = min_lr + ½(lr·rate^i − min_lr)(1 + cos(π·t_i/T_i)) in cycle i,
    T_i = cycle_steps·cycle_mult^i, t_i = t − (start of cycle i)  (torch CosineAnnealingWarmRestarts)"""
    at_most("min_lr", min_lr, "lr", lr)

    def start(i: int) -> int:
        return cycle_steps * i if cycle_mult == 1 else cycle_steps * (cycle_mult ** i - 1) // (cycle_mult - 1)

    def value(t: float) -> float:
        if cycle_mult == 1:
            i = int(t // cycle_steps)
        else:  # the log guesses the cycle; integer starts settle it exactly
            i = int(math.log(t / cycle_steps * (cycle_mult - 1) + 1, cycle_mult))
            while start(i + 1) <= t:
                i += 1
            while i > 0 and start(i) > t:
                i -= 1
        length = cycle_steps * cycle_mult ** i
        peak = lr * rate ** i
        return min_lr + 0.5 * (peak - min_lr) * (1 + math.cos(math.pi * (t - start(i)) / length))
    return value


def phases(total_steps: int, pct_start: float, three_phase: bool, start: float, peak: float,
           end: float, anneal: str) -> Schedule:
    """The one-cycle curve through (0, start) → (pT−1, peak) → (T−1, end), or with three_phase
    (pT−1, peak) → (2pT−2, start) → (T−1, end); each segment annealed by cosine or linearly."""
    ends = [pct_start * total_steps - 1, total_steps - 1]
    targets = [(start, peak), (peak, end)]
    if three_phase:
        ends = [ends[0], 2 * pct_start * total_steps - 2, total_steps - 1]
        targets = [(start, peak), (peak, start), (start, end)]
    bounds = [0, *ends]
    if any(b <= a for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"pct_start = {pct_start!r} with total_steps = {total_steps} leaves a phase "
                         f"with no steps — each phase needs at least one step")

    def value(t: float) -> float:
        t = min(t, total_steps - 1)
        for k, end_step in enumerate(ends):
            if t <= end_step or k == len(ends) - 1:
                a, b = targets[k]
                pct = (t - bounds[k]) / (end_step - bounds[k])
                if anneal == "cos":
                    return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
                return (b - a) * pct + a
    return value


@register("one_cycle", torch_class=L.OneCycleLR, torch_names={"epochs": RUN_LENGTH, "steps_per_epoch": RUN_LENGTH},
          lr=replace(LR, aliases=("max_lr",), doc="the peak lr (torch's max_lr); none = the optimizer's lr"),
          total_steps=TOTAL_STEPS,
          pct_start=Param(float, 0.3, gt=0, lt=1, doc="the share of the run spent rising"),
          div_factor=Param(float, 25.0, gt=0, doc="start lr = lr/div_factor"),
          final_div_factor=Param(float, 1e4, gt=0, doc="final lr = start lr/final_div_factor"),
          anneal=Param(str, "cos", choices=("cos", "linear"), aliases=("anneal_strategy",)),
          three_phase=Param(bool, False, doc="return to the start lr, then anneal to the final lr"),
          cycle_momentum=Param(bool, False, doc="also drive momentum (or Adam's β1) inversely"),
          base_momentum=Param(float, 0.85, ge=0, lt=1, doc="the momentum at the lr's peak"),
          max_momentum=Param(float, 0.95, ge=0, lt=1, doc="the momentum at the start and end"))
def one_cycle(*, lr=None, total_steps=None, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
              anneal="cos", three_phase=False, cycle_momentum=False, base_momentum=0.85,
              max_momentum=0.95) -> Schedule:
    """lr_t rises from lr/div_factor to lr over pct_start·T, then falls to lr/(div_factor·final_div_factor)
    at T−1 (torch OneCycleLR, lr = max_lr); with cycle_momentum, momentum goes max → base → max."""
    T = required("total_steps", total_steps)
    start = lr / div_factor
    out = phases(T, pct_start, three_phase, start, lr, start / final_div_factor, anneal)
    if cycle_momentum:
        at_most("base_momentum", base_momentum, "max_momentum", max_momentum)
        out.drives = {"momentum": phases(T, pct_start, three_phase, max_momentum, base_momentum,
                                         max_momentum, anneal)}
    return out
