"""Optimizers by name: ``create(name, params, **hyper)`` → a torch.optim.Optimizer.

    opt = nnopt.optim.create("adamw", model.named_parameters(), lr=3e-4, weight_decay=0.05)

``params`` may be ``model.parameters()``, ``model.named_parameters()`` (names then appear in
non-finite-gradient errors) or torch-style param-group dicts. Build your own from the public
transforms:

    from nnopt.optim import ChainOptimizer, transforms as T
    opt = ChainOptimizer(model.parameters(), T.chain(T.scale_by_rms(0.9), T.trace(0.9, nesterov=True),
                                                     T.scale_by_lr()), lr=1e-3)
"""
from __future__ import annotations

from . import named, transforms  # noqa: F401  (named: registrations)
from ..registry import OPTIMIZERS
from .groups import split_no_decay
from .optimizer import ChainOptimizer


def create(name: str, params, **hyper):
    """Build the registered optimizer `name` over `params` (parameters, named parameters or
    param-group dicts); bad hyperparameters raise ConfigError naming the field."""
    return OPTIMIZERS.create(name, params, field="optimizer", **hyper)


def available() -> list[str]:
    return OPTIMIZERS.names()


__all__ = ["create", "available", "ChainOptimizer", "transforms", "split_no_decay"]
