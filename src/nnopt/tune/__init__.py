"""Hyperparameter search and small NAS over whole recipes, on Optuna (see docs/tune.md).

Optuna is imported only when a search runs (``nnopt.tune.tune`` or ``nnopt tune``), so the rest of
nnopt — and the CLI's other commands — start without it.
"""
from .space import Space, load_space, parse_space


def __getattr__(name: str):
    if name == "tune":
        from .study import tune

        return tune
    raise AttributeError(f"module 'nnopt.tune' has no attribute {name!r}")


__all__ = ["Space", "load_space", "parse_space", "tune"]
