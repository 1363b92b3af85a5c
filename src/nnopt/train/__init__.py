"""Training: build a run from a recipe, fit it, checkpoint and resume it."""
from .builder import Setup, build, resolve_device
from .callbacks import Callback, LambdaCallback
from .trainer import Trainer, train

__all__ = ["Setup", "build", "resolve_device", "Trainer", "train", "Callback", "LambdaCallback"]
