"""Models over token-id sequences (B, T) int64, e.g. the wordnet_topics data set."""
from __future__ import annotations

import torch
from torch import nn

from ..params import Param
from ..registry import MODELS
from .models import RecurrentClassifier


@MODELS.register("text_rnn", skip=3, params={
    "vocab_size": Param(int, None, ge=2, nullable=True,
                        doc="embedding rows; token ids must be below it; none = the data set's vocabulary"),
    "embed": Param(int, 64, ge=1, doc="embedding width"),
    **MODELS.get("rnn").params})
def text_rnn(input_shape, n_classes, dropout=0.0, vocab_size=None, embed=64, cell="lstm", hidden=64,
             layers=1, bidirectional=False, norm="none"):
    """Embedding (id 0 = padding) → LSTM/GRU/tanh-RNN → last state → Linear"""
    if len(input_shape) != 1:
        raise ValueError(f"text_rnn needs token-id sequences (T,), got shape {tuple(input_shape)}")
    if vocab_size is None:
        raise ValueError("vocab_size = none — set it, or use a data set with a vocabulary (wordnet_topics)")
    body = RecurrentClassifier((input_shape[0], embed), n_classes, dropout, cell, hidden, layers,
                               bidirectional, norm)
    return TokenClassifier(nn.Embedding(vocab_size, embed, padding_idx=0), body)


class TokenClassifier(nn.Module):
    """Embeds (B, T) ids to (B, T, E) and hands them to a sequence classifier."""

    def __init__(self, embedding: nn.Embedding, body: nn.Module):
        super().__init__()
        self.embedding, self.body = embedding, body

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.is_floating_point():
            raise ValueError(f"text_rnn takes integer token ids, got {ids.dtype}")
        return self.body(self.embedding(ids))
