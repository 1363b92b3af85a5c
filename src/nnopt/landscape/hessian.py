"""Curvature of a model's loss: Hessian-vector products, top eigenvalues (Lanczos), trace (Hutchinson).

The loss is the sample-weighted mean over ``batches`` (a re-iterable of ``(inputs, targets)``),

    L(θ) = Σ_b n_b · loss_fn(model(x_b), y_b) / Σ_b n_b      (loss_fn returns a batch mean),

and H = ∇²L(θ) over the model's trainable parameters, evaluated in eval mode (dropout off, batch
norm on its running statistics). One Hessian-vector product Hv = ∇(∇L · v) (Pearlmutter 1994) costs
one forward and two backward passes over every batch, about 2–3× a gradient of the same data.
"""
from __future__ import annotations

import contextlib
import copy
import math
from typing import Callable, Iterable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def trainable(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def flat(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def unflat(vector: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    out, i = [], 0
    for p in like:
        out.append(vector[i:i + p.numel()].view_as(p))
        i += p.numel()
    return out


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """The model in eval mode for the block; its previous mode afterwards."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def in_float64(model: nn.Module, batches):
    """A float64 copy of the model and batches whose floating inputs are float64."""
    model = copy.deepcopy(model).double()
    batches = [(x.double() if x.is_floating_point() else x, y) for x, y in batches]
    return model, batches


def total_samples(batches) -> int:
    return sum(len(y) for _, y in batches)


def hvp(model: nn.Module, loss_fn: LossFn, batches, vector: torch.Tensor) -> torch.Tensor:
    """H·v for a flat vector v over the trainable parameters (accumulated batch by batch)."""
    params = trainable(model)
    n = total_samples(batches)
    v = unflat(vector.to(params[0].dtype), params)
    out = torch.zeros_like(vector, dtype=params[0].dtype)
    with evaluating(model):
        for x, y in batches:
            loss = loss_fn(model(x), y) * (len(y) / n)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            dot = sum((g * u).sum() for g, u in zip(grads, v))
            out += flat(torch.autograd.grad(dot, params))
    return out


def lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, iters: int,
            generator: torch.Generator, dtype=torch.float64, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """`iters` Lanczos steps with full reorthogonalization from a random unit vector; returns the
    tridiagonal T's eigenvalues (ascending) and eigenvectors. Its extreme Ritz values converge to
    the operator's extreme eigenvalues; at iters = dim they are all of them."""
    q = torch.randn(dim, generator=generator, dtype=dtype).to(device)
    q /= q.norm()
    basis, alphas, betas = [q], [], []
    for j in range(iters):
        w = matvec(basis[-1]).to(dtype)
        alphas.append(torch.dot(w, basis[-1]))
        Q = torch.stack(basis)
        w = w - Q.T @ (Q @ w)
        w = w - Q.T @ (Q @ w)  # twice is enough (Kahan–Parlett)
        beta = w.norm()
        if j == iters - 1 or beta < 1e-10 * max(1.0, abs(float(alphas[-1]))):
            break
        betas.append(beta)
        basis.append(w / beta)
    a = torch.stack(alphas)
    T = torch.diag(a)
    if betas:
        b = torch.stack(betas[:len(alphas) - 1])
        T = T + torch.diag(b, 1) + torch.diag(b, -1)
    return torch.linalg.eigh(T.cpu())


def hessian_top_eigenvalues(model: nn.Module, loss_fn: LossFn, batches, k: int = 1, iters: int = 40,
                            seed: int = 0, float64: bool = False) -> list[float]:
    """The k algebraically largest eigenvalues of H, largest first (Lanczos, `iters` HVPs; exact
    to rounding once iters ≥ the parameter count)."""
    batches = list(batches)
    if float64:
        model, batches = in_float64(model, batches)
    dim = sum(p.numel() for p in trainable(model))
    iters = min(max(iters, 2 * k), dim)
    device = trainable(model)[0].device
    values, _ = lanczos(lambda v: hvp(model, loss_fn, batches, v), dim, iters,
                        torch.Generator().manual_seed(seed), device=device)
    return [float(v) for v in values.flip(0)[:k]]


def hessian_trace(model: nn.Module, loss_fn: LossFn, batches, samples: int = 20, seed: int = 0,
                  float64: bool = False) -> float:
    """Hutchinson's estimate tr H ≈ (1/S) Σ_s zₛᵀ H zₛ with Rademacher zₛ (S = `samples` HVPs);
    unbiased, variance 2 Σ_{i≠j} H_ij² / S (exact for a diagonal H)."""
    batches = list(batches)
    if float64:
        model, batches = in_float64(model, batches)
    params = trainable(model)
    dim = sum(p.numel() for p in params)
    gen = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(samples):
        z = (torch.randint(0, 2, (dim,), generator=gen) * 2 - 1).to(params[0].dtype).to(params[0].device)
        total += float(torch.dot(z, hvp(model, loss_fn, batches, z)))
    return total / samples


def hessian_density(model: nn.Module, loss_fn: LossFn, batches, iters: int = 40, runs: int = 3,
                    grid: torch.Tensor | None = None, sigma: float | None = None, seed: int = 0):
    """Eigenvalue density by stochastic Lanczos quadrature (Ghorbani et al. 2019): each run's Ritz
    values θᵢ with weights τᵢ² (first components of T's eigenvectors) approximate the spectral
    measure; p(λ) = mean over runs of Σᵢ τᵢ² N(λ; θᵢ, σ²). Returns (grid, density, nodes, weights)."""
    batches = list(batches)
    dim = sum(p.numel() for p in trainable(model))
    device = trainable(model)[0].device
    gen = torch.Generator().manual_seed(seed)
    nodes, weights = [], []
    for _ in range(runs):
        values, vectors = lanczos(lambda v: hvp(model, loss_fn, batches, v), dim, min(iters, dim), gen,
                                  device=device)
        nodes.append(values)
        weights.append(vectors[0] ** 2 / runs)
    nodes, weights = torch.cat(nodes), torch.cat(weights)
    span = float(nodes.max() - nodes.min()) or 1.0
    sigma = sigma or span / 100
    if grid is None:
        grid = torch.linspace(float(nodes.min()) - 5 * sigma, float(nodes.max()) + 5 * sigma, 400,
                              dtype=torch.float64)
    gauss = torch.exp(-((grid[:, None] - nodes[None, :]) ** 2) / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))
    return grid, gauss @ weights, nodes, weights
