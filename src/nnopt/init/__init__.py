"""Parameter initialization: ``apply(module, scheme, **kw)`` re-initializes a model in place.

Schemes (see ``available()``): default (torch's own), zeros, constant, normal, uniform,
xavier_uniform, xavier_normal, he_uniform, he_normal, orthogonal, pretrained. Weight blocks and
their fans are defined in layers.py, the draws in samplers.py, the gains in gains.py.
"""
from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from ..registry import INITS
from . import schemes  # noqa: F401  (registrations: the weight schemes first)
from . import pretrained  # noqa: F401,E402
from .layers import Block, fans, weight_blocks


def apply(module: nn.Module, scheme: str = "default", **kw) -> nn.Module:
    """Initialize `module`'s parameters with the registered `scheme`; returns the module.

    Fans come from each layer's type (Linear, Conv, recurrent), so `module` must be an nn.Module;
    torch's names are accepted (``nonlinearity`` for ``activation``, ``a`` for ``negative_slope``)."""
    if not isinstance(module, nn.Module):
        raise ConfigError(f"init.apply(module = {type(module).__name__}, ...) — must be an nn.Module "
                          "(the fans come from its layers); wrap a lone tensor in a layer, or use "
                          "torch.nn.init on it")
    INITS.create(scheme, module, field="init", **kw)
    return module


def available() -> list[str]:
    """The registered scheme names."""
    return INITS.names()


__all__ = ["apply", "available", "fans", "weight_blocks", "Block"]
