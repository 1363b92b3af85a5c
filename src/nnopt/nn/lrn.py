"""Local response normalization across channels (Krizhevsky et al. 2012).

    b_c = a_c / (k + α' · Σ_{c' ∈ window(c)} a_{c'}²)^β

over a window of ``size`` = n neighbouring channels centred on c (clipped at the edges). Two
conventions for α' (explicit parameter ``convention``):

    book / AlexNet:  α' = α       (α = 1e-4, k = 2, n = 5, β = 0.75 in AlexNet)
    torch:           α' = α / n   (torch.nn.LocalResponseNorm; its default k = 1)

so book(α) equals torch(α·n) at the same k, n, β.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice

DEFAULT_K = {"book": 2.0, "torch": 1.0}


def channel_window_sum(sq: torch.Tensor, size: int) -> torch.Tensor:
    """Σ over a window of `size` channels (axis 1), size//2 before and (size−1)//2 after each."""
    last = sq.movedim(1, -1)
    padded = F.pad(last, (size // 2, (size - 1) // 2))
    return padded.unfold(-1, size, 1).sum(-1).movedim(-1, 1)


class LocalResponseNorm(nn.Module):
    """LRN of (B, C, *) inputs; ``k`` defaults to the convention's (book 2, torch 1)."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float | None = None,
                 convention: str = "book"):
        super().__init__()
        if size < 1:
            raise ValueError(f"size = {size} — must be >= 1 (channels in the window)")
        self.convention = check_choice("convention", convention, tuple(DEFAULT_K))
        self.size, self.alpha, self.beta = size, alpha, beta
        self.k = DEFAULT_K[convention] if k is None else k

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if a.dim() < 2:
            raise ValueError(f"LocalResponseNorm needs (B, C, *) input, got shape {tuple(a.shape)}")
        scale = self.alpha / self.size if self.convention == "torch" else self.alpha
        return a / (self.k + scale * channel_window_sum(a.pow(2), self.size)).pow(self.beta)

    def extra_repr(self) -> str:
        return (f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, "
                f"convention={self.convention}")
