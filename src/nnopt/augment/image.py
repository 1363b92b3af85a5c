"""Batched image augmentation: per-sample random parameters, one pass over the whole batch.

Geometric ops (rotation, scaling, translation) each give a per-sample 3×3 matrix in centred pixel
coordinates ``u = (col − (W−1)/2, row − (H−1)/2)`` (rows point down); consecutive ones are multiplied
into one matrix ``M`` and applied with a single ``F.affine_grid`` + ``F.grid_sample``:

    out(u) = in(M⁻¹ u)        (output pixel u reads the input at M⁻¹ u)

Flips are exact index reversals chosen by a per-sample mask, noise adds ``σ·N(0, 1)``. Every op has
its own probability p: a sample the op skips gets the identity. Randomness comes only from the
``torch.Generator`` passed in, so equal seeds give equal batches, on CPU or GPU.

    aug = Compose([HFlip(0.5), Rotation(15), Translation(0.1), GaussianNoise(0.05)])
    x = aug(x, torch.Generator().manual_seed(0))    # x: (B, C, H, W) or (B, H, W)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

PADDINGS = ("zeros", "border", "reflection")
MODES = ("bilinear", "nearest")


def uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    """n draws from U(low, high) on `device` (the generator's device when given)."""
    gen_device = generator.device if generator is not None else device
    u = torch.rand(n, generator=generator, device=gen_device, dtype=torch.float32).to(device)
    return low + (high - low) * u


def bernoulli_mask(n: int, p: float, generator, device) -> torch.Tensor:
    """Which of n samples an op with probability p touches (always drawn, so streams stay aligned)."""
    return uniform(n, 0.0, 1.0, generator, device) < p


def per_sample(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A (B,) mask viewed as (B, 1, ..., 1) to broadcast over the sample axes of x."""
    return mask.view(-1, *[1] * (x.dim() - 1))


def rotation_matrix(degrees: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) counter-clockwise rotation on screen (rows point down): [[c, s], [−s, c]]."""
    t = torch.deg2rad(degrees)
    c, s = torch.cos(t), torch.sin(t)
    m = _eye(len(degrees), degrees.device)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, s, -s, c
    return m


def scale_matrix(factor: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) isotropic zoom about the centre: u ↦ factor·u."""
    m = _eye(len(factor), factor.device)
    m[:, 0, 0], m[:, 1, 1] = factor, factor
    return m


def shift_matrix(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) translation by (dx, dy) pixels: content moves right by dx and down by dy."""
    m = _eye(len(dx), dx.device)
    m[:, 0, 2], m[:, 1, 2] = dx, dy
    return m


def _eye(n: int, device) -> torch.Tensor:
    return torch.eye(3, device=device).repeat(n, 1, 1)


def warp(x: torch.Tensor, matrix: torch.Tensor, mode: str = "bilinear",
         padding: str = "zeros") -> torch.Tensor:
    """Apply per-sample forward matrices (B, 3, 3) in centred pixel units to x (B, C, H, W).

    grid_sample works in normalised coordinates n = u / (W/2, H/2) (align_corners=False), so the
    sampling matrix is θ = D⁻¹ M⁻¹ D with D = diag(W/2, H/2, 1).
    """
    h, w = x.shape[-2:]
    d = torch.diag(torch.tensor([w / 2, h / 2, 1.0], device=x.device))
    d_inv = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], device=x.device))
    theta = (d_inv @ torch.linalg.inv(matrix.float()) @ d)[:, :2].to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=False)


@dataclass(frozen=True)
class Rotation:
    """Rotate by an angle drawn from U(−degrees, degrees), with probability p."""

    degrees: float
    p: float = 1.0

    def matrix(self, n, size, generator, device) -> torch.Tensor:
        angle = uniform(n, -self.degrees, self.degrees, generator, device)
        return rotation_matrix(angle * bernoulli_mask(n, self.p, generator, device))


@dataclass(frozen=True)
class Scaling:
    """Zoom by a factor drawn from U(low, high), with probability p."""

    low: float
    high: float
    p: float = 1.0

    def matrix(self, n, size, generator, device) -> torch.Tensor:
        factor = uniform(n, self.low, self.high, generator, device)
        return scale_matrix(torch.where(bernoulli_mask(n, self.p, generator, device), factor, 1.0))


@dataclass(frozen=True)
class Translation:
    """Shift by (fx·W, fy·H) pixels with fx, fy ~ U(−fraction, fraction), with probability p."""

    fraction: float
    p: float = 1.0

    def matrix(self, n, size, generator, device) -> torch.Tensor:
        h, w = size
        fx = uniform(n, -self.fraction, self.fraction, generator, device)
        fy = uniform(n, -self.fraction, self.fraction, generator, device)
        keep = bernoulli_mask(n, self.p, generator, device)
        return shift_matrix(fx * w * keep, fy * h * keep)


@dataclass(frozen=True)
class Flip:
    """Reverse the columns (axis=-1, horizontal) or rows (axis=-2, vertical) with probability p."""

    axis: int
    p: float = 0.5

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        return torch.where(per_sample(bernoulli_mask(len(x), self.p, generator, x.device), x),
                           x.flip(self.axis), x)


def HFlip(p: float = 0.5) -> Flip:  # noqa: N802 (reads like the other op classes)
    return Flip(-1, p)


def VFlip(p: float = 0.5) -> Flip:  # noqa: N802
    return Flip(-2, p)


@dataclass(frozen=True)
class GaussianNoise:
    """x + σ·ε, ε ~ N(0, 1) per pixel, applied to a sample with probability p."""

    sigma: float
    p: float = 1.0

    def __call__(self, x: torch.Tensor, generator=None) -> torch.Tensor:
        mask = bernoulli_mask(len(x), self.p, generator, x.device)
        gen_device = generator.device if generator is not None else x.device
        eps = torch.randn(x.shape, generator=generator, device=gen_device, dtype=x.dtype).to(x.device)
        return x + self.sigma * eps * per_sample(mask, x)


class Compose:
    """Apply ops in order; runs of geometric ops are fused into one resampling.

    ``p`` is the probability that a sample is augmented at all (it then meets each op with that
    op's own probability). Takes (B, C, H, W) or (B, H, W) float batches.
    """

    def __init__(self, ops: Sequence, p: float = 1.0, mode: str = "bilinear", padding: str = "zeros"):
        self.ops, self.p, self.mode, self.padding = list(ops), p, mode, padding

    def __repr__(self) -> str:
        return f"Compose({self.ops!r}, p={self.p}, mode={self.mode!r}, padding={self.padding!r})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if x.dim() not in (3, 4) or not x.is_floating_point():
            raise ValueError(f"image augmentation needs a float batch (B, C, H, W) or (B, H, W), got "
                             f"{x.dtype} {tuple(x.shape)}; use data.layout = \"image\"")
        squeeze = x.dim() == 3
        out = x.unsqueeze(1) if squeeze else x
        n, size = len(out), tuple(out.shape[-2:])
        matrix = None
        for op in self.ops:
            if hasattr(op, "matrix"):
                m = op.matrix(n, size, generator, x.device)
                matrix = m if matrix is None else m @ matrix
                continue
            if matrix is not None:
                out, matrix = warp(out, matrix, self.mode, self.padding), None
            out = op(out, generator)
        if matrix is not None:
            out = warp(out, matrix, self.mode, self.padding)
        if self.p < 1:
            keep = per_sample(bernoulli_mask(n, self.p, generator, x.device), out)
            out = torch.where(keep, out, x.unsqueeze(1) if squeeze else x)
        return out.squeeze(1) if squeeze else out


def pipeline(rotation=0.0, rotation_p=1.0, hflip=0.0, vflip=0.0, scale=(1.0, 1.0), scale_p=1.0,
             translate=0.0, translate_p=1.0, noise=0.0, noise_p=1.0, p=1.0, mode="bilinear",
             padding="zeros") -> Compose | None:
    """The standard order: flips → rotation·scaling·translation (one resampling) → noise.

    Ops at their identity value are left out; None when nothing is left.
    """
    low, high = scale
    if low > high:
        raise ValueError(f"scale = {list(scale)} — the low end must not exceed the high end")
    ops = []
    if hflip > 0:
        ops.append(HFlip(hflip))
    if vflip > 0:
        ops.append(VFlip(vflip))
    if rotation > 0:
        ops.append(Rotation(rotation, rotation_p))
    if (low, high) != (1.0, 1.0):
        ops.append(Scaling(low, high, scale_p))
    if translate > 0:
        ops.append(Translation(translate, translate_p))
    if noise > 0:
        ops.append(GaussianNoise(noise, noise_p))
    if not ops or p == 0:
        return None
    return Compose(ops, p=p, mode=mode, padding=padding)


__all__ = ["Compose", "Rotation", "Scaling", "Translation", "Flip", "HFlip", "VFlip", "GaussianNoise",
           "pipeline", "warp", "rotation_matrix", "scale_matrix", "shift_matrix", "PADDINGS", "MODES"]
