"""Batch-size schedules: "don't decay the learning rate, increase the batch size" (Smith et al. 2018).

B(e) = min(B0·factor^k, max_batch_size), k = #{milestones ≤ e}, e = the epoch (0-based). Decaying
the lr by γ at the same milestones is the equivalent schedule (γ = 1/factor): both see the same
samples per epoch; the grown batch takes fewer, larger steps.
"""
from __future__ import annotations

import bisect
import math
from typing import Mapping, Sequence

from ..errors import ConfigError
from ..params import Param

LARGEST = 2**62  # a batch size past every data set, where unbounded growth stops

PARAMS = {
    "batch_growth": Param(float, 1.0, ge=1, doc="the batch size is multiplied by this at each milestone"),
    "batch_milestones": Param(list, [], item=Param(int, ge=1), doc="epochs where the batch size grows"),
    "max_batch_size": Param(int, None, ge=1, nullable=True, doc="the growth stops here; none = no cap"),
}


class BatchSizeSchedule:
    """B(e) = min(round(B0·factor^#{m ≤ e}), max_batch_size), constant between milestones."""

    def __init__(self, batch_size: int, milestones: Sequence[int] = (), factor: float = 2.0,
                 max_batch_size: int | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size!r} — must be >= 1")
        if factor < 1:
            raise ValueError(f"batch_growth = {factor!r} — must be >= 1")
        milestones = list(milestones)
        if any(m < 1 for m in milestones) or any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"batch_milestones = {milestones} — must be strictly increasing epochs >= 1")
        if max_batch_size is not None and max_batch_size < batch_size:
            raise ValueError(f"max_batch_size = {max_batch_size} — must be >= batch_size = {batch_size}")
        self.batch_size, self.milestones, self.factor = batch_size, milestones, factor
        self.max_batch_size = max_batch_size

    def __call__(self, epoch: int) -> int:
        k = bisect.bisect_right(self.milestones, epoch)
        try:
            size = self.batch_size * self.factor ** k
        except OverflowError:  # past any data set: one batch per epoch either way
            size = math.inf
        return round(min(size, self.max_batch_size or LARGEST))

    def steps(self, epoch: int, n: int) -> int:
        """Optimizer steps in `epoch` over `n` samples: ⌈n / B(e)⌉."""
        return math.ceil(n / self(epoch))

    def _spans(self, epochs: int) -> list[tuple[int, int]]:
        """(first epoch, number of epochs) of each constant-size stretch within 0 … epochs−1."""
        starts = [0, *(m for m in self.milestones if m < epochs)]
        return [(a, b - a) for a, b in zip(starts, [*starts[1:], epochs]) if b > a]

    def sizes(self, epochs: int) -> list[int]:
        """The distinct batch sizes of epochs 0 … epochs−1, sorted (one per milestone at most,
        however many epochs)."""
        return sorted({self(first) for first, _ in self._spans(epochs)})

    def smallest(self, epochs: int, n: int) -> int:
        """The smallest training batch of epochs 0 … epochs−1 over `n` samples: min over the sizes
        B of B and of the last batch, n mod B (when not 0)."""
        return min(m for b in self.sizes(epochs) for m in (b, n % b or b))

    def steps_before(self, epoch: int, n: int) -> int:
        """Σ_{e < epoch} ⌈n / B(e)⌉: the global step at which `epoch` starts (total at epoch = E)."""
        return sum(count * self.steps(first, n) for first, count in self._spans(epoch))

    def equivalent_lr_schedule(self) -> dict:
        """The schedule section of the step decay this growth stands in for (lr·factor^−k at the
        same epochs, interval = epoch)."""
        return {"name": "piecewise", "interval": "epoch", "milestones": list(self.milestones),
                "rate": 1 / self.factor}


def from_train(train: Mapping) -> BatchSizeSchedule:
    """The schedule of a recipe's train section (batch_size + PARAMS); errors name train.<field>."""
    try:
        return BatchSizeSchedule(train["batch_size"], train["batch_milestones"], train["batch_growth"],
                                 train["max_batch_size"])
    except ValueError as exc:
        raise ConfigError(f"train.{exc}") from exc
