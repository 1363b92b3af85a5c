"""Optimizers by name: ``create(name, params, **hyper)`` → a torch.optim.Optimizer.

    opt = nnopt.optim.create("adamw", model.named_parameters(), lr=3e-4, weight_decay=0.05)

``params`` may be ``model.parameters()``, ``model.named_parameters()`` (names then appear in
non-finite-gradient errors) or torch-style param-group dicts. Each optimizer is one registration
(`nnopt.optim.define.register`); build your own from the public transforms:

    from nnopt.optim import ChainOptimizer, transforms as T
    opt = ChainOptimizer(model.parameters(), T.chain(T.scale_by_rms(0.9), T.trace(0.9, nesterov=True),
                                                     T.scale_by_lr()), lr=1e-3)
"""
from __future__ import annotations

from torch import Tensor

from . import named, transforms  # noqa: F401  (named: registrations)
from . import beyond  # noqa: F401  (registrations beyond the chapter; after named: sam wraps any of them)
from ..errors import ConfigError
from ..registry import OPTIMIZERS
from .define import register
from .groups import split_no_decay
from .optimizer import ChainOptimizer


def create(name: str, params, **hyper):
    """Build the registered optimizer `name` over `params` (parameters, named parameters or
    param-group dicts); bad hyperparameters raise ConfigError naming the field. ``lr`` may be a
    0-d tensor, as in torch (every group whose lr is the default then holds that tensor)."""
    lr = hyper.get("lr")
    if not isinstance(lr, Tensor):
        return OPTIMIZERS.create(name, params, field="optimizer", **hyper)
    if lr.numel() != 1:
        raise ConfigError(f"optimizer.lr = tensor of shape {tuple(lr.shape)} — must be a number or a 0-d tensor")
    value = float(lr)
    opt = OPTIMIZERS.create(name, params, field="optimizer", **{**hyper, "lr": value})
    for group in opt.param_groups:
        if not isinstance(group["lr"], Tensor) and group["lr"] == value:
            group["lr"] = lr
    opt.defaults["lr"] = lr
    return opt


def available() -> list[str]:
    return OPTIMIZERS.names()


__all__ = ["create", "available", "register", "ChainOptimizer", "transforms", "split_no_decay"]
