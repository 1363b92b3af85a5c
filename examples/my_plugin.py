"""Your own registrations, loaded with ``--import examples/my_plugin.py``: a data set made in
code and a penalty. nnopt imports this file only because a flag names it."""
import numpy as np
import torch

from nnopt.data import from_arrays
from nnopt.registry import DATASETS, PENALTIES


@DATASETS.register("checkerboard")
def checkerboard(n: int = 800, cells: int = 2, split_seed: int = 0):
    """Points in [0, 1)²; the class is the colour of their cell on a cells × cells checkerboard"""
    rng = np.random.default_rng(split_seed)
    x = rng.random((n, 2)).astype(np.float32)
    y = (np.floor(x * cells).sum(axis=1) % 2).astype(np.int64)
    return from_arrays("checkerboard", x, y, split_seed=split_seed)


@PENALTIES.register("l4", skip=1)
def l4(params: list[torch.Tensor], coef: float = 1e-4) -> torch.Tensor:
    """coef · Σ w⁴ over the selected tensors: punishes the largest weights hardest"""
    return coef * torch.stack([p.pow(4).sum() for p in params]).sum()
