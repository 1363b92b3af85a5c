"""Naive (per-step) dropout in a recurrent network, the baseline of variational dropout.

Zaremba et al. 2014 drop the non-recurrent connections only, with a fresh mask at every time step:

    x̃_t = m_t ⊙ x_t / (1 − p),  h_t = cell(x̃_t, h_{t−1}),  ỹ_t = m'_t ⊙ h_t / (1 − p)

(m_t, m'_t ~ Bernoulli(1 − p), new at each t; h_{t−1} is never dropped). Gal & Ghahramani 2016
compare it with variational dropout (one mask per sequence, also on h_{t−1}: ``rnn_loop`` with
``regularization.variational_dropout``). ``model.name = "rnn_loop_naive"``, ``model.naive_dropout = p``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..params import Param
from ..registry import MODELS
from .dropout import Dropout
from .models import MAX_LAYERS
from .recurrent import GATES, LoopRecurrentClassifier


class StepDropoutRNN(nn.Module):
    """Wraps a recurrent layer: inverted dropout with a new mask per element of (B, T, F) — so per
    time step — on its inputs and on its outputs; the recurrent state passes untouched."""

    def __init__(self, recurrent: nn.Module, p: float):
        super().__init__()
        self.recurrent, self.drop = recurrent, Dropout(p)

    def forward(self, x: torch.Tensor, state=None):
        out, final = self.recurrent(self.drop(x), state)
        return self.drop(out), final


@MODELS.register("rnn_loop_naive", skip=3, params={
    "cell": Param(str, "lstm", choices=tuple(GATES)),
    "hidden": Param(int, 64, ge=1), "layers": Param(int, 1, ge=1, le=MAX_LAYERS),
    "naive_dropout": Param(float, 0.0, ge=0, lt=1,
                           doc="per-time-step dropout on the inputs x_t and outputs h_t (not on h_{t-1})")})
def rnn_loop_naive(input_shape, n_classes, dropout=0.0, cell="lstm", hidden=64, layers=1, naive_dropout=0.0):
    """Time-loop recurrent classifier with naive dropout (a new mask at every step on x_t and h_t,
    none on h_{t−1}) → last output → dropout → Linear"""
    model = LoopRecurrentClassifier(input_shape, n_classes, dropout, cell, hidden, layers, "none", False, 0.0)
    model.recurrent = StepDropoutRNN(model.recurrent, naive_dropout)
    return model
