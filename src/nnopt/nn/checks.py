"""Argument checks shared by the layers: a bad value raises a ValueError naming the parameter,
the value and what is allowed."""
from __future__ import annotations

import os

from ..errors import ConfigError


def check_unit(name: str, value: float, *, closed_high: bool = False, open_low: bool = False,
               hint: str = "") -> float:
    """`value` must lie in [0, 1) (or the interval the flags select); returns it as a float."""
    value = float(value)
    low_ok = value > 0 if open_low else value >= 0
    high_ok = value <= 1 if closed_high else value < 1
    if not (low_ok and high_ok):
        interval = f"{'(' if open_low else '['}0, 1{']' if closed_high else ')'}"
        raise ValueError(f"{name} = {value!r} — must be in {interval}{hint}")
    return value


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} = {value!r} — must be one of {', '.join(map(repr, choices))}")
    return value


def check_nonnegative(name: str, value: float) -> float:
    if not value >= 0:
        raise ValueError(f"{name} = {value!r} — must be >= 0")
    return value


def memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(needed: float, what: str, fix: str) -> None:
    """ConfigError when `what` would need more than half of this machine's memory (`needed` bytes)."""
    have = memory_bytes()
    if needed > have / 2:
        raise ConfigError(f"{what} needs about {_gib(needed)} of memory and this machine has {_gib(have)} — {fix}")


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"
