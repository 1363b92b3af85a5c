"""Per-feature affine rescaling: min-max to a range, and standardization (z-scores).

Constant features: a zero range (or zero standard deviation) — anything below 10·ε_float64 — is
replaced by 1, as scikit-learn does, so a feature constant on the training split maps to the range's
low end (min-max) or to 0 (standardize) instead of NaN.
"""
from __future__ import annotations

import torch

from ..params import Param
from ..registry import PREPROCESSORS
from .base import Preprocessor
from .moments import Moments

TINY = 10 * torch.finfo(torch.float64).eps


def _nonzero(scale: torch.Tensor) -> torch.Tensor:
    return torch.where(scale < TINY, torch.ones_like(scale), scale)


@PREPROCESSORS.register("minmax", params={
    "feature_range": Param(tuple, (0.0, 1.0), length=2, item=Param(float),
                           doc="[low, high] the training min and max map to")})
class MinMaxScaler(Preprocessor):
    """x' = low + (x − min)·(high − low)/(max − min), per feature, min/max over the training split"""

    fitted = ("data_min_", "data_max_", "scale_", "min_")

    def __init__(self, feature_range=(0.0, 1.0)):
        super().__init__()
        low, high = feature_range
        if not low < high:
            raise ValueError(f"feature_range = {list(feature_range)} — low must be below high")
        self.feature_range = (float(low), float(high))

    def _finish(self, moments: Moments) -> None:
        low, high = self.feature_range
        self.data_min_, self.data_max_ = moments.min, moments.max
        self.scale_ = (high - low) / _nonzero(self.data_max_ - self.data_min_)
        self.min_ = low - self.data_min_ * self.scale_

    def _forward(self, x):
        return x * self.scale_ + self.min_

    def _inverse(self, z):
        return (z - self.min_) / self.scale_


@PREPROCESSORS.register("standardize")
class Standardizer(Preprocessor):
    """x' = (x − μ)/σ per feature; μ, σ (population, ddof 0) over the training split"""

    fitted = ("mean_", "scale_")

    def _finish(self, moments: Moments) -> None:
        self.mean_ = moments.mean.clone()
        self.scale_ = _nonzero(moments.variance.sqrt())

    def _forward(self, x):
        return (x - self.mean_) / self.scale_

    def _inverse(self, z):
        return z * self.scale_ + self.mean_
