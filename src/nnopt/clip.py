"""Gradient clipping, applied to (unscaled) gradients before each optimizer step.

A registered clip factory returns ``clip(params) -> pre-clip global norm (a tensor) or None``.
"""
from __future__ import annotations

import torch

from .params import Param
from .registry import CLIPPING


@CLIPPING.register("none")
def no_clip():
    """No clipping"""
    return None


@CLIPPING.register("global_norm", params={"max_norm": Param(float, 1.0, gt=0)})
def global_norm(max_norm=1.0):
    """g ← g·b/‖g‖ when the norm ‖g‖ of all gradients together exceeds b (torch's clip_grad_norm_)"""
    return lambda params: torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
