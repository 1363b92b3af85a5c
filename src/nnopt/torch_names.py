"""torch's argument names that nnopt spells differently or that mean something else here.

Where a torch name means exactly what an nnopt field means, the field accepts it as an alias
(``Param.aliases``: ``gamma``, ``T_max``, ``eta_min``, ...). The names below are the rest: the
value must be converted (CyclicLR's ``step_size_up`` is half of ``cycle_steps``), or the switch is
another registered entry (SGD's ``nesterov=True`` is ``name = "nesterov"``), or nnopt has no
counterpart. `hint` turns a row into the unknown-field error's text, so recipes, ``--set``, search
spaces, the playground and ``OPTIMIZERS.create`` / ``schedules.create`` all say the same thing.

TORCH_NAMES[family][entry] = (torch class, {torch name: TorchName}); the entry "*" holds names of
every entry of the family (the LRScheduler base class's ``last_epoch``).
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


def _symmetric_cycle(v: Mapping[str, Any]) -> int:
    up, down = v["step_size_up"], v.get("step_size_down")
    if down not in (None, up):
        raise ValueError("asymmetric cycle")
    return 2 * up


NO_MOMENTUM_CYCLE = TorchName("no counterpart in cyclic", note="cyclic drives the lr only (torch's CyclicLR "
                              "cycles momentum by default); one_cycle has cycle_momentum, base_momentum, max_momentum")

RUN_LENGTH = TorchName("total_steps = epochs·steps_per_epoch", ("total_steps",),
                       lambda v: v["epochs"] * v["steps_per_epoch"], note="none = the whole run, filled by the Trainer")

TORCH_NAMES: dict[str, dict[str, tuple[str, dict[str, TorchName]]]] = {
    "schedules": {
        "*": ("LRScheduler", {
            "last_epoch": TorchName("no counterpart", note="a schedule is a function of t; the Trainer keeps t "
                                    "and --resume restores it"),
        }),
        "linear": ("LinearLR", {
            "start_factor": TorchName("lr = start_factor·(the base lr)", ("lr",),
                                      lambda v: v["start_factor"] * v["lr"],
                                      note="the base lr is lr, or the optimizer's when none; a rising LinearLR "
                                           "is a warmup: warmup_steps = total_iters, warmup_start_lr = "
                                           "start_factor·lr"),
            "end_factor": TorchName("min_lr = end_factor·(the base lr)", ("min_lr",),
                                    lambda v: v["end_factor"] * v["lr"],
                                    note="the base lr is lr, or the optimizer's when none"),
        }),
        "cyclic": ("CyclicLR", {
            "step_size_up": TorchName("cycle_steps = 2·step_size_up", ("cycle_steps",), _symmetric_cycle,
                                      note="the whole cycle; nnopt's cycles rise and fall equally long"),
            "step_size_down": TorchName("cycle_steps = step_size_up + step_size_down",
                                        note="the whole cycle, only when step_size_down = step_size_up: "
                                             "nnopt's cycles are symmetric"),
            "scale_fn": TorchName("mode", note="triangular, triangular2 or exp_range; a custom scale is a "
                                  "schedule of your own (nnopt.schedules.register)"),
            "scale_mode": TorchName("mode", note="triangular2 scales per cycle, exp_range per step"),
            "cycle_momentum": NO_MOMENTUM_CYCLE,
            "base_momentum": NO_MOMENTUM_CYCLE,
            "max_momentum": NO_MOMENTUM_CYCLE,
        }),
        "one_cycle": ("OneCycleLR", {
            "epochs": RUN_LENGTH,
            "steps_per_epoch": RUN_LENGTH,
        }),
    },
    "optimizers": {
        "momentum": ("SGD", {
            "nesterov": TorchName("name = 'nesterov'", note="Nesterov momentum is an optimizer of its own"),
        }),
        "nesterov": ("SGD", {
            "nesterov": TorchName("nothing", note="this optimizer is Nesterov momentum; drop the key"),
            "dampening": TorchName("nothing", note="torch's Nesterov needs dampening = 0, which this optimizer "
                                   "fixes"),
        }),
        "adam": ("Adam", {
            "decoupled_weight_decay": TorchName("name = 'adamw'", note="torch's Adam with "
                                                "decoupled_weight_decay = true is AdamW"),
        }),
    },
}


def rows_of(family: str, entry: str):
    """(torch class, torch name, row) for every name `entry` of `family` answers to: its own rows,
    then the family-wide ones."""
    rows = TORCH_NAMES.get(family, {})
    for name in (entry, "*"):
        cls, names = rows.get(name, ("", {}))
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
    """The rows of `family` as a markdown table (the docs page carries this text; a test compares)."""
    lines = ["| entry | torch | torch's name | in nnopt | note |", "| --- | --- | --- | --- | --- |"]
    for entry, (cls, rows) in TORCH_NAMES[family].items():
        where = f"every {family.rstrip('s')}" if entry == "*" else f"`{entry}`"
        for key, row in rows.items():
            lines.append(f"| {where} | `{cls}` | `{key}` | {row.use} | {row.note} |")
    return "\n".join(lines)


__all__ = ["TorchName", "TORCH_NAMES", "rows_of", "lookup", "converted", "hint", "describe", "markdown"]
