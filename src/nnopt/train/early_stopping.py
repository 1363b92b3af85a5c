"""Early stopping with Keras' semantics (monitor, mode, patience, min_delta, baseline,
start_from_epoch, restore_best_weights).

Improvement means ``current < best − min_delta`` (mode min) or ``current > best + min_delta``
(mode max); ``best`` starts at ``baseline`` when given. After `patience` epochs without improvement
the run stops. Epochs before `start_from_epoch` are not tracked.
"""
from __future__ import annotations

import copy
import math


class EarlyStopping:
    def __init__(self, patience=None, monitor="val_loss", mode="auto", min_delta=0.0, baseline=None,
                 start_from_epoch=0, restore_best_weights=False):
        self.patience = patience
        self.monitor = monitor
        self.mode = ("max" if monitor.endswith("acc") else "min") if mode == "auto" else mode
        self.min_delta = min_delta
        self.start_from_epoch = start_from_epoch
        self.restore_best_weights = restore_best_weights
        self.best = baseline if baseline is not None else (math.inf if self.mode == "min" else -math.inf)
        self.best_epoch: int | None = None
        self.best_weights = None
        self.wait = 0

    @property
    def enabled(self) -> bool:
        return self.patience is not None

    def improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def update(self, epoch: int, metrics: dict, model) -> bool:
        """Record epoch `epoch` (1-based); True when training should stop now."""
        if not self.enabled or epoch <= self.start_from_epoch:
            return False
        current = metrics[self.monitor]
        if self.improved(current):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(model.state_dict())
            return False
        self.wait += 1
        return self.wait >= self.patience

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("best", "best_epoch", "best_weights", "wait")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
