""""Open in lab": the `nnopt lab` experiments that show the techniques a playground setup uses.

Which experiment shows what is declared on its registration (``@experiment(..., shows={field:
values})``, a value "*" meaning any value other than the default recipe's); this module only reads it.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..recipe import Recipe


def links() -> dict[str, dict[str, str]]:
    """field → value → experiment, from the registrations (the first experiment in the chapter's
    order wins a value two of them show)."""
    from ..lab.base import all_experiments

    table: dict[str, dict[str, str]] = {}
    for exp in all_experiments():
        for field, values in exp.shows.items():
            for value in ([values] if isinstance(values, str) else values):
                table.setdefault(field, {}).setdefault(str(value), exp.name)
    return table


def recipe_choices(recipe: Recipe) -> list[tuple[str, Any, bool]]:
    """(field, value, differs from the default recipe) for each linked field the recipe has."""
    default, out = Recipe(), []
    for field in links():
        try:
            value = recipe.get(field)
        except KeyError:
            continue
        try:
            base = default.get(field)
        except KeyError:
            base = None
        out.append((field, value, value != base))
    return out


def lab_links(choices: Iterable[tuple[str, Any, bool]]) -> list[dict]:
    """The registered experiments matching (field, value, changed) choices: name, claim, command."""
    from ..lab.base import EXPERIMENTS

    table, names = links(), []
    for field, value, changed in choices:
        targets = table.get(field, {})
        name = targets.get(str(value)) or (targets.get("*") if changed else None)
        if name in EXPERIMENTS and name not in names:
            names.append(name)
    return [{"name": n, "claim": EXPERIMENTS[n].claim, "command": f"nnopt lab {n}"} for n in names]
