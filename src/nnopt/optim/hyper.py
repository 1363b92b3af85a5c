"""What a chain builder sees of a param group, and the cache key of the chain it builds.

A builder ``build(h) -> Transform`` reads ``h.name`` for each hyperparameter. Numbers come back as
`Ref`s (tuples as tuples of Refs), which the transforms read at every step: a schedule may move
them freely. Booleans, strings and None — and numbers the registration lists as ``structural``
(read once, e.g. Adagrad's initial accumulator value) — come back as they are. A builder may
branch on them and on whether a number is zero (``if h.momentum:``); those choices are the key
the optimizer caches the chain under (`structure`).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from torch import Tensor

from .transforms import Ref

# Group keys that are not the chain's hyperparameters.
NOT_HYPER = frozenset({"params", "param_names", "lr", "initial_lr"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Tensor)) and not isinstance(value, bool)


class Hyper:
    """Attribute access to a group's hyperparameters for a chain builder (see the module doc)."""

    def __init__(self, group: Mapping, structural: Iterable[str] = ()):
        self._group, self._structural = group, frozenset(structural)

    def __getattr__(self, key: str):
        try:
            value = self._group[key]
        except KeyError:
            raise AttributeError(f"the param group has no hyperparameter {key!r}") from None
        if key in self._structural:
            return value
        if _is_number(value):
            return Ref(key, value)
        if isinstance(value, (tuple, list)) and value and all(_is_number(v) for v in value):
            return tuple(Ref(f"{key}.{i}", v) for i, v in enumerate(value))
        return value


def _shape(value: Any):
    """A value as it enters the key: numbers by whether they are non-zero (a tensor: yes)."""
    if _is_number(value):
        return isinstance(value, Tensor) or value != 0
    if isinstance(value, (tuple, list)):
        return tuple(_shape(v) for v in value)
    return value


def structure(group: Mapping, structural: Iterable[str] = ()) -> tuple:
    """The key a group's chain is cached under: structural values as they are, other numbers
    by whether they are zero."""
    fixed = frozenset(structural)
    return tuple((k, v if k in fixed else _shape(v)) for k, v in group.items() if k not in NOT_HYPER)


__all__ = ["Hyper", "structure", "NOT_HYPER"]
