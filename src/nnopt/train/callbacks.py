"""Trainer events: whatever watches a run subscribes instead of subclassing the Trainer.

    class Callback:                                    # every method optional
        on_fit_start(trainer)                          # after setup/resume, before the first step
        on_step_end(trainer, step, metrics)            # after each optimizer step
        on_epoch_end(trainer, epoch, record)           # after validation; record = metrics.jsonl's line
        on_fit_end(trainer, summary)                   # after the test evaluation, summary written

``metrics`` of a step: ``step`` (1-based count of steps done), ``epoch`` (1-based, the epoch in
progress), ``lr``, ``batch_size`` and, as tensors on the run's device, the step's ``loss``,
``grad_norm`` (global, before clipping) and ``sums`` — the batch's metric sums of the run's task
(`nnopt.tasks.batch_sums`: [#right predictions] for classification; per output Σ(ŷ−y)², Σ|ŷ−y|,
Σy, Σy² for regression). Read them with ``float(...)`` only when you need them: each read is a
device→host sync on a GPU. ``trainer.setup`` is the built run (model, optimizer, data, ...).

Any method may call ``trainer.request_stop(reason)``: the loop ends after the current step (or at
the epoch end, when called there), saves a checkpoint, evaluates the test split and returns a
summary with status ``"stopped"`` and ``stop_reason``. An exception raised by a callback ends the
fit and propagates (``nnopt tune`` raises ``optuna.TrialPruned`` this way).
"""
from __future__ import annotations


class Callback:
    """Base class with no-op event methods; override the ones you need."""

    def on_fit_start(self, trainer) -> None:
        pass

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        pass

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        pass

    def on_fit_end(self, trainer, summary: dict) -> None:
        pass


def listens(callback, event: str) -> bool:
    """Whether `callback` handles `event` with more than `Callback`'s no-op (the Trainer computes a
    step's gradient norms for on_step_end only when someone listens)."""
    own = getattr(callback, "__dict__", {}).get(event)
    method = getattr(type(callback), event, None)
    return own is not None or (method is not None and method is not getattr(Callback, event))


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda tr, e, r: ...)``."""

    EVENTS = ("on_fit_start", "on_step_end", "on_epoch_end", "on_fit_end")

    def __init__(self, **events):
        unknown = set(events) - set(self.EVENTS)
        if unknown:
            raise TypeError(f"unknown Trainer event(s) {sorted(unknown)}; events are {', '.join(self.EVENTS)}")
        for name, fn in events.items():
            setattr(self, name, fn)
