"""Layers and model builders."""
from . import activations, norms, models, recurrent, text_models, naive_rnn  # noqa: F401  (registrations, after models)
from . import sync_batchnorm  # noqa: F401  (registers model.norm = "sync_batch")
from .batchnorm import BatchNorm
from .dropout import Dropout, KeepDropout, VariationalDropout
from .group_rms import GroupNorm, RMSNorm
from .layernorm import LayerNorm
from .losses import LabelSmoothingLoss, label_smoothing_cross_entropy
from .lrn import LocalResponseNorm
from .models import build_model
from .recurrent import LoopRNN
from .weightnorm import weight_norm

__all__ = ["build_model", "BatchNorm", "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm",
           "weight_norm", "Dropout", "KeepDropout", "VariationalDropout", "LoopRNN",
           "LabelSmoothingLoss", "label_smoothing_cross_entropy"]
