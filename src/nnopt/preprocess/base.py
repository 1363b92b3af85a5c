"""What every preprocessor shares: feature flattening, streaming fit, chunked transform, state.

A preprocessor sees each sample as a flat feature vector: inputs (N, *shape) — (N, D) tables,
(N, 1, H, W) images, (N, T, F) sequences — are flattened to (N, D), D = Π shape, transformed, and
given back in the input's shape and dtype. Statistics are float64. Fitted state lives in
trailing-underscore attributes (``mean_``, ...), saved by ``state_dict()``.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Iterable

import torch

from .moments import Moments

CHUNK_ROWS = 8192


def chunks(data) -> Iterable[torch.Tensor]:
    """Row chunks of `data`: a tensor/array (split into CHUNK_ROWS rows), or an iterable of
    tensors or of (x, y, ...) batches such as a DataLoader's (the first item is taken)."""
    if isinstance(data, torch.Tensor) or hasattr(data, "__array__"):
        data = torch.as_tensor(data)
        yield from data.split(CHUNK_ROWS)
        return
    for item in data:
        yield torch.as_tensor(item[0] if isinstance(item, (tuple, list)) else item)


class Preprocessor(ABC):
    """Base class: subclasses set ``full`` (need the covariance?) and implement ``_finish(moments)``,
    ``_forward(x)`` and ``_inverse(z)`` on float64 (N, D) rows; ``fitted`` names the state."""

    full = False
    fitted: tuple[str, ...] = ()

    def __init__(self):
        self.shape_: tuple[int, ...] | None = None
        self.n_samples_ = 0

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, data) -> "Preprocessor":
        """Accumulate statistics over `data` (tensor, chunks or DataLoader), then fit. Returns self."""
        moments = None
        for chunk in chunks(data):
            if moments is None:
                self.shape_ = tuple(chunk.shape[1:])
                moments = Moments(math.prod(self.shape_), self.full)
            moments.update(self._flat(chunk, "fit"))
        if moments is None or moments.n == 0:
            raise ValueError(f"{type(self).__name__}.fit got no samples")
        self.n_samples_ = moments.n
        self._finish(moments)
        return self

    def fit_transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.fit(x).transform(x)

    # -- applying ------------------------------------------------------------------------------
    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The preprocessed inputs, in x's shape (unless the output has fewer features) and dtype."""
        return self._apply(x, self._forward, self.shape_, self.out_shape)

    def inverse_transform(self, z: torch.Tensor) -> torch.Tensor:
        """Undo `transform`: back to the fitted input space and shape."""
        return self._apply(z, self._inverse, self.out_shape, self.shape_)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.shape_

    def _apply(self, x, fn, in_shape, out_shape) -> torch.Tensor:
        self._check_fitted()
        x = torch.as_tensor(x)
        if tuple(x.shape[1:]) != tuple(in_shape):
            raise ValueError(f"{type(self).__name__} was fitted on samples of shape {tuple(in_shape)}, "
                             f"got {tuple(x.shape[1:])}")
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        out = torch.empty((x.shape[0], *out_shape), dtype=dtype, device=x.device)
        flat_out = out.view(x.shape[0], -1)
        for i, chunk in enumerate(x.split(CHUNK_ROWS)):
            rows = fn(self._flat(chunk.cpu(), "transform"))
            flat_out[i * CHUNK_ROWS:i * CHUNK_ROWS + len(chunk)] = rows.to(device=x.device, dtype=dtype)
        return out

    def _flat(self, chunk: torch.Tensor, where: str) -> torch.Tensor:
        if where == "fit" and tuple(chunk.shape[1:]) != self.shape_:
            raise ValueError(f"{type(self).__name__}.fit: chunks must share one sample shape, "
                             f"got {self.shape_} and {tuple(chunk.shape[1:])}")
        return chunk.reshape(chunk.shape[0], -1).to(dtype=torch.float64, device="cpu")

    def _check_fitted(self) -> None:
        if self.shape_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(train_x) first")

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Fitted state: shape, sample count and the ``fitted`` tensors (float64)."""
        self._check_fitted()
        state = {"shape": list(self.shape_), "n_samples": self.n_samples_}
        state.update({k: getattr(self, k) for k in self.fitted})
        return state

    def load_state_dict(self, state: dict) -> None:
        self.shape_ = tuple(state["shape"])
        self.n_samples_ = state["n_samples"]
        for k in self.fitted:
            setattr(self, k, state[k])

    @abstractmethod
    def _finish(self, moments: Moments) -> None:
        """Set the fitted attributes from the accumulated statistics."""

    @abstractmethod
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transform float64 rows (N, D)."""

    @abstractmethod
    def _inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Invert `_forward` on float64 rows."""
