"""Layers and model builders."""
from . import activations, norms, models  # noqa: F401  (registrations)
from .models import build_model

__all__ = ["build_model"]
