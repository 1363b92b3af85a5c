"""torch.optim's SGD and Adam under nnopt names, until nnopt's own optimizers land."""
import torch

from ..params import Param
from ..registry import OPTIMIZERS

LR = Param(float, 1e-3, ge=0, doc="learning rate α")


@OPTIMIZERS.register("sgd", skip=1, params={"lr": Param(float, 0.1, ge=0),
                                            "momentum": Param(float, 0.0, ge=0, lt=1),
                                            "weight_decay": Param(float, 0.0, ge=0)})
def sgd(params, lr=0.1, momentum=0.0, weight_decay=0.0):
    """Mini-batch SGD θ ← θ − α·g (torch.optim.SGD)"""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@OPTIMIZERS.register("adam", skip=1, params={
    "lr": LR, "betas": Param(tuple, (0.9, 0.999), length=2, item=Param(float, ge=0, lt=1)),
    "eps": Param(float, 1e-8, gt=0), "weight_decay": Param(float, 0.0, ge=0)})
def adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Adam (torch.optim.Adam)"""
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
