"""Optimizers by name: ``create(name, params, **hyper)`` → a torch.optim.Optimizer."""
from __future__ import annotations

from . import placeholders  # noqa: F401  (registrations)
from ..registry import OPTIMIZERS


def create(name: str, params, **hyper):
    """Build the registered optimizer `name` over `params` (parameters or param-group dicts)."""
    return OPTIMIZERS.create(name, params, field="optimizer", **hyper)


def available() -> list[str]:
    return OPTIMIZERS.names()


__all__ = ["create", "available"]
