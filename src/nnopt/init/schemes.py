"""The registered init schemes: a weight draw per block (see layers.py), biases, norms.

Every weight scheme takes, besides its own parameters:
    bias       value of every Linear/Conv/recurrent bias (0 by default; none keeps the layer's own)
    linear, conv, recurrent
               another weight scheme's name for that layer type (none = this scheme). The override
               reads the parameters it shares with this section (activation, gain, mode, ...);
               the rest take their defaults. E.g. [init] name="he_normal", recurrent="orthogonal".
Norm layers are reset to γ = 1, β = 0.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import nn

from ..params import Param
from ..registry import INITS
from . import samplers
from .gains import HE_ACTIVATIONS, XAVIER_ACTIVATIONS, he_gain, xavier_gain
from .layers import LAYER_TYPES, biases, reset_norms, weight_blocks

Fill = Callable[[torch.Tensor, int, int], None]


class _WeightSchemes:
    """The names allowed for a per-layer-type override: every scheme that draws weights."""

    def names(self) -> list[str]:
        return [e.name for e in INITS if e.meta.get("sampler") is not None]


def _override(layer: str) -> Param:
    return Param(str, None, nullable=True, choices=_WeightSchemes(),
                 doc=f"scheme for {layer} layers' weights; none = this one")


OVERRIDES = {t: _override(t) for t in LAYER_TYPES}
F32 = float(torch.finfo(torch.float32).max)  # weights are float32: larger values are not representable
COMMON = {"bias": Param(float, 0.0, ge=-F32, le=F32, nullable=True,
                        doc="value of every bias; none keeps the layer's own"),
          **OVERRIDES}


def initialize(module: nn.Module, fills: dict[str, Fill | None], bias: float | None) -> None:
    """Fill each weight block with the fill of its layer type, set biases, reset norms (in place)."""
    with torch.no_grad():
        for block in weight_blocks(module):
            fill = fills[block.layer_type]
            if fill is not None:
                fill(block.tensor, block.fan_in, block.fan_out)
                if block.commit is not None:
                    block.commit()
        if bias is not None:
            for _, b, _ in biases(module):
                b.fill_(bias)
    if any(f is not None for f in fills.values()):
        reset_norms(module)


def sampler_of(name: str, shared: dict) -> Fill:
    """The fill of weight scheme `name`, with the parameters in `shared` that its spec has."""
    entry = INITS.get(name)
    own = {k: v for k, v in shared.items() if k in entry.params and k not in COMMON}
    resolved = INITS.resolve(name, own, field="init")
    return entry.meta["sampler"](**{k: v for k, v in resolved.items() if k not in COMMON})


def weight_scheme(name: str, params: dict[str, Param] | None = None, bias_default: float | None = 0.0):
    """Register `sampler` (scheme parameters → Fill, or None for "keep") under `name` in INITS."""
    def decorate(sampler: Callable[..., Fill | None]):
        def factory(module: nn.Module, bias=bias_default, linear=None, conv=None, recurrent=None, **own):
            main = sampler(**own)
            chosen = {"linear": linear, "conv": conv, "recurrent": recurrent}
            fills = {t: sampler_of(s, own) if s is not None else main for t, s in chosen.items()}
            initialize(module, fills, bias)
            return module

        doc = (sampler.__doc__ or "").strip().splitlines()[0]
        spec = {**(params or {}), **COMMON, "bias": Param(float, bias_default, ge=-F32, le=F32, nullable=True,
                                                          doc=COMMON["bias"].doc)}
        INITS.register(name, description=doc, params=spec, skip=1, sampler=sampler)(factory)
        return sampler
    return decorate


def _symmetry_warning(value: float) -> None:
    warnings.warn(f"constant init (every weight = {value}): all units of a layer compute the same "
                  "function and receive the same gradient, so they stay identical during training "
                  "(the symmetry problem); use a random scheme to break it", UserWarning, stacklevel=4)


ACT = "activation whose gain scales the draw"
GAIN = Param(float, None, gt=0, le=F32, nullable=True, doc="overrides the activation's gain")
SLOPE = Param(float, 0.01, ge=0, le=F32, aliases=("a",), doc="negative slope of leaky_relu (torch's a)")


@INITS.register("default", params=OVERRIDES, skip=1, sampler=None)
def default(module: nn.Module, linear=None, conv=None, recurrent=None) -> nn.Module:
    """Keep torch's own initialization (Kaiming-uniform a=√5 for Linear/Conv); overrides still apply"""
    chosen = {"linear": linear, "conv": conv, "recurrent": recurrent}
    initialize(module, {t: sampler_of(s, {}) if s else None for t, s in chosen.items()}, None)
    return module


@weight_scheme("zeros")
def zeros() -> Fill:
    """W = 0 (warns: the units of a layer stay identical)"""
    _symmetry_warning(0.0)
    return samplers.constant(0.0)


@weight_scheme("constant", {"value": Param(float, 0.01, ge=-F32, le=F32, doc="every weight's value")})
def constant(value: float = 0.01) -> Fill:
    """W = value (warns: the units of a layer stay identical)"""
    _symmetry_warning(value)
    return samplers.constant(value)


@weight_scheme("normal", {"mean": Param(float, 0.0, ge=-F32, le=F32), "std": Param(float, 0.01, ge=0, le=F32)})
def normal(mean: float = 0.0, std: float = 0.01) -> Fill:
    """W ~ N(mean, std²)"""
    return samplers.normal(mean, std)


@weight_scheme("uniform", {"r": Param(float, 0.05, ge=0, le=F32, doc="half-width of U(−r, r)")})
def uniform(r: float = 0.05) -> Fill:
    """W ~ U(−r, r)"""
    return samplers.uniform(r)


XAVIER = {"activation": Param(str, "tanh", choices=XAVIER_ACTIVATIONS, aliases=("nonlinearity",), doc=ACT),
          "gain": GAIN,
          "negative_slope": SLOPE}


def _xavier(distribution: str):
    def make(activation: str = "tanh", gain: float | None = None, negative_slope: float = 0.01) -> Fill:
        g = gain if gain is not None else xavier_gain(activation, negative_slope)
        return samplers.xavier(g, distribution)
    return make


HE = {"activation": Param(str, "relu", choices=HE_ACTIVATIONS, aliases=("nonlinearity",), doc=ACT),
      "mode": Param(str, "fan_in", choices=("fan_in", "fan_out"),
                    doc="preserve the forward (fan_in) or backward (fan_out) variance"),
      "negative_slope": SLOPE}


def _he(distribution: str):
    def make(activation: str = "relu", mode: str = "fan_in", negative_slope: float = 0.01) -> Fill:
        return samplers.he(he_gain(activation, negative_slope), mode, distribution)
    return make


for _dist, _sym in (("uniform", "U(−r, r), r = gain·√(6/(fan_in+fan_out))"),
                    ("normal", "N(0, σ²), σ² = gain²·2/(fan_in+fan_out)")):
    _make = _xavier(_dist)
    _make.__doc__ = f"Xavier/Glorot {_sym}; gain by activation: 1 tanh, 4 logistic, √2 relu"
    weight_scheme(f"xavier_{_dist}", XAVIER)(_make)
for _dist, _sym in (("uniform", "U(−r, r), r = g·√(3/fan)"), ("normal", "N(0, σ²), σ² = g²/fan")):
    _make = _he(_dist)
    _make.__doc__ = f"He/Kaiming {_sym}; fan by mode (fan_in or fan_out), g by activation (√2 relu)"
    weight_scheme(f"he_{_dist}", HE)(_make)


@weight_scheme("orthogonal", {
    **XAVIER,
    "method": Param(str, "svd", choices=("svd", "qr"),
                    doc="svd of a Gaussian matrix (the chapter) or QR (torch.nn.init.orthogonal_)")})
def orthogonal(activation: str = "tanh", gain: float | None = None, negative_slope: float = 0.01,
               method: str = "svd") -> Fill:
    """W = gain·Q, Q orthogonal (rows or columns orthonormal); gain as for Xavier"""
    return samplers.orthogonal(gain if gain is not None else xavier_gain(activation, negative_slope), method)
