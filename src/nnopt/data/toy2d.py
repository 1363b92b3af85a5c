"""Two-class toy data in the plane, for decision boundaries: moons, circles, xor, spirals.

    moons    scikit-learn's make_moons: two interleaving half-moons
    circles  an inner disc's ring (class 1, radius `factor`) inside a ring of radius 1 (class 0)
    xor      uniform points in [−1, 1]²; class 1 where x and y have opposite signs
    spirals  two interleaved arms r = t, φ = 3πt + πk (t ∈ [0.05, 1], k = class)

Gaussian noise of std `noise` is added to the coordinates after the labels are fixed; everything is
seeded by `split_seed`, which also seeds the stratified train/val/test split (and the `n_train`
subset of its training split). Each is registered with
``points_2d=True``: inputs are points in the plane, so a decision boundary can be drawn.
"""
from __future__ import annotations

import math

import numpy as np

from ..params import Param
from ..registry import DATASETS
from .dataset import N_TRAIN, SPLIT_SEED, Dataset, index_splits, stratified_split, subset

PARAMS = {
    "n_samples": Param(int, 1000, ge=30, le=1_000_000, doc="points in all (train = the rest after val/test)"),
    "noise": Param(float, 0.1, ge=0, doc="std of the Gaussian noise added to the coordinates"),
    "val_fraction": Param(float, 0.2, gt=0, lt=0.5),
    "test_fraction": Param(float, 0.2, gt=0, lt=0.5),
    "split_seed": SPLIT_SEED,
    "n_train": N_TRAIN,
}


def to_dataset(name: str, x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float,
               split_seed: int, n_train: int | None, noise: float = 0.0,
               rng: np.random.Generator | None = None) -> Dataset:
    """Points `x` (plus Gaussian noise of std `noise` drawn from `rng`) with labels `y`, split
    stratified into train/val/test tensors; the training split cut to `n_train` (`subset`)."""
    import torch

    x = x + rng.normal(scale=noise, size=x.shape) if noise else x
    parts = stratified_split(y, (0.0, val_fraction, test_fraction), split_seed)
    parts[0] = subset(parts[0], y, n_train, split_seed)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
    return Dataset(name, *index_splits(xt, yt, parts), n_classes=2, classes=["0", "1"])


@DATASETS.register("moons", points_2d=True, params={**PARAMS, "noise": Param(float, 0.2, ge=0)})
def moons(n_samples=1000, noise=0.2, val_fraction=0.2, test_fraction=0.2, split_seed=0, n_train=None):
    """make_moons 2-D points, two classes, with Gaussian noise; seeded."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=split_seed)
    return to_dataset("moons", x, y, val_fraction, test_fraction, split_seed, n_train)


def _labels(n: int) -> np.ndarray:
    """n labels, half 0 and half 1 (the extra one is a 0)."""
    return (np.arange(n) >= (n + 1) // 2).astype(np.int64)


@DATASETS.register("circles", points_2d=True, params={
    **PARAMS, "factor": Param(float, 0.5, gt=0, lt=1, doc="inner radius / outer radius")})
def circles(n_samples=1000, noise=0.1, val_fraction=0.2, test_fraction=0.2, split_seed=0, n_train=None,
            factor=0.5):
    """Two concentric rings in 2-D (class 1 inside), with Gaussian noise; seeded."""
    rng = np.random.default_rng(split_seed)
    y = _labels(n_samples)
    phi = rng.uniform(0, 2 * math.pi, n_samples)
    r = np.where(y == 1, factor, 1.0)
    return to_dataset("circles", np.stack([r * np.cos(phi), r * np.sin(phi)], 1), y, val_fraction, test_fraction,
                      split_seed, n_train, noise, rng)


@DATASETS.register("xor", points_2d=True, params=PARAMS)
def xor(n_samples=1000, noise=0.1, val_fraction=0.2, test_fraction=0.2, split_seed=0, n_train=None):
    """Uniform points in [−1, 1]², class 1 in the quadrants where x·y < 0, with Gaussian noise; seeded."""
    rng = np.random.default_rng(split_seed)
    x = rng.uniform(-1, 1, (n_samples, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    return to_dataset("xor", x, y, val_fraction, test_fraction, split_seed, n_train, noise, rng)


@DATASETS.register("spirals", points_2d=True, params=PARAMS)
def spirals(n_samples=1000, noise=0.1, val_fraction=0.2, test_fraction=0.2, split_seed=0, n_train=None):
    """Two interleaved spiral arms (r = t, φ = 3πt + πk), with Gaussian noise; seeded."""
    rng = np.random.default_rng(split_seed)
    y = _labels(n_samples)
    t = rng.uniform(0.05, 1.0, n_samples)
    phi = 3 * math.pi * t + math.pi * y
    return to_dataset("spirals", np.stack([t * np.cos(phi), t * np.sin(phi)], 1), y, val_fraction, test_fraction,
                      split_seed, n_train, noise, rng)
