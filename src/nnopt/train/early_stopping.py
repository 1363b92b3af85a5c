"""Early stopping with Keras' semantics (keras.callbacks.EarlyStopping, Keras 3).

At the end of each tracked epoch (epochs 1..start_from_epoch are not tracked):

    wait ← wait + 1
    if current improves on best:          improves = current < best − min_delta  (mode min)
        best ← current, best_epoch ← epoch, snapshot weights        current > best + min_delta  (mode max)
        if baseline is None or current improves on baseline: wait ← 0
    elif wait >= patience: stop

``best`` starts at ±∞, so the first tracked epoch is always the best so far; a ``baseline`` only
decides whether an improvement resets the patience count. With ``restore_best_weights`` the
weights of ``best_epoch`` are kept (the first tracked epoch's at the least, even when nothing beats
the baseline) and the trainer loads them when training ends, stopped early or not.

Where we differ from Keras: epochs are numbered from 1 (Keras' callback sees 0-based epochs; both
skip the same first ``start_from_epoch`` epochs); ``patience = None`` turns stopping off; a
monitor missing from the metrics is an error, not a warning that silently disables stopping;
``mode = "auto"`` takes the direction of the metric the monitor names (`nnopt.tasks.METRICS`:
max for acc/top5/r2, min for loss/rmse/mae; another name is an error) instead of a Keras
metric's direction; a negative ``min_delta`` is an error (Keras takes |min_delta|).
A NaN monitor value never improves (as in Keras).
"""
from __future__ import annotations

import math

from ..tasks import METRICS

MODES = ("auto", "min", "max")


def resolve_mode(monitor: str, mode: str) -> str:
    """"min" or "max" for `monitor`; "auto" reads the name."""
    if mode not in MODES:
        raise ValueError(f"mode = {mode!r} — must be one of {', '.join(map(repr, MODES))}")
    if mode != "auto":
        return mode
    if monitor in METRICS:
        return METRICS[monitor].direction
    raise ValueError(f"mode = \"auto\" cannot tell whether monitor = {monitor!r} should go up or "
                     "down — set mode = \"min\" or \"max\"")


class EarlyStopping:
    """Keras-style early stopping; ``update`` once per epoch returns True when training should stop."""

    def __init__(self, patience: int | None = None, monitor: str = "val_loss", mode: str = "auto",
                 min_delta: float = 0.0, baseline: float | None = None, start_from_epoch: int = 0,
                 restore_best_weights: bool = False):
        if patience is not None and patience < 0:
            raise ValueError(f"patience = {patience!r} — must be >= 0 epochs (or None: no early stopping)")
        if min_delta < 0:
            raise ValueError(f"min_delta = {min_delta!r} — must be >= 0 (the smallest change that "
                             "counts as an improvement)")
        if start_from_epoch < 0:
            raise ValueError(f"start_from_epoch = {start_from_epoch!r} — must be >= 0")
        self.patience, self.monitor = patience, monitor
        self.mode = resolve_mode(monitor, mode)
        self.min_delta, self.baseline = min_delta, baseline
        self.start_from_epoch, self.restore_best_weights = start_from_epoch, restore_best_weights
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    @property
    def enabled(self) -> bool:
        return self.patience is not None

    def improves(self, current: float, reference: float) -> bool:
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def update(self, epoch: int, metrics: dict, model=None) -> bool:
        """Record epoch `epoch` (1-based) with its `metrics`; True when training should stop now."""
        if not self.enabled or epoch <= self.start_from_epoch:
            return False
        if self.monitor not in metrics:
            raise ValueError(f"early_stopping.monitor = {self.monitor!r} is not among this epoch's "
                             f"metrics ({', '.join(sorted(metrics))})")
        current = float(metrics[self.monitor])
        if self.restore_best_weights and self.best_weights is None:
            self._snapshot(epoch, model)
        self.wait += 1
        if self.improves(current, self.best):
            self.best = current
            self._snapshot(epoch, model)
            if self.baseline is None or self.improves(current, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def _snapshot(self, epoch: int, model) -> None:
        self.best_epoch = epoch
        if self.restore_best_weights and model is not None:
            self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("best", "best_epoch", "best_weights", "stopped_epoch", "wait")}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
