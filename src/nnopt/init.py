"""Parameter initialization schemes: ``apply(module, scheme, **kw)`` re-initializes in place."""
from __future__ import annotations

from torch import nn

from .registry import INITS


def apply(module: nn.Module, scheme: str = "default", **kw) -> nn.Module:
    """Initialize `module`'s parameters with the registered `scheme`; returns the module."""
    INITS.create(scheme, module, field="init", **kw)
    return module


def available() -> list[str]:
    return INITS.names()


@INITS.register("default", skip=1)
def default(module: nn.Module) -> None:
    """Keep torch's own initialization of each layer (Kaiming-uniform with a=√5 for Linear/Conv)"""
