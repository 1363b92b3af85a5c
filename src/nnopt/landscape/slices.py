"""Loss along lines and planes in parameter space, as arrays and figures.

- `interpolate`: L((1−α)·θ₀ + α·θ₁) for α on a grid (Goodfellow, Vinyals & Saxe 2015).
- `slice_2d`: L(θ* + a·δ + b·η) with filter-normalized random directions (Li et al. 2018): for
  each filter (an output row of a weight: dim 0), δ_f ← δ_f · ‖θ_f‖ / ‖δ_f‖; 1-D parameters
  (biases, norm gains) get δ = 0, so slices of networks with different weight scales compare.

Each point is one loss evaluation over every batch (a forward pass, no gradient); a 2-D slice of
n×n points costs n² forward passes over the data.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from .hessian import LossFn, evaluating, flat, total_samples, trainable, unflat


def parameters_vector(model: nn.Module) -> torch.Tensor:
    """θ: the trainable parameters flattened into one (detached) vector."""
    return flat(p.detach() for p in trainable(model)).clone()


@contextlib.contextmanager
def at(model: nn.Module, vector: torch.Tensor):
    """The model with its trainable parameters set to `vector` for the block, restored after."""
    params = trainable(model)
    saved = parameters_vector(model)
    with torch.no_grad():
        for p, v in zip(params, unflat(vector, params)):
            p.copy_(v)
    try:
        yield model
    finally:
        with torch.no_grad():
            for p, v in zip(params, unflat(saved, params)):
                p.copy_(v)


@torch.no_grad()
def mean_loss(model: nn.Module, loss_fn: LossFn, batches) -> float:
    """Σ_b n_b · loss_fn(model(x_b), y_b) / Σ_b n_b in eval mode."""
    n = total_samples(batches)
    with evaluating(model):
        return sum(float(loss_fn(model(x), y)) * len(y) / n for x, y in batches)


def interpolate(model: nn.Module, loss_fn: LossFn, batches, theta0: torch.Tensor, theta1: torch.Tensor,
                alphas=None) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, losses) with losses[i] = L((1−αᵢ)θ₀ + αᵢθ₁); default α = −0.25 … 1.25 in 31 points."""
    batches = list(batches)
    alphas = np.linspace(-0.25, 1.25, 31) if alphas is None else np.asarray(alphas, dtype=float)
    losses = []
    for a in alphas:
        with at(model, (1 - a) * theta0 + a * theta1):
            losses.append(mean_loss(model, loss_fn, batches))
    return alphas, np.array(losses)


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> torch.Tensor:
    """A Gaussian direction, each filter rescaled to its weights' norm; zero on 1-D parameters."""
    parts = []
    for p in trainable(model):
        d = torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p)
        if p.dim() <= 1:
            d.zero_()
        else:
            w, dd = p.detach().reshape(len(p), -1), d.reshape(len(p), -1)
            dd *= w.norm(dim=1, keepdim=True) / dd.norm(dim=1, keepdim=True).clamp_min(1e-12)
        parts.append(d)
    return flat(parts)


def slice_2d(model: nn.Module, loss_fn: LossFn, batches, center: torch.Tensor | None = None,
             span: float = 1.0, points: int = 21, seed: int = 0, directions=None):
    """(a, b, Z) with Z[i, j] = L(θ* + a_j·δ + b_i·η) on a points×points grid over [−span, span]²,
    δ, η filter-normalized (seeded) unless `directions` = (δ, η) is given; θ* defaults to the
    model's parameters."""
    batches = list(batches)
    center = parameters_vector(model) if center is None else center
    if directions is None:
        gen = torch.Generator().manual_seed(seed)
        directions = (filter_normalized_direction(model, gen), filter_normalized_direction(model, gen))
    d1, d2 = directions
    grid = np.linspace(-span, span, points)
    Z = np.empty((points, points))
    for i, b in enumerate(grid):
        for j, a in enumerate(grid):
            with at(model, center + a * d1 + b * d2):
                Z[i, j] = mean_loss(model, loss_fn, batches)
    return grid, grid.copy(), Z


def plot_interpolation(ax, curves: dict, ylabel: str = "training loss", log: bool = False) -> None:
    """One line per label: `curves[label]` = (alphas, losses) or a list of them over seeds
    (mean line, min–max band); α = 0 and 1 marked."""
    for label, value in curves.items():
        runs = value if isinstance(value, list) else [value]
        alphas = runs[0][0]
        arr = np.array([r[1] for r in runs])
        line, = ax.plot(alphas, arr.mean(0), label=label)
        if len(runs) > 1:
            ax.fill_between(alphas, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.2)
    for x in (0, 1):
        ax.axvline(x, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("α  (θ = (1−α)·θ₀ + α·θ₁)")
    ax.set_ylabel(ylabel + (", log scale" if log else ""))
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_slice(ax, a, b, Z, title: str = "", levels: int = 20, log: bool = True):
    """Filled contours of a 2-D slice (log-spaced levels by default), the centre marked."""
    Zp = np.log10(np.maximum(Z, 1e-12)) if log else Z
    cs = ax.contourf(a, b, Zp, levels=levels, cmap="viridis")
    ax.contour(a, b, Zp, levels=levels, colors="k", linewidths=0.3, alpha=0.5)
    ax.plot([0], [0], "r*", ms=10)
    ax.set_xlabel("a  (filter-normalized direction δ)")
    ax.set_ylabel("b  (filter-normalized direction η)")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    cb = ax.figure.colorbar(cs, ax=ax)
    cb.set_label("log₁₀ loss" if log else "loss")
