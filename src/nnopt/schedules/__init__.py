"""Learning-rate schedules: each is a pure function ``t -> lr`` (t = step or epoch, per the recipe).

    lr_at = schedules.create("cosine", lr=0.1, total_steps=1000, warmup_steps=100)
    lr_at(0), lr_at(100), lr_at(1000)          # 0.0, 0.1, 0.0

Every schedule takes ``total_steps`` and the warmup parameters (see `base`); `join` and `warmup`
compose schedules; `ScheduleLR` drives a torch optimizer; `BatchSizeSchedule` grows the batch.
"""
from __future__ import annotations

from ..registry import SCHEDULES
from . import decay  # noqa: F401  (registers the decaying schedules)
from . import cyclic  # noqa: F401  (then the cyclic ones)
from .adapter import ScheduleLR, check_drives, set_hyper
from .batch_size import BatchSizeSchedule
from .warmup import Schedule, join, ramp, warmup


def create(name: str, **hyper) -> Schedule:
    """Build the registered schedule `name`: a callable t -> lr (validated; ConfigError on bad input)."""
    return SCHEDULES.create(name, field="schedule", **hyper)


def available() -> list[str]:
    return SCHEDULES.names()


__all__ = ["create", "available", "Schedule", "join", "ramp", "warmup", "ScheduleLR", "check_drives", "set_hyper",
           "BatchSizeSchedule"]
