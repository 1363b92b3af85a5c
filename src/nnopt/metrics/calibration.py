"""Calibration of a classifier's confidence (Guo et al. 2017, "On calibration of modern neural networks").

Confidence of sample i: c_i = max_k p_ik, prediction ŷ_i = argmax_k p_ik. With B equal-width bins
I_b = ((b−1)/B, b/B] (the first bin also holds c = 0) and S_b the samples whose c_i falls in I_b:

    acc(S_b)  = (1/|S_b|) Σ_{i∈S_b} 1[ŷ_i = y_i]          conf(S_b) = (1/|S_b|) Σ_{i∈S_b} c_i
    ECE       = Σ_b (|S_b| / n) · |acc(S_b) − conf(S_b)|

A perfectly calibrated model has acc = conf in every bin (ECE = 0); an overconfident one has
conf > acc. The reliability diagram plots acc(S_b) against the bin (empty bins are skipped).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Reliability:
    """Per bin b: ``edges[b]..edges[b+1]``, ``count[b]`` = |S_b|, ``accuracy[b]``, ``confidence[b]``
    (NaN for empty bins); ``ece`` and the overall mean ``mean_confidence`` and ``accuracy_all``."""

    edges: list[float]
    count: list[int]
    accuracy: list[float]
    confidence: list[float]
    ece: float
    mean_confidence: float
    accuracy_all: float


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> Reliability:
    """The binned statistics of `probs` (N, K), rows summing to 1, against integer `labels` (N,)."""
    if probs.dim() != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"probs must be (N, K) and labels (N,), got {tuple(probs.shape)} and {tuple(labels.shape)}")
    if bins < 1:
        raise ValueError(f"bins = {bins} — must be >= 1")
    probs = probs.detach().cpu()
    conf, pred = probs.max(dim=1)
    correct = (pred == labels.cpu()).double()
    # edges in the probabilities' own dtype, so a confidence of exactly b/B lands in bin b
    inner = torch.tensor([b / bins for b in range(1, bins)], dtype=probs.dtype)
    index = torch.bucketize(conf, inner, right=False)  # inner[i−1] < c <= inner[i] → bin i
    conf = conf.double()
    count = torch.bincount(index, minlength=bins).double()
    acc_sum = torch.bincount(index, weights=correct, minlength=bins)
    conf_sum = torch.bincount(index, weights=conf, minlength=bins)
    nonempty = count > 0
    acc = torch.where(nonempty, acc_sum / count.clamp(min=1), torch.nan)
    mean_conf = torch.where(nonempty, conf_sum / count.clamp(min=1), torch.nan)
    n = len(conf)
    ece = float(((acc_sum - conf_sum).abs()).sum() / n)  # Σ_b |S_b|/n · |acc_b − conf_b|
    return Reliability([b / bins for b in range(bins + 1)], count.long().tolist(), acc.tolist(),
                       mean_conf.tolist(), ece, float(conf.mean()), float(correct.mean()))


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """ECE = Σ_b |S_b|/n · |acc(S_b) − conf(S_b)| over `bins` equal-width confidence bins."""
    return reliability(probs, labels, bins).ece
