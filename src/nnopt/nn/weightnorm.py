"""Weight normalization (Salimans & Kingma 2016): w = g · v / ‖v‖ per output unit.

The norm ‖v‖ is taken over every axis but ``dim`` (0 = output units/channels), so each unit's
weight vector has length g. Registered as a torch parametrization with the same parameter names
and initialization as torch.nn.utils.parametrizations.weight_norm (``original0`` = g = ‖w‖,
``original1`` = v = w), so state dicts interchange. `data_dependent_init` is the paper's §3 init
(g, b from one batch, so every pre-activation starts at mean 0, std 1); a recipe asks for it with
``init.data_dependent = true``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


def norm_except(v: torch.Tensor, dim: int) -> torch.Tensor:
    """‖v‖ over every axis but `dim`, kept broadcastable to v."""
    dim = dim % v.dim()
    axes = tuple(a for a in range(v.dim()) if a != dim)
    return torch.linalg.vector_norm(v, dim=axes, keepdim=True)


class WeightNorm(nn.Module):
    """Parametrization (g, v) ↦ g·v/‖v‖; ``right_inverse(w)`` gives g = ‖w‖, v = w."""

    def __init__(self, dim: int = 0):
        super().__init__()
        self.dim = dim

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return v * (g / norm_except(v, self.dim))

    def right_inverse(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return norm_except(w, self.dim), w


def weight_norm(module: nn.Module, name: str = "weight", dim: int = 0) -> nn.Module:
    """Reparametrize ``module.<name>`` as g·v/‖v‖ in place; returns the module."""
    if not isinstance(getattr(module, name, None), torch.Tensor):
        raise ValueError(f"weight_norm: {type(module).__name__} has no tensor {name!r} to reparametrize")
    parametrize.register_parametrization(module, name, WeightNorm(dim), unsafe=True)
    return module


def weight_normed(model: nn.Module) -> list[nn.Module]:
    """The modules of `model` whose ``weight`` is reparametrized by `WeightNorm`, in registration order."""
    return [m for m in model.modules() if parametrize.is_parametrized(m, "weight")
            and any(isinstance(p, WeightNorm) for p in m.parametrizations.weight)]


def _unit_axis(layer: nn.Module) -> int:
    """The axis of `layer`'s output that indexes its units (the rows of w): last for Linear, 1 for Conv."""
    if isinstance(layer, nn.Linear):
        return -1
    if isinstance(layer, nn.modules.conv._ConvNd):
        return 1
    raise ValueError(f"data_dependent_init: a weight-normed {type(layer).__name__} — only Linear and Conv layers "
                     "have a pre-activation per unit to normalize")


@torch.no_grad()
def data_dependent_init(model: nn.Module, x: torch.Tensor, v_std: float | None = 0.05, eps: float = 1e-8,
                        generator: torch.Generator | None = None) -> nn.Module:
    """Salimans & Kingma 2016 §3's data-dependent init of every weight-normed layer, in forward order.

    For each layer: v ~ N(0, v_std²) (``v_std=None`` keeps v's current direction and length), g = 1,
    b = 0; on the batch `x` (the earlier layers already initialized) the pre-activation
    t = v·x/‖v‖ of each unit has mean μ[t] and standard deviation σ[t] = √(Var[t] + eps) (population
    variance over the batch and, for a conv layer, the positions); then g = 1/σ[t], b = −μ[t]/σ[t],
    so y = g·v·x/‖v‖ + b = (t − μ[t])/σ[t] starts at mean 0, std 1 on `x` per unit. A layer without
    a bias gets g only. The model runs in eval mode (no dropout); its mode is restored. Returns it."""
    layers = weight_normed(model)
    if not layers:
        raise ValueError("data_dependent_init: the model has no weight-normed layer (build it with "
                         "model.norm = \"weight\" or nnopt.nn.weight_norm)")
    if len(x) < 2:
        raise ValueError(f"data_dependent_init: the batch has {len(x)} sample — σ[t] needs at least 2")
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m) if m not in order else None) for m in layers]
    was = model.training
    model.eval()
    try:
        model(x)
        for h in hooks:
            h.remove()
        unused = [m for m in layers if m not in order]
        if unused:
            raise ValueError(f"data_dependent_init: a weight-normed {type(unused[0]).__name__} is not used by the "
                             "model's forward (nothing to measure its pre-activations on)")
        for layer in order:
            wn = layer.parametrizations.weight
            if next(p for p in wn if isinstance(p, WeightNorm)).dim != 0:
                raise ValueError("data_dependent_init: weight norm over dim 0 only (g per output unit)")
            g, v = wn.original0, wn.original1
            if v_std is not None:
                v.normal_(0.0, v_std, generator=generator)
            g.fill_(1.0)
            if layer.bias is not None:
                layer.bias.zero_()
            seen = []
            hook = layer.register_forward_hook(lambda m, i, o: seen.append(o))
            try:
                model(x)
            finally:
                hook.remove()
            t = seen[0].movedim(_unit_axis(layer), 0).flatten(1)  # (units, batch·positions)
            mean, var = t.mean(1), t.var(1, unbiased=False)
            sigma = (var + eps).sqrt()
            g.copy_((1.0 / sigma).view_as(g))
            if layer.bias is not None:
                layer.bias.copy_(-mean / sigma)
    finally:
        for h in hooks:
            h.remove()  # removing twice is harmless
        model.train(was)
    return model
