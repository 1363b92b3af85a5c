"""The losses: the registry the recipe's ``[loss]`` section names, and label smoothing's conventions.

Every entry's factory returns a callable ``loss(out, target) -> 0-d mean over the batch`` (an
nn.Module); its ``task`` metadata says which task it fits (none: any task). The Trainer passes the
outputs (N, k) and the labels (N,) of a classification or the targets shaped as the outputs of a
regression (`nnopt.tasks.targets`):

    cross_entropy  −log softmax(z)_y                      (classification; K ≥ 2 outputs)
    bce            −[t log σ(z) + (1 − t) log(1 − σ(z))]  (classification with K = 2 on ONE output z,
                                                          t = y; predicted class 1 when z > 0)
    mse            (ŷ − y)²                               (regression)
    huber          ½(ŷ − y)² if |ŷ − y| ≤ δ, else δ(|ŷ − y| − ½δ)   (regression)
    l1             |ŷ − y|                                (regression)

A loss of your own: ``@LOSSES.register("name", task="regression")`` on an nn.Module class (or a
function returning one) whose keyword arguments are its recipe fields.

Label smoothing (cross_entropy and bce: ``[regularization] label_smoothing``).

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


@LOSSES.register("cross_entropy", task="classification", params={
    "label_smoothing": Param(float, 0.0, ge=0, lt=1, doc="torch's ε (a recipe sets it from [regularization])")})
def cross_entropy(label_smoothing: float = 0.0) -> nn.Module:
    """Cross-entropy −Σ_k q_k log softmax(z)_k of the logits z against the labels (torch's
    label_smoothing: q = (1 − ε)·onehot + ε/K); torch.nn.CrossEntropyLoss."""
    return nn.CrossEntropyLoss(label_smoothing=smoothing_epsilon(label_smoothing, "label_smoothing"))


@LOSSES.register("bce", task="classification", params={
    "label_smoothing": Param(float, 0.0, ge=0, lt=1, doc="torch's ε (a recipe sets it from [regularization])")})
class BinaryLogitLoss(nn.Module):
    """Binary cross-entropy on ONE logit z per sample: −[t log σ(z) + (1 − t) log(1 − σ(z))] with
    t = y(1 − ε) + ε/2 (the 2-class cross-entropy of logits (0, z) with torch's smoothing ε)."""

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.eps = smoothing_epsilon(label_smoothing, "label_smoothing")

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = out.reshape(-1)
        t = y.to(z.dtype) * (1 - self.eps) + self.eps / 2
        return F.binary_cross_entropy_with_logits(z, t)


@LOSSES.register("mse", task="regression")
def mse() -> nn.Module:
    """Mean squared error (ŷ − y)² over every output of every sample; torch.nn.MSELoss."""
    return nn.MSELoss()


@LOSSES.register("huber", task="regression", params={
    "delta": Param(float, 1.0, gt=0, doc="δ: quadratic for |ŷ − y| ≤ δ, linear beyond")})
def huber(delta: float = 1.0) -> nn.Module:
    """Huber loss ½(ŷ − y)² for |ŷ − y| ≤ δ, δ(|ŷ − y| − ½δ) beyond, averaged; torch.nn.HuberLoss."""
    return nn.HuberLoss(delta=delta)


@LOSSES.register("l1", task="regression")
def l1() -> nn.Module:
    """Mean absolute error |ŷ − y| over every output of every sample; torch.nn.L1Loss."""
    return nn.L1Loss()


@LOSSES.register("label_smoothing", task="classification", params={
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
