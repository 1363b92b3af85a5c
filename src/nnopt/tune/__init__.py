"""Hyperparameter search and small NAS over whole recipes, on Optuna (see docs/tune.md)."""
from .space import Space, load_space, parse_space
from .study import tune

__all__ = ["Space", "load_space", "parse_space", "tune"]
