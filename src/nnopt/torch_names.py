"""torch's argument names that nnopt spells differently or that mean something else here.

Where a torch name means exactly what an nnopt field means, the field accepts it as an alias
(``Param.aliases``: ``gamma``, ``T_max``, ``eta_min``, ...). The names below are the rest: the
value must be converted (CyclicLR's ``step_size_up`` is half of ``cycle_steps``), or the switch is
another registered entry (SGD's ``nesterov=True`` is ``name = "nesterov"``), or nnopt has no
counterpart. `hint` turns a row into the unknown-field error's text, so recipes, ``--set``, search
spaces, the playground and ``OPTIMIZERS.create`` / ``schedules.create`` all say the same thing.

The rows are facts of the entries: each registration carries its torch class (``torch_class=``)
and its rows (``torch_names={torch name: TorchName}``); `FAMILY_ROWS` holds the names every entry
of a family answers to (the LRScheduler base class's ``last_epoch``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class TorchName:
    """One torch name: what to write in nnopt instead.

    use      the nnopt setting, as a formula in torch's names ("cycle_steps = 2·step_size_up")
    fields   the nnopt fields `convert` fills, in order (empty: nothing to convert)
    convert  torch's values (the section as given) → the nnopt value, or a tuple of one per field
    note     what differs, in a few words
    """

    use: str
    fields: tuple[str, ...] = ()
    convert: Callable[[Mapping[str, Any]], Any] | None = None
    note: str = ""


# Names every entry of a family answers to (the LRScheduler base class's): family → (torch class, rows).
FAMILY_ROWS: dict[str, tuple[str, dict[str, TorchName]]] = {
    "schedules": ("LRScheduler", {
        "last_epoch": TorchName("no counterpart", note="a schedule is a function of t; the Trainer keeps t "
                                "and --resume restores it"),
    }),
}


def entry_rows(family: str, entry: str) -> tuple[str, dict[str, TorchName]]:
    """(torch class name, rows) registered with `entry` of `family` (``torch_class=``,
    ``torch_names=`` metadata); ("", {}) for an entry without a torch counterpart."""
    from .registry import FAMILIES  # the registry imports params, which imports this module

    registry = FAMILIES.get(family)
    if registry is None or entry not in registry:
        return "", {}
    meta = registry.get(entry).meta
    cls = meta.get("torch_class")
    return getattr(cls, "__name__", ""), dict(meta.get("torch_names") or {})


def rows_of(family: str, entry: str):
    """(torch class, torch name, row) for every name `entry` of `family` answers to: its own rows
    (its registration's), then the family-wide ones."""
    for cls, names in (entry_rows(family, entry), FAMILY_ROWS.get(family, ("", {}))):
        for key, row in names.items():
            yield cls, key, row


def lookup(family: str, entry: str, key: str) -> tuple[str, TorchName] | None:
    """(torch class, row) for `key` given to `entry` of `family`; None when it is not torch's name."""
    return next(((cls, row) for cls, name, row in rows_of(family, entry) if name == key), None)


def converted(row: TorchName, values: Mapping[str, Any]) -> Any:
    """The nnopt value `row.convert` gives for the numbers among `values`; None when it cannot (a
    value missing or not a number, a case with no counterpart)."""
    if row.convert is None:
        return None
    numeric = {k: v for k, v in values.items()
               if _number(v) or (isinstance(v, (list, tuple)) and all(x is None or _number(x) for x in v))}
    try:
        return row.convert(numeric)
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def hint(field: str, family: str, entry: str, key: str, values: Mapping[str, Any] | None = None) -> str | None:
    """``"schedule.step_size_up is torch CyclicLR's name: here cycle_steps = 2·step_size_up = 200
    (the whole cycle; ...)"`` for a torch name `key`; None for any other key."""
    found = lookup(family, entry, key)
    if found is None:
        return None
    cls, row = found
    value = converted(row, values or {})
    shown = "" if value is None else f" = {_show(value)}"
    note = f" ({row.note})" if row.note else ""
    return f"{field} is torch {cls}'s name: here {row.use}{shown}{note}"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(x) for x in value) + ")"
    if value is None:
        return "none"
    return repr(value)


def describe(family: str, entry: str) -> list[str]:
    """The rows `entry` of `family` answers to (its own and the family-wide ones), one line each:
    ``step_size_up (torch CyclicLR) → cycle_steps = 2·step_size_up  (the whole cycle; ...)``;
    ``nnopt list FAMILY ENTRY`` prints them under the fields."""
    return [f"{key} (torch {cls}) → {row.use}" + (f"  ({row.note})" if row.note else "")
            for cls, key, row in rows_of(family, entry)]


def markdown(family: str) -> str:
    """The rows of `family` as a markdown table, entries in registration order, then the
    family-wide rows (the docs page carries this text; a test compares)."""
    from .registry import FAMILIES

    lines = ["| entry | torch | torch's name | in nnopt | note |", "| --- | --- | --- | --- | --- |"]
    tables = [(f"`{e.name}`", *entry_rows(family, e.name)) for e in FAMILIES[family]]
    if family in FAMILY_ROWS:
        tables.append((f"every {family.rstrip('s')}", *FAMILY_ROWS[family]))
    for where, cls, rows in tables:
        for key, row in rows.items():
            lines.append(f"| {where} | `{cls}` | `{key}` | {row.use} | {row.note} |")
    return "\n".join(lines)


__all__ = ["TorchName", "FAMILY_ROWS", "entry_rows", "rows_of", "lookup", "converted", "hint", "describe", "markdown"]
