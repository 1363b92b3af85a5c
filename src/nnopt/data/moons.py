"""Two interleaving half-moons in 2-D (scikit-learn's make_moons): a toy for decision boundaries."""
from __future__ import annotations

from ..params import Param
from ..registry import DATASETS
from .dataset import N_TRAIN, SPLIT_SEED
from .toy2d import to_dataset


@DATASETS.register("moons", points_2d=True, params={
    "n_samples": Param(int, 1000, ge=30, le=1_000_000), "noise": Param(float, 0.2, ge=0),
    "val_fraction": Param(float, 0.2, gt=0, lt=0.5), "test_fraction": Param(float, 0.2, gt=0, lt=0.5),
    "split_seed": SPLIT_SEED, "n_train": N_TRAIN})
def moons(n_samples=1000, noise=0.2, val_fraction=0.2, test_fraction=0.2, split_seed=0, n_train=None):
    """make_moons 2-D points, two classes, with Gaussian noise; seeded."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=split_seed)
    return to_dataset("moons", x, y, val_fraction, test_fraction, split_seed, n_train)
