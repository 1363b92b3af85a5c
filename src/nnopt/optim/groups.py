"""Parameters → param groups: accepts ``model.parameters()``, ``model.named_parameters()`` or
torch-style group dicts; keeps names in ``group["param_names"]``; optionally moves 1-D
parameters (biases, norm weights) into a group without weight decay (timm's default)."""
from __future__ import annotations

from typing import Any, Iterable

from torch import Tensor


def normalize_groups(params: Iterable) -> list[dict[str, Any]]:
    """A list of group dicts whose ``params`` are tensors; (name, tensor) pairs give
    ``param_names``. Dicts keep their other keys (per-group hyperparameters)."""
    items = list(params)
    if not items:
        raise ValueError("params is empty — the optimizer got no parameters to optimize")
    groups = items if isinstance(items[0], dict) else [{"params": items}]
    out = []
    for group in groups:
        if not isinstance(group, dict):
            raise TypeError("params must be all tensors, all (name, tensor) pairs, or all dicts")
        members = group["params"]
        members = [members] if isinstance(members, Tensor) else list(members)
        new = dict(group)
        if members and all(isinstance(m, tuple) for m in members):
            new["param_names"] = [n for n, _ in members]
            members = [p for _, p in members]
        elif any(isinstance(m, tuple) for m in members):
            raise TypeError("params mixes (name, tensor) pairs and tensors")
        new["params"] = members
        out.append(new)
    return out


def split_no_decay(params: Iterable, weight_decay: float) -> list[dict[str, Any]]:
    """Groups where 1-D parameters (biases, norm weights and shifts) get ``weight_decay = 0``.

    Each input group becomes up to two: its ≥2-D parameters keep the group's (or the given)
    weight decay, its 1-D ones get none. Names, if given, follow their parameters.
    """
    out = []
    for group in normalize_groups(params):
        names = group.get("param_names")
        decay, keep = {"params": [], "names": []}, {"params": [], "names": []}
        for i, p in enumerate(group["params"]):
            part = decay if p.ndim > 1 else keep
            part["params"].append(p)
            part["names"].append(names[i] if names else None)
        wd = group.get("weight_decay", weight_decay)
        for part, part_wd in ((decay, wd), (keep, 0.0)):
            if not part["params"]:
                continue
            new = {k: v for k, v in group.items() if k not in ("params", "param_names")}
            new.update(params=part["params"], weight_decay=part_wd)
            if names:
                new["param_names"] = part["names"]
            out.append(new)
    return out


__all__ = ["normalize_groups", "split_no_decay"]
