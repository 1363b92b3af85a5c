"""A param group's step counts, kept on the host, and its state buffers gathered once.

torch keeps a 0-d ``step`` tensor per parameter and adds 1 to each at every step: on 500 small
tensors that increment alone cost more than torch's fused SGD kernel. Here a group counts its
steps as one integer ``t``; a parameter whose count differs — it had no gradient at some steps
(a frozen layer), or a loaded state gave it another count — keeps its own in ``own``. The
per-parameter ``step`` tensors torch's optimizers read exist only in ``state_dict()`` (made by
`step_tensor`) and are read back into counts by `GroupSteps.loaded`.

The step also needs, per slot, the list of every parameter's buffer; gathering it means a dict
lookup per parameter and slot. `GroupSteps.state` keeps the lists between steps for as long as the
same parameters (by identity) step with the same chain; a load (`ChainOptimizer.__setstate__`)
starts afresh.
"""
from __future__ import annotations

from collections import Counter
from operator import is_
from typing import Any

import torch
from torch import Tensor

State = dict[str, list[Tensor]]


def scalar_dtype() -> torch.dtype:
    """The dtype of torch's step tensors (``torch.optim.optimizer._get_scalar_dtype``)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def step_tensor(count: int) -> Tensor:
    """A parameter's step count as torch's optimizers keep it: a 0-d CPU tensor of `scalar_dtype`."""
    return torch.tensor(float(count), dtype=scalar_dtype())


class GroupSteps:
    """The step counts of one param group (module doc): ``t`` for every parameter but those in
    ``own`` (parameter → its count)."""

    def __init__(self, group: dict, counts: list[int] | None = None):
        self.group = group
        counts = counts if counts is not None else [0] * len(group["params"])
        self.t = Counter(counts).most_common(1)[0][0] if counts else 0
        self.own = {p: c for p, c in zip(group["params"], counts) if c != self.t}
        self._cached: tuple[Any, list[Tensor], State] | None = None
        self.numel = 0  # elements of the parameters of the last `state` call

    @classmethod
    def loaded(cls, group: dict, state: dict) -> "GroupSteps":
        """The counts of a group whose state was just loaded: each parameter's ``step`` tensor
        (removed from its state: the count lives here), 1 for a state without one (torch's SGD
        keeps no step; a momentum buffer means t ≥ 1), 0 for no state."""
        counts = []
        for p in group["params"]:
            st = state.get(p)
            counts.append(0 if not st else int(st.pop("step")) if "step" in st else 1)
        return cls(group, counts)

    def count(self, p: Tensor) -> int:
        """The steps parameter `p` of the group has taken."""
        return self.own.get(p, self.t)

    def advance(self, chosen: list[int] | None) -> list[tuple[int, list[int] | None]]:
        """Count one step of the group's parameters `chosen` (indices; None: all of them): the
        (t after this step, the positions in `chosen` at that t, None: all) buckets. In the
        common case — the parameters that step are exactly those not in ``own`` — nothing is
        done per parameter."""
        members = self.group["params"]
        stepping = len(members) if chosen is None else len(chosen)
        if stepping == len(members) - len(self.own) and all(p.grad is None for p in self.own):
            self.t += 1
            return [(self.t, None)]
        picked = range(len(members)) if chosen is None else chosen
        if chosen is not None:  # the parameters that take no step keep their count
            still = set(range(len(members))).difference(chosen)
            for i in still:
                self.own.setdefault(members[i], self.t)
        self.t += 1
        buckets: dict[int, list[int]] = {}
        for k, i in enumerate(picked):
            p = members[i]
            c = self.own.pop(p) + 1 if p in self.own else self.t
            if c != self.t:
                self.own[p] = c
            buckets.setdefault(c, []).append(k)
        return [(c, None if len(ks) == stepping else ks) for c, ks in buckets.items()]

    def state(self, transform, params: list[Tensor], states: dict, first: bool) -> State:
        """The buffers of `params` per slot of `transform`: made by ``transform.init`` on their
        first step (`first`), made for the slots a loaded state lacks (torch's Adafactor keeps
        only the factors a shape uses), else gathered — or taken from the last step's lists when
        the same parameters step with the same chain."""
        cached = self._cached
        if (cached is not None and cached[0] is transform and len(cached[1]) == len(params)
                and all(map(is_, cached[1], params))):
            return cached[2]
        self.numel = sum(p.numel() for p in params)
        slots = transform.slots
        if first:
            made = transform.init(params)
            for i, p in enumerate(params):
                states[p].update({k: v[i] for k, v in made.items()})
            out = made
        else:
            rows = [states[p] for p in params]
            for p, st in zip(params, rows):
                if any(k not in st for k in slots):
                    made = transform.init([p])
                    st.update({k: v[0] for k, v in made.items() if k not in st})
            out = {k: [st[k] for st in rows] for k in slots}
        self._cached = (transform, list(params), out)
        return out


__all__ = ["GroupSteps", "step_tensor", "scalar_dtype"]
