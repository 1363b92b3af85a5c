"""Monte-Carlo dropout: the ensemble of dropout-mask networks, averaged at test time.

Dropout trains an ensemble of 2^n sub-networks sharing weights (Srivastava et al. 2014, §7.5). The
ensemble's prediction is the average over masks m of softmax(f(x; m)); weight scaling (eval mode:
no mask, the inverted-dropout scale already in the weights) approximates it with one pass. MC
dropout estimates it with T sampled masks (Gal & Ghahramani 2016):

    p̂_T(y | x) = (1/T) Σ_{t=1..T} softmax(f(x; m_t)),   m_t ~ the dropout layers' Bernoulli masks

Only the dropout layers sample; every other layer (batch norm) stays in eval mode.
"""
from __future__ import annotations

import torch
from torch import nn

from .dropout import Dropout, KeepDropout, VariationalDropout

DROPOUT_TYPES = (nn.modules.dropout._DropoutNd, Dropout, KeepDropout, VariationalDropout)


@torch.no_grad()
def mc_dropout_samples(model: nn.Module, x: torch.Tensor, samples: int) -> torch.Tensor:
    """softmax(f(x; m_t)) for t = 1..`samples` masks: a (samples, N, K) tensor. The model is in eval
    mode except its dropout layers; its train/eval state is restored afterwards."""
    if samples < 1:
        raise ValueError(f"samples = {samples} — must be >= 1")
    modes = {m: m.training for m in model.modules()}
    model.eval()
    droppers = [m for m in model.modules() if isinstance(m, DROPOUT_TYPES)]
    if not droppers:
        raise ValueError("the model has no dropout layer: every Monte-Carlo sample would be the same")
    for m in droppers:
        m.train()
    try:
        return torch.stack([torch.softmax(model(x).float(), dim=-1) for _ in range(samples)])
    finally:
        for m, mode in modes.items():
            m.train(mode)


def mc_dropout_predict(model: nn.Module, x: torch.Tensor, samples: int = 50) -> torch.Tensor:
    """p̂_T(y | x) = (1/T) Σ_t softmax(f(x; m_t)), shape (N, K)."""
    return mc_dropout_samples(model, x, samples).mean(0)
