"""Streaming statistics in float64, merged chunk by chunk (Chan, Golub & LeVeque's pairwise update).

For chunks A (n_a, mean_a, M_a) and B, with δ = mean_b − mean_a and n = n_a + n_b:
    mean = mean_a + δ·n_b/n,    M = M_a + M_b + δδᵀ·n_a·n_b/n
where M = Σ (x − mean)(x − mean)ᵀ is the co-moment (its diagonal alone when ``full=False``).
Variance = M/n (population), covariance = M/(n − 1) (unbiased). Data larger than memory works:
only one chunk is held at a time.
"""
from __future__ import annotations

import torch


class Moments:
    """Count, mean, min, max and (co)moment of the rows seen so far."""

    def __init__(self, features: int, full: bool = False):
        self.n = 0
        self.full = full
        self.mean = torch.zeros(features, dtype=torch.float64)
        self.m2 = torch.zeros((features, features) if full else features, dtype=torch.float64)
        self.min = torch.full((features,), float("inf"), dtype=torch.float64)
        self.max = torch.full((features,), float("-inf"), dtype=torch.float64)

    def update(self, x: torch.Tensor) -> None:
        """Fold the rows of a 2-D float64 chunk into the running statistics."""
        n_b = x.shape[0]
        if n_b == 0:
            return
        mean_b = x.mean(0)
        centred = x - mean_b
        m2_b = centred.T @ centred if self.full else (centred * centred).sum(0)
        n = self.n + n_b
        delta = mean_b - self.mean
        cross = torch.outer(delta, delta) if self.full else delta * delta
        self.m2 += m2_b + cross * (self.n * n_b / n)
        self.mean += delta * (n_b / n)
        self.n = n
        self.min = torch.minimum(self.min, x.min(0).values)
        self.max = torch.maximum(self.max, x.max(0).values)

    @property
    def variance(self) -> torch.Tensor:
        """Per-feature population variance M_ii / n."""
        return (self.m2.diagonal() if self.full else self.m2) / self.n

    @property
    def covariance(self) -> torch.Tensor:
        """Unbiased covariance M / (n − 1) (needs ``full=True`` and n ≥ 2)."""
        return self.m2 / (self.n - 1)
