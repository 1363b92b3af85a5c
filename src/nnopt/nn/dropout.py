"""The dropout family (Srivastava et al. 2014; Gal & Ghahramani 2016).

Dropout, inverted (torch's and the default):  train y = m ⊙ x / (1 − p),  eval y = x,
    m_i ~ Bernoulli(1 − p), p the *drop* probability.
Dropout, the book's form (``KeepDropout``):     train y = m ⊙ x,  eval y = q·x,
    m_i ~ Bernoulli(q), q the *keep* probability — the scaling moves to test time.
Each form's eval output is the expectation of its training output (x resp. q·x); the two
differ only by the constant factor q, which the next layer's weights absorb.

VariationalDropout: one mask per sequence, shared over all time steps, y_t = m ⊙ x_t / (1 − p).
Applying it to the recurrent state h_{t−1} needs a time-loop cell (``nnopt.nn.recurrent``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..params import Param
from ..registry import LAYERS
from .checks import check_unit

DROP = Param(float, 0.5, ge=0, lt=1, doc="p, the probability of dropping a unit")


def drop_probability(p: float, name: str = "p") -> float:
    return check_unit(name, p, hint=" (the probability of dropping a unit; 0 = no dropout)")


def dropout_mask(shape, p: float, like: torch.Tensor) -> torch.Tensor:
    """A Bernoulli(1 − p) mask scaled by 1/(1 − p), of `shape`, on `like`'s device/dtype."""
    keep = 1.0 - p
    return torch.empty(shape, device=like.device, dtype=like.dtype).bernoulli_(keep).div_(keep)


@LAYERS.register("dropout", params={"p": DROP})
class Dropout(nn.Module):
    """Inverted dropout with drop probability p: train m ⊙ x/(1 − p), eval x."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = drop_probability(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * dropout_mask(x.shape, self.p, x)

    def extra_repr(self) -> str:
        return f"p={self.p}"


@LAYERS.register("keep_dropout", params={
    "keep": Param(float, 0.5, gt=0, le=1, doc="q, the probability of keeping a unit")})
class KeepDropout(nn.Module):
    """The book's dropout: train m ⊙ x with m ~ Bernoulli(keep), eval keep·x."""

    def __init__(self, keep: float = 0.5):
        super().__init__()
        self.keep = check_unit("keep", keep, closed_high=True, open_low=True,
                               hint=" (the probability of keeping a unit; 1 = no dropout)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * self.keep
        return x * torch.empty_like(x).bernoulli_(self.keep)

    def extra_repr(self) -> str:
        return f"keep={self.keep}"


@LAYERS.register("variational_dropout", params={"p": DROP})
class VariationalDropout(nn.Module):
    """Inverted dropout of sequences with one mask per sequence, the same at every time step.

    Inputs (B, T, F) (``batch_first``) or (T, B, F): m has shape (B, 1, F) resp. (1, B, F), so it
    is constant over time and differs across samples."""

    def __init__(self, p: float = 0.5, batch_first: bool = True):
        super().__init__()
        self.p = drop_probability(p)
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.dim() != 3:
            layout = "(B, T, F)" if self.batch_first else "(T, B, F)"
            raise ValueError(f"VariationalDropout needs {layout} input, got shape {tuple(x.shape)}")
        time_axis = 1 if self.batch_first else 0
        shape = list(x.shape)
        shape[time_axis] = 1
        return x * dropout_mask(shape, self.p, x)

    def extra_repr(self) -> str:
        return f"p={self.p}, batch_first={self.batch_first}"
