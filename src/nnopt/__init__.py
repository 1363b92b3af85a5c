"""nnopt: optimization and regularization of neural networks, as components and as a lab."""
from .errors import CheckpointError, ConfigError, DataError, DivergedError
from .registry import FAMILIES
from . import data, nn, optim, schedules, clip, init, preprocess, augment, regularize  # noqa: F401
from .recipe import Recipe

__version__ = "0.1.0"
__all__ = ["Recipe", "ConfigError", "DataError", "CheckpointError", "DivergedError", "FAMILIES"]


def __getattr__(name: str):
    """``nnopt.track`` (it imports the Trainer's modules) loads on first use."""
    if name == "track":
        import importlib

        return importlib.import_module(".track", __name__)
    raise AttributeError(f"module 'nnopt' has no attribute {name!r}")
