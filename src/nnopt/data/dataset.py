"""The in-memory data set every loader returns, and the shared split/layout helpers."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError
from ..params import Param
from ..registry import DATASETS

LAYOUTS = ("image", "flat", "sequence")
TASKS = ("classification", "regression")
SPLIT_SEED = Param(int, 0, ge=0, le=2**32 - 1, doc="seed of the fixed split (numpy's range: 0 … 2³²−1)")


@dataclass
class Split:
    """Inputs ``x`` (float32) and targets ``y`` of one split; ``x, y = split``.

    Classification: ``y`` int64 of shape (N,), class ids 0 … K−1. Regression: ``y`` float32 of
    shape (N,) (one output) or (N, k) (k outputs)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self):
        return iter((self.x, self.y))

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class Dataset:
    """Train/val/test splits plus what a model builder needs: input shape and output count.

    ``task`` is "classification" (``n_classes`` = K ≥ 2, ``y`` int64 class ids, class names in
    ``classes``) or "regression" (``n_classes`` = 0, ``y`` float32 (N,) or (N, k)). ``target``
    names the predicted column when the data came from a table."""

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int
    classes: list[str] = field(default_factory=list)
    vocabulary: list[str] | None = None  # token of each id, for token-id data sets
    task: str = "classification"
    target: str | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: K logits (classification) or k targets (regression; 1 when
        ``y`` is 1-D)."""
        if self.task == "classification":
            return self.n_classes
        y = self.train.y
        return 1 if y.dim() == 1 else int(y.shape[1])

    def to(self, device) -> "Dataset":
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def load(name: str = "digits", **params) -> Dataset:
    """Load a registered data set: ``load("fashion_mnist", n_train=5000)``."""
    return DATASETS.create(name, field="data", **params)


def stratified_split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Index arrays, one per fraction (the rest goes to the first), stratified by label, seeded."""
    from sklearn.model_selection import train_test_split

    rest = np.arange(len(y))
    parts = []
    for frac in fractions[1:]:
        share = frac * len(y) / len(rest)
        rest, part = train_test_split(rest, test_size=share, stratify=y[rest], random_state=seed)
        parts.append(np.sort(part))
    return [np.sort(rest), *parts]


def subset(idx: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """A stratified subset of `n` of the indices `idx` (all of them when n is None)."""
    if n is None or n >= len(idx):
        return idx
    if n < len(np.unique(y[idx])):
        raise ConfigError(f"data.n_train = {n} — must be at least the number of classes "
                          f"({len(np.unique(y[idx]))})")
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(idx, train_size=n, stratify=y[idx], random_state=seed)
    return np.sort(keep)


def arrange(images: np.ndarray, layout: str) -> torch.Tensor:
    """(N, H, W) float images → (N, 1, H, W) "image", (N, H·W) "flat" or (N, H, W) "sequence"
    (row t of the image is time step t, for RNNs)."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if layout == "image":
        return x.unsqueeze(1)
    if layout == "flat":
        return x.flatten(1)
    return x


def make_splits(name: str, images: np.ndarray, labels: np.ndarray, parts: list[np.ndarray],
                layout: str, n_classes: int, classes: list[str]) -> Dataset:
    """Build a Dataset from full arrays and the (train, val, test) index arrays."""
    y = torch.from_numpy(labels.astype(np.int64))
    x = arrange(images, layout)
    splits = [Split(x[torch.from_numpy(p)], y[torch.from_numpy(p)]) for p in parts]
    return Dataset(name, *splits, n_classes=n_classes, classes=classes)
