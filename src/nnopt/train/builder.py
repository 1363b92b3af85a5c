"""recipe → everything a run needs: data on the device, model, optimizer, schedule, clip, ...

Everything that can fail on bad input fails here, before a run directory exists.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..data import Dataset, load
from ..errors import ConfigError
from ..nn import build_model
from ..recipe import Recipe
from ..registry import AUGMENTATIONS, CLIPPING, INITS, OPTIMIZERS, PREPROCESSORS, SCHEDULES
from ..regularize import weights


@dataclass
class Setup:
    """The built run. ``schedule(t)`` gives the lr at step/epoch t (per ``interval``); each param
    group's lr is that value times ``lr_scales[i]`` (its own initial lr over the base lr)."""

    recipe: Recipe
    device: torch.device
    data: Dataset
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Callable[[int], float]
    interval: str
    lr_scales: list[float]
    clip: Callable | None
    augment: Callable | None
    preprocessor: Any
    penalized: list[torch.Tensor]
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.recipe.train["epochs"]


def resolve_device(name: str) -> torch.device:
    """"auto" → CUDA when present, else CPU; "cuda" without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError('train.device = "cuda" — no CUDA device is available here; use "auto" or "cpu"')
    return torch.device(name)


def build(recipe: Recipe) -> Setup:
    """Build every component of `recipe`, seeded by ``train.seed``."""
    train = recipe.train
    if train["threads"]:
        torch.set_num_threads(train["threads"])
    device = resolve_device(train["device"])
    torch.manual_seed(train["seed"])

    data = load(recipe.data["name"], **recipe.params("data"))
    preprocessor = PREPROCESSORS.create(recipe.preprocess["name"], field="preprocess",
                                        **recipe.params("preprocess"))
    if preprocessor is not None:
        preprocessor.fit(data.train.x)
        for split in (data.train, data.val, data.test):
            split.x = preprocessor.transform(split.x)
    data = data.to(device)

    model = build_model(recipe.model["name"], data.input_shape, data.n_classes,
                        dropout=recipe.regularization["dropout"], **recipe.params("model"))
    INITS.create(recipe.init["name"], model, field="init", **recipe.params("init"))
    model.to(device)

    optimizer = OPTIMIZERS.create(recipe.optimizer["name"], model.parameters(), field="optimizer",
                                  **recipe.params("optimizer"))
    base_lr = recipe.optimizer.get("lr", optimizer.param_groups[0]["lr"])
    lr_scales = [g["lr"] / base_lr if base_lr else 1.0 for g in optimizer.param_groups]

    steps_per_epoch = math.ceil(len(data.train) / train["batch_size"])
    interval = recipe.schedule["interval"]
    horizon = steps_per_epoch * train["epochs"] if interval == "step" else train["epochs"]
    sched_params = recipe.params("schedule")
    if sched_params.get("lr", 0) is None:
        sched_params["lr"] = base_lr
    if "total_steps" in sched_params and sched_params["total_steps"] is None:
        sched_params["total_steps"] = horizon
    schedule = SCHEDULES.create(recipe.schedule["name"], field="schedule", **sched_params)

    clip = CLIPPING.create(recipe.clip["name"], field="clip", **recipe.params("clip"))
    augment = AUGMENTATIONS.create(recipe.augment["name"], field="augment", **recipe.params("augment"))
    return Setup(recipe, device, data, model, optimizer, schedule, interval, lr_scales, clip, augment,
                 preprocessor, weights(model), steps_per_epoch)
