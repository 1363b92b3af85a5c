"""Gains by activation: how much a scheme scales its variance-preserving draw.

Xavier/Glorot (the chapter, after Glorot & Bengio 2010): r = g·√(6/(fan_in+fan_out)) with g = 1 for
tanh and the identity and g = 4 for the logistic sigmoid (σ'(0) = 1/4); torch has no logistic gain
and uses 5/3 for tanh — pass ``gain=5/3`` to get torch's. He/Kaiming (He et al. 2015):
g = √2 for ReLU, √(2/(1+a²)) for leaky ReLU of slope a, 1 for the identity.
"""
from __future__ import annotations

import math

XAVIER_ACTIVATIONS = ("tanh", "logistic", "identity", "relu", "leaky_relu")
HE_ACTIVATIONS = ("relu", "leaky_relu", "identity")


def xavier_gain(activation: str, negative_slope: float = 0.01) -> float:
    """1 for tanh/identity, 4 for logistic, √2 for ReLU, √(2/(1+a²)) for leaky ReLU."""
    if activation in ("tanh", "identity"):
        return 1.0
    if activation == "logistic":
        return 4.0
    return he_gain(activation, negative_slope)


def he_gain(activation: str, negative_slope: float = 0.01) -> float:
    """√2 for ReLU, √(2/(1+a²)) for leaky ReLU of slope a, 1 for the identity."""
    if activation == "relu":
        return math.sqrt(2.0)
    if activation == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + negative_slope ** 2))
    if activation == "identity":
        return 1.0
    raise ValueError(f"activation = {activation!r} — He init is defined for one of {', '.join(HE_ACTIVATIONS)}")
