"""Whitening by the eigendecomposition of the training covariance Σ = U Λ Uᵀ (unbiased, n − 1).

    PCA:  z = Λ_k^(−½) U_kᵀ (x − μ)      the k leading components, each with unit variance
    ZCA:  z = U Λ^(−½) Uᵀ (x − μ)        unit covariance, closest to x (Bell & Sejnowski 1997)

with Λ^(−½) = diag(1/√(λ_i + ε)). Eigenvalues below D·ε_float64·λ_max count as 0; a direction with
λ + ε = 0 (a constant feature when ε = 0) is mapped to 0 rather than NaN. Components' signs are
fixed so the largest-magnitude entry of each is positive. With ε = 0, PCA equals scikit-learn's
PCA(whiten=True) up to each component's sign.
"""
from __future__ import annotations

import math

import torch

from ..errors import ConfigError
from ..params import Param
from ..registry import PREPROCESSORS
from .base import Preprocessor
from .moments import Moments

EPS = Param(float, 1e-5, ge=0, doc="ε added to each eigenvalue before the inverse square root")


def eigen(moments: Moments) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending, tiny ones set to 0) and eigenvectors (columns) of the covariance."""
    if moments.n < 2:
        raise ValueError(f"whitening needs at least 2 samples to estimate a covariance, got {moments.n}")
    values, vectors = torch.linalg.eigh(moments.covariance)
    values, vectors = values.flip(0), vectors.flip(1)
    values = torch.where(values < values[0] * values.numel() * torch.finfo(values.dtype).eps,
                         torch.zeros_like(values), values)
    rows = torch.arange(vectors.shape[1])
    signs = torch.sign(vectors[vectors.abs().argmax(0), rows])
    return values, vectors * signs


class _Whitening(Preprocessor):
    full = True
    fitted = ("mean_", "components_", "explained_variance_")

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        if eps < 0:
            raise ValueError(f"eps = {eps} — must be >= 0")
        self.eps = eps

    def _inv_std(self) -> torch.Tensor:
        """1/√(λ + ε), and 0 where λ + ε = 0."""
        var = self.explained_variance_ + self.eps
        return torch.where(var > 0, var.clamp_min(torch.finfo(var.dtype).tiny).rsqrt(),
                           torch.zeros_like(var))

    def _std(self) -> torch.Tensor:
        return (self.explained_variance_ + self.eps).sqrt()


@PREPROCESSORS.register("pca", params={
    "n_components": Param(int, None, ge=1, nullable=True,
                          doc="keep the k leading components (output (N, k)); none = all, shape kept"),
    "eps": EPS})
class PCAWhitening(_Whitening):
    """z = Λ_k^(−½) U_kᵀ (x − μ): project on the k leading principal components, unit variance each"""

    def __init__(self, n_components: int | None = None, eps: float = 1e-5):
        super().__init__(eps)
        self.n_components = n_components

    def _finish(self, moments: Moments) -> None:
        d = moments.mean.numel()
        k = self.n_components or d
        if k > d:
            raise ConfigError(f"preprocess.n_components = {k} — must be at most the number of "
                              f"features, {d}")
        values, vectors = eigen(moments)
        self.mean_ = moments.mean.clone()
        self.components_ = vectors[:, :k].T.contiguous()
        self.explained_variance_ = values[:k].contiguous()

    @property
    def out_shape(self):
        k = self.components_.shape[0]
        return self.shape_ if k == math.prod(self.shape_) else (k,)

    def _forward(self, x):
        return (x - self.mean_) @ self.components_.T * self._inv_std()

    def _inverse(self, z):
        return (z * self._std()) @ self.components_ + self.mean_


@PREPROCESSORS.register("zca", params={"eps": EPS})
class ZCAWhitening(_Whitening):
    """z = U Λ^(−½) Uᵀ (x − μ): unit covariance, rotated back to the input's axes"""

    def _finish(self, moments: Moments) -> None:
        values, vectors = eigen(moments)
        self.mean_ = moments.mean.clone()
        self.components_ = vectors.T.contiguous()
        self.explained_variance_ = values

    def _forward(self, x):
        return ((x - self.mean_) @ self.components_.T * self._inv_std()) @ self.components_

    def _inverse(self, z):
        return (z @ self.components_.T * self._std()) @ self.components_ + self.mean_
