"""scikit-learn's bundled 8×8 digits (1,797 images, 10 classes): the embedded default data set."""
from __future__ import annotations

import functools

import numpy as np

from ..params import Param
from ..registry import DATASETS
from .dataset import LAYOUTS, N_TRAIN, SPLIT_SEED, make_splits, stratified_split, subset

SPLIT_PARAMS = {
    "val_fraction": Param(float, 0.15, gt=0, lt=0.5, doc="share of the data held out for validation"),
    "test_fraction": Param(float, 0.15, gt=0, lt=0.5, doc="share held out for the test"),
    "split_seed": SPLIT_SEED,
    "n_train": N_TRAIN,
    "layout": Param(str, "image", choices=LAYOUTS, doc="image (N,1,H,W), flat (N,H·W), sequence (N,H,W)"),
}


def digits(val_fraction=0.15, test_fraction=0.15, split_seed=0, n_train=None, layout="image"):
    """scikit-learn digits, 8×8 pixels scaled to [0, 1], fixed stratified train/val/test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0
    labels = bunch.target
    train, val, test = stratified_split(labels, (0.0, val_fraction, test_fraction), split_seed)
    train = subset(train, labels, n_train, split_seed)
    return make_splits("digits", images, labels, [train, val, test], layout, 10,
                       [str(i) for i in range(10)])


DATASETS.register("digits", params=SPLIT_PARAMS)(digits)
DATASETS.register("digits_seq", description="digits as sequences: each of the 8 rows is a time step",
                  params={**SPLIT_PARAMS, "layout": Param(str, "sequence", choices=LAYOUTS)})(
    functools.partial(digits, layout="sequence"))
