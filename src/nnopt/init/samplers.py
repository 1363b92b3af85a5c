"""Draws that fill one weight block in place, given its fans (all under torch.no_grad).

Each sampler is ``fill(w, fan_in, fan_out) -> None`` and draws from torch's global generator, in the
same order torch.nn.init does, so a seeded run is reproducible (and matches torch where torch has the
same scheme).
"""
from __future__ import annotations

import math

import torch


def constant(value: float):
    """W = value everywhere."""
    def fill(w, fan_in, fan_out):
        w.fill_(value)
    return fill


def normal(mean: float, std: float):
    """W ~ N(mean, std²)."""
    def fill(w, fan_in, fan_out):
        w.normal_(mean, std)
    return fill


def uniform(r: float):
    """W ~ U(−r, r)."""
    def fill(w, fan_in, fan_out):
        w.uniform_(-r, r)
    return fill


def xavier(gain: float, distribution: str):
    """Glorot: Var W = g²·2/(fan_in+fan_out); uniform r = g·√(6/(fan_in+fan_out)), normal σ = g·√(2/(fan_in+fan_out))."""
    def fill(w, fan_in, fan_out):
        _scaled(w, gain * math.sqrt(2.0 / (fan_in + fan_out)), distribution)
    return fill


def he(gain: float, mode: str, distribution: str):
    """He: Var W = g²/fan (fan = fan_in or fan_out); uniform r = g·√(3/fan), normal σ = g/√fan."""
    def fill(w, fan_in, fan_out):
        fan = fan_in if mode == "fan_in" else fan_out
        _scaled(w, gain / math.sqrt(fan), distribution)
    return fill


def _scaled(w: torch.Tensor, std: float, distribution: str) -> None:
    if distribution == "uniform":
        w.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)
    else:
        w.normal_(0.0, std)


def orthogonal(gain: float, method: str):
    """W = g·Q with Q (rows × Π other dims) having orthonormal rows or columns (whichever fit).

    svd (the chapter, Saxe et al. 2014): A ~ N(0,1)^(rows×cols), A = U S Vᵀ, Q = U if it has A's
    shape else Vᵀ. qr (torch.nn.init.orthogonal_): A = QR with R's diagonal made positive.
    """
    def fill(w, fan_in, fan_out):
        if method == "qr":
            torch.nn.init.orthogonal_(w, gain)
            return
        rows = w.shape[0]
        a = torch.randn(rows, w.numel() // rows, dtype=torch.float64)
        u, _, vh = torch.linalg.svd(a, full_matrices=False)
        q = u if u.shape == a.shape else vh
        w.copy_((gain * q).reshape(w.shape))
    return fill
