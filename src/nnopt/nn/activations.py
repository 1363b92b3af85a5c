"""Activation functions by name (the init schemes read their gains from the same names)."""
from torch import nn

from ..registry import ACTIVATIONS

for _name, _cls, _doc in [
    ("relu", nn.ReLU, "max(0, x)"),
    ("leaky_relu", nn.LeakyReLU, "max(0.01x, x)"),
    ("tanh", nn.Tanh, "tanh(x)"),
    ("logistic", nn.Sigmoid, "σ(x) = 1/(1+e^−x)"),
    ("gelu", nn.GELU, "x·Φ(x)"),
    ("elu", nn.ELU, "x if x>0 else e^x−1"),
    ("identity", nn.Identity, "x (a linear network)"),
]:
    ACTIVATIONS.register(_name, description=_doc)(_cls)
