"""Signal propagation: per layer, the forward activations and the backward signal of one batch.

The chapter derives variance-preserving init from Var z(l) = Var z(l−1) forward and
‖δ(l−1)‖ = ‖δ(l)‖ backward. For each affine layer l (Linear, Conv, recurrent; in forward order)
one forward and backward pass of a batch records

    z_mean, z_var   mean and variance of the layer's output z(l) (its pre-activation)
    delta_norm      ‖δ(l)‖ = ‖∂L/∂z(l)‖, L the batch's mean cross-entropy
    grad_norm       ‖∂L/∂W(l)‖ of the layer's weights

and the ratios over depth, from the first to the last hidden layer (the output layer is listed
but left out when there are at least 3 layers, its width differs):

    forward  = Var z(last) / Var z(first)          backward = ‖δ(first)‖ / ‖δ(last)‖

The verdict reads each ratio by orders of magnitude: within [0.1, 10] "steady"; in [1e-3, 0.1)
"shrinks" and in (10, 1e3] "grows" (the signal drifts: Xavier + tanh, whose variance decays
like 1/l because tanh' < 1 away from 0); below 1e-3 "vanishes", above 1e3 "explodes". The pass
runs on a float64 copy of the model on the CPU (so 10^100 still shows as a number), in training mode.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..init import apply as apply_init
from ..init.layers import LAYER_TYPES, layer_type
from ..nn import build_model
from ..recipe import parse_value
from ..registry import INITS
from ..errors import ConfigError

CRITERION = ("verdict per ratio: < 1e-3 vanishes, < 0.1 shrinks, 0.1 … 10 steady, ≤ 1e3 grows, "
             "> 1e3 explodes")


@dataclass
class LayerStats:
    index: int
    name: str
    z_mean: float
    z_var: float
    delta_norm: float = math.nan
    grad_norm: float = math.nan


@dataclass
class Propagation:
    """The measurement of one model: per-layer stats plus a label (e.g. "he_normal / relu")."""

    label: str
    layers: list[LayerStats] = field(default_factory=list)

    @property
    def _ends(self) -> tuple[LayerStats, LayerStats]:
        hidden = self.layers[:-1] if len(self.layers) >= 3 else self.layers
        return hidden[0], hidden[-1]

    @property
    def forward_ratio(self) -> float:
        """Var z(last hidden) / Var z(first)."""
        first, last = self._ends
        return _ratio(last.z_var, first.z_var)

    @property
    def backward_ratio(self) -> float:
        """‖δ(first)‖ / ‖δ(last hidden)‖."""
        first, last = self._ends
        return _ratio(first.delta_norm, last.delta_norm)

    @property
    def verdict(self) -> str:
        """"steady", or which direction vanishes/explodes, e.g. "forward explodes, backward vanishes"."""
        parts = [f"{d} {_word(r)}" for d, r in (("forward", self.forward_ratio),
                                                 ("backward", self.backward_ratio)) if _word(r) != "steady"]
        return ", ".join(parts) or "steady"


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return math.inf if a > 0 else math.nan
    return a / b


def _word(r: float) -> str:
    """A ratio's verdict (CRITERION)."""
    if math.isnan(r) or r < 1e-3:
        return "vanishes"
    if r < 0.1:
        return "shrinks"
    if r <= 10:
        return "steady"
    return "grows" if r <= 1e3 else "explodes"


def measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, label: str = "") -> Propagation:
    """One forward/backward pass of (x, y) through a float64 CPU copy of `model`; stats per layer."""
    net = copy.deepcopy(model).to("cpu", torch.float64).train()
    result = Propagation(label)
    layers: list[tuple[LayerStats, nn.Module]] = []
    handles = []

    def hook(name: str, module: nn.Module):
        def record(_mod, _inputs, output):
            z = output[0] if isinstance(output, tuple) else output
            stats = LayerStats(len(layers), name, z.mean().item(), z.var().item())
            layers.append((stats, module))
            if z.requires_grad:
                z.register_hook(lambda g: setattr(stats, "delta_norm", g.norm().item()))
        return record

    for name, module in net.named_modules():
        if layer_type(module) in LAYER_TYPES:
            handles.append(module.register_forward_hook(hook(name, module)))
    try:
        loss = F.cross_entropy(net(x.to("cpu", torch.float64)), y.to("cpu"))
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear, Conv or recurrent layer to measure")
    for stats, module in layers:
        grads = [p.grad for n, p in module.named_parameters(recurse=False)
                 if n.startswith("weight") and p.grad is not None]
        stats.grad_norm = math.sqrt(sum(float(g.pow(2).sum()) for g in grads)) if grads else math.nan
        result.layers.append(stats)
    return result


def parse_init(text: str) -> tuple[str, dict]:
    """``"normal:std=1"`` → ("normal", {"std": 1}); ``"he_normal"`` → ("he_normal", {})."""
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"--init {text!r} — parameters must look like name:key=value,key=value")
        params[key.strip()] = parse_value(value.strip())
    INITS.get(name, "--init")
    return name, params


def deep_mlp(depth: int, width: int, activation: str, init: str, n_classes: int = 10) -> nn.Module:
    """An MLP of `depth` hidden layers of `width` units, initialized by `init` ("name:key=value,...").

    A scheme with an ``activation`` parameter gets the net's activation unless the init string sets
    it (or the scheme does not know that activation, then its default stays)."""
    if depth < 1 or width < 1:
        raise ConfigError(f"depth = {depth}, width = {width} — both must be >= 1")
    name, params = parse_init(init)
    model = build_model("mlp", (width,), n_classes, widths=[width] * depth, activation=activation)
    spec = INITS.get(name).params.get("activation")
    if spec is not None and "activation" not in params and activation in spec._choice_names():
        params["activation"] = activation
    return apply_init(model, name, **params)


def sweep(inits: list[str], activations: list[str], depth: int = 50, width: int = 256,
          batch: int = 256, seed: int = 0) -> list[Propagation]:
    """`measure` each init × activation deep MLP on a N(0, 1) batch with random labels (seeded)."""
    results = []
    for activation in activations:
        for init in inits:
            torch.manual_seed(seed)
            model = deep_mlp(depth, width, activation, init)
            x = torch.randn(batch, width)
            y = torch.randint(0, 10, (batch,))
            results.append(measure(model, x, y, f"{init} / {activation}"))
    return results


def from_recipe(recipe, batch: int = 256) -> Propagation:
    """`measure` a recipe's model, as initialized by the recipe, on its first training batch."""
    from ..train.builder import build

    setup = build(recipe)
    split = setup.data.train
    label = f"{recipe.model['name']} / init {recipe.init['name']}"
    return measure(setup.model, split.x[:batch], split.y[:batch], label)
