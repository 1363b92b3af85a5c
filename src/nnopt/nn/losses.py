"""Cross-entropy with label smoothing, in the chapter's and torch's conventions.

Smoothed target q for true class y among K classes, q_y + Σ_{k≠y} q_k = 1:

    book  (default):  q_y = 1 − ε,          q_k = ε/(K − 1)      for k ≠ y
    torch:            q_y = 1 − ε + ε/K,    q_k = ε/K            (torch's label_smoothing = ε)

loss = −Σ_k q_k log softmax(z)_k. The book's ε equals torch's ε·K/(K − 1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..params import Param
from ..registry import LOSSES
from .checks import check_choice, check_unit

CONVENTIONS = ("book", "torch")


def smoothing_epsilon(eps: float, name: str = "eps") -> float:
    return check_unit(name, eps, hint=" (the probability mass moved off the true class)")


def torch_label_smoothing(eps: float, n_classes: int, convention: str = "book") -> float:
    """The ``label_smoothing`` argument of F.cross_entropy that gives the same targets."""
    check_choice("convention", convention, CONVENTIONS)
    if convention == "torch" or n_classes < 2:
        return eps
    scaled = eps * n_classes / (n_classes - 1)
    if scaled > 1:
        raise ValueError(f"eps = {eps!r} — with {n_classes} classes the book convention needs "
                         f"eps <= (K−1)/K = {(n_classes - 1) / n_classes:.4g} (uniform targets)")
    return scaled


def smoothed_targets(y: torch.Tensor, n_classes: int, eps: float, convention: str = "book") -> torch.Tensor:
    """The target distributions q (N, K) for integer labels y (N,)."""
    check_choice("convention", convention, CONVENTIONS)
    off = eps / (n_classes - 1) if convention == "book" else eps / n_classes
    on = 1 - eps if convention == "book" else 1 - eps + eps / n_classes
    return torch.full((y.shape[0], n_classes), off, device=y.device).scatter_(1, y.view(-1, 1), on)


def label_smoothing_cross_entropy(logits: torch.Tensor, y: torch.Tensor, eps: float,
                                  convention: str = "book", reduction: str = "mean") -> torch.Tensor:
    """−Σ_k q_k log softmax(logits)_k, averaged (or summed, or per sample) over the batch."""
    smoothing_epsilon(eps)
    check_choice("reduction", reduction, ("mean", "sum", "none"))
    logp = F.log_softmax(logits, dim=-1)
    q = smoothed_targets(y, logits.shape[-1], eps, convention).to(logp.dtype)
    loss = -(q * logp).sum(-1)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


@LOSSES.register("label_smoothing", params={
    "eps": Param(float, 0.1, ge=0, lt=1, doc="ε, the probability mass moved off the true class"),
    "convention": Param(str, "book", choices=CONVENTIONS, doc="book: 1−ε and ε/(K−1); torch: ε/K"),
    "reduction": Param(str, "mean", choices=("mean", "sum", "none"))})
class LabelSmoothingLoss(nn.Module):
    """Cross-entropy against smoothed targets: 1 − eps on the true class and eps/(K − 1) elsewhere
    (book), or torch's (1 − eps)·onehot + eps/K (torch); the module form of
    `label_smoothing_cross_entropy`."""

    def __init__(self, eps: float = 0.1, convention: str = "book", reduction: str = "mean"):
        super().__init__()
        self.eps = smoothing_epsilon(eps)
        self.convention = check_choice("convention", convention, CONVENTIONS)
        self.reduction = check_choice("reduction", reduction, ("mean", "sum", "none"))

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return label_smoothing_cross_entropy(logits, y, self.eps, self.convention, self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, convention={self.convention}"
