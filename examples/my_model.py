"""A model of your own for nnopt: a function that gets input_shape and n_outputs (and the
[model] section's other keys) and returns a torch.nn.Module — here a plain MLP of `depth` hidden
layers of `width` ReLU units.

    [model]
    name = "python"
    factory = "examples/my_model.py:make_mlp"
    width = 32
"""
import math

from torch import nn


def make_mlp(input_shape, n_outputs, width: int = 64, depth: int = 2):
    layers, fan_in = [nn.Flatten()], math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, n_outputs))
