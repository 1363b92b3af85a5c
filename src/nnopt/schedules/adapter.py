"""ScheduleLR: drives a torch optimizer's param groups from closed-form schedules.

It speaks torch's LRScheduler protocol (``step()``, ``get_last_lr()``, ``state_dict()``,
``last_epoch``), so user loops, GradScaler and Lightning take it like a torch scheduler. Unlike
torch's, it does not patch ``optimizer.step`` to check call order: the value after the k-th
``step()`` is schedule(k) whether or not the optimizer stepped in between (GradScaler skips the
optimizer step when it finds inf/NaN gradients), so there is nothing to warn about and no drift.

    sched = ScheduleLR(opt, "cosine", total_steps=1000, warmup_steps=50)   # lr: the optimizer's
    sched = ScheduleLR(opt, schedules.create("cosine", lr=0.1, total_steps=1000, warmup_steps=50))
    for x, y in data: loss(x, y).backward(); scaler.step(opt); scaler.update(); sched.step()
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch.optim.lr_scheduler import LRScheduler

from ..registry import SCHEDULES
from .warmup import Schedule


class ScheduleLR(LRScheduler):
    """group lr = schedule(t)·initial_lr_g/initial_lr_0 (groups keep their ratios to group 0);
    each of `drives` (default: ``schedule.drives``) sets that hyperparameter to f(t) in every
    group — "momentum" sets ``momentum``, or Adam's ``betas[0]`` where there is no momentum.
    t = ``last_epoch`` counts ``step()`` calls; ``step(t)`` jumps to t. `schedule` may be a
    registered name: it is built with `hyper`, its lr defaulting to group 0's initial lr."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Schedule | str,
                 drives: Mapping[str, Schedule] | None = None, last_epoch: int = -1, **hyper):
        # LRScheduler.__init__ is not called: it wraps optimizer.step to warn about call order.
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not a torch.optim.Optimizer")
        if isinstance(schedule, str):
            group = optimizer.param_groups[0]
            hyper.setdefault("lr", float(group.get("initial_lr", group["lr"])))
            schedule = SCHEDULES.create(schedule, field="schedule", **hyper)
        elif hyper:
            raise TypeError(f"ScheduleLR got {', '.join(hyper)} with a built schedule — give them to "
                            "schedules.create, or pass the schedule's name")
        self.optimizer = optimizer
        self.schedule = schedule
        self.drives = dict(getattr(schedule, "drives", {}) if drives is None else drives)
        check_drives(optimizer, self.drives)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", float(group["lr"]))
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self._step_count = 0
        self.step(last_epoch + 1)

    def get_lr(self) -> list[float]:
        value, ref = self.schedule(self.last_epoch), self.base_lrs[0]
        return [value * (base / ref if ref else 1.0) for base in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        """Advance t by one (or set t = epoch) and write the values into the param groups."""
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        t = self.last_epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            set_hyper(group, "lr", lr)
            for key, f in self.drives.items():
                set_hyper(group, key, f(t))
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """t and the groups' initial lrs; the schedules themselves are rebuilt from the recipe."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                "_step_count": self._step_count}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore t and re-apply the values at t (resuming = restoring t)."""
        self.base_lrs = list(state_dict["base_lrs"])
        self._step_count = state_dict["_step_count"] - 1
        self.step(state_dict["last_epoch"])


def _slot(group: dict, key: str) -> str | None:
    """The group key that hyperparameter `key` lives in ("momentum" → betas for Adam-likes)."""
    if key in group:
        return key
    if key == "momentum" and "betas" in group:
        return "betas"
    return None


def check_drives(optimizer: torch.optim.Optimizer, drives: Mapping[str, Schedule]) -> None:
    """ValueError unless every param group has a slot for each driven hyperparameter."""
    for i, group in enumerate(optimizer.param_groups):
        for key in drives:
            if _slot(group, key) is None:
                raise ValueError(f"drives[{key!r}]: param_groups[{i}] has no {key!r} to drive")


def set_hyper(group: dict, key: str, value: float) -> None:
    """group[key] = value (in place for tensor values); "momentum" sets betas[0] on Adam-likes."""
    slot = _slot(group, key)
    if slot == "betas" and key == "momentum":
        value = (value, *group["betas"][1:])
    old = group[slot]
    if isinstance(old, torch.Tensor):
        old.fill_(value)
    else:
        group[slot] = value
