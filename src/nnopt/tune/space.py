"""SPACE.toml: a search space with the recipe's own shape, a range where a value would be.

    [optimizer]
    name = ["sgd", "momentum", "adam"]                        # categorical
    lr = { low = 1e-4, high = 0.3, log = true }               # float range (log-uniform)
    momentum = { low = 0.5, high = 0.99, when = { name = ["momentum"] } }   # conditional
    [model]
    widths = { depth = { low = 1, high = 3 }, width = [32, 64, 128] }       # NAS: n layers, a width each
    [train]
    batch_size = { choices = [32, 64] }

Value forms: a plain value is fixed for every trial; an array is categorical (for a list-valued
field the explicit ``{ choices = [[256, 256], [512]] }``); ``{ low, high [, log] [, step] }`` a
range, integer when the field is an integer; ``{ depth = D, width = W }`` a list-valued field of
``depth`` items, item i drawn from W on its own (parameter ``key[i]``); ``{ value = v }`` a fixed
value. Any form takes ``when = { field = value or [values] }``: the knob exists only in trials where
that field (``name`` = same section, ``section.field`` = any) has one of those values.

Every knob is checked against the recipe's own field specs (for every entry name it can meet),
so unknown fields, empty ranges and unregistered names are ConfigErrors before any trial runs.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import ConfigError
from ..params import Param, suggest, unknown_field
from ..recipe import SECTIONS, Component, Recipe, check_moved, loads_toml, parse_value, read_text, toml_value

FORMS = {"low", "high", "log", "step", "choices", "depth", "width", "value", "when"}
GRID_MAX = 100_000  # configurations grid search may enumerate; counted before any is built


def encode(value: Any) -> Any:
    """An Optuna categorical holds None/bool/int/float/str: lists travel as their TOML text."""
    return toml_value(value) if isinstance(value, (list, tuple)) else value


def decode(value: Any, kind: type) -> Any:
    return parse_value(value) if kind in (list, tuple) and isinstance(value, str) else value


@dataclass(frozen=True)
class Dist:
    """A scalar distribution: `choices`, or a range ``[low, high]`` (integer, log-scaled, stepped)."""

    choices: tuple | None = None
    low: float = 0
    high: float = 0
    log: bool = False
    step: float | None = None
    integer: bool = False

    def suggest(self, trial, name: str) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(name, list(self.choices))
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)

    def count(self) -> int | None:
        """How many values `grid` lists (None for a continuous range), without listing them."""
        if self.choices is not None:
            return len(self.choices)
        if self.integer:
            return len(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            return None
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def grid(self) -> list | None:
        """Every value, or None for a continuous range."""
        if self.choices is not None or self.integer:
            return list(self.choices) if self.choices is not None else \
                list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        n = self.count()
        return None if n is None else [self.low + i * self.step for i in range(n)]

    def describe(self) -> str:
        if self.choices is not None:
            return "[" + ", ".join(map(str, self.choices)) + "]"
        extra = (", log" if self.log else "") + (f", step {self.step}" if self.step else "")
        return f"[{self.low}, {self.high}{extra}]"


@dataclass(frozen=True)
class Knob:
    """One searched (or fixed) recipe field. ``when``: (dotted field, allowed values) pairs."""

    key: str
    kind: type
    dist: Dist | None = None  # None: fixed `value`
    value: Any = None
    depth: Dist | None = None  # the list form: `depth` items, each drawn from `dist`
    when: tuple[tuple[str, tuple], ...] = ()

    def suggest(self, trial) -> Any:
        if self.depth is not None:
            n = self.depth.suggest(trial, f"{self.key}.depth")
            return [self.dist.suggest(trial, f"{self.key}[{i}]") for i in range(n)]
        if self.dist is None:
            return self.value
        return decode(self.dist.suggest(trial, self.key), self.kind)

    def count(self) -> int | None:
        """len(grid()) without building it (None if continuous); past GRID_MAX only 'more than
        GRID_MAX' is exact (a depth-40 list of 3 widths has 3⁴⁰ values)."""
        if self.dist is None:
            return 1
        values = self.dist.count()
        if values is None or self.depth is None:
            return values
        if self.depth.count() > GRID_MAX:
            return self.depth.count()
        total = 0
        for n in self.depth.grid():
            total += values ** n if n * math.log2(max(values, 1)) < 64 else GRID_MAX + 1
            if total > GRID_MAX:
                break
        return total

    def grid(self) -> list[tuple[dict, Any]] | None:
        """(optuna params, recipe value) for every value of this knob; None if continuous."""
        if self.dist is None:
            return [({}, self.value)]
        values = self.dist.grid()
        if values is None:
            return None
        if self.depth is None:
            return [({self.key: v}, decode(v, self.kind)) for v in values]
        out = []
        for n in self.depth.grid():
            for combo in itertools.product(values, repeat=n):
                params = {f"{self.key}.depth": n, **{f"{self.key}[{i}]": v for i, v in enumerate(combo)}}
                out.append((params, list(combo)))
        return out

    def active(self, assigned: Mapping[str, Any], base: Recipe) -> bool:
        return all(_lookup(field, assigned, base) in allowed for field, allowed in self.when)

    def describe(self) -> str:
        text = "= " + toml_value(self.value) if self.dist is None else self.dist.describe()
        if self.depth is not None:
            text = f"depth {self.depth.describe()} × width {text}"
        cond = " and ".join(f"{f} in [{', '.join(map(str, a))}]" for f, a in self.when)
        return text + (f"  when {cond}" if cond else "")


_MISSING = object()


def _lookup(field: str, assigned: Mapping[str, Any], base: Recipe) -> Any:
    if field in assigned:
        return assigned[field]
    try:
        return base.get(field)
    except (KeyError, TypeError):
        return _MISSING


class Space:
    """Knobs in dependency order (a knob after every knob its ``when`` names)."""

    def __init__(self, knobs: Iterable[Knob], base: Recipe, text: str = ""):
        self.base = base
        self.text = text
        self.knobs = _ordered(list(knobs))

    def __iter__(self):
        return iter(self.knobs)

    def searched(self) -> list[Knob]:
        return [k for k in self.knobs if k.dist is not None]

    def sample(self, trial) -> dict[str, Any]:
        """The recipe assignments of one trial (dotted key → value), active knobs only."""
        assigned: dict[str, Any] = {}
        for knob in self.knobs:
            if knob.active(assigned, self.base):
                assigned[knob.key] = knob.suggest(trial)
        return assigned

    def recipe(self, assigned: Mapping[str, Any]) -> Recipe:
        """The base recipe with `assigned` applied, component names first."""
        order = sorted(assigned, key=lambda k: not k.endswith(".name"))
        return self.base.override({k: assigned[k] for k in order})

    def grid_bound(self) -> int:
        """At least the number of configurations `grid` lists (the product of the knobs' counts;
        a conditional knob multiplies only some), counted without building any; a ConfigError for a
        continuous knob or a bound past GRID_MAX."""
        bound = 1
        for knob in self.knobs:
            count = knob.count()
            if count is None:
                raise ConfigError(f"{knob.key} = {knob.describe()} is a continuous range — grid search "
                                  "needs discrete values: give a step, an integer range or choices = [...], "
                                  "or use --method random|bayes|hyperband|asha")
            bound = min(bound * count, GRID_MAX + 1)
        if bound > GRID_MAX:
            worst = max(self.knobs, key=lambda k: k.count() or 0)
            raise ConfigError(f"grid search over more than {GRID_MAX:,} configurations ({worst.key} alone has "
                              f"{_amount(worst.count())}) — narrow the ranges (a larger step, fewer choices) "
                              "or use --method random|bayes|hyperband|asha")
        return bound

    def grid(self) -> list[tuple[dict, dict]]:
        """Every distinct (optuna params, recipe assignments) of a discrete space; conditional
        knobs multiply only the configurations where they are active. Refused past GRID_MAX
        (`grid_bound`) before any is built."""
        self.grid_bound()
        configs: list[tuple[dict, dict]] = [({}, {})]
        for knob in self.knobs:
            values = knob.grid()
            grown = []
            for params, assigned in configs:
                if not knob.active(assigned, self.base):
                    grown.append((params, assigned))
                    continue
                grown += [({**params, **p}, {**assigned, knob.key: v}) for p, v in values]
            configs = grown
        return configs

    def describe(self) -> list[str]:
        return [f"{k.key} {k.describe()}" for k in self.knobs]


def _amount(n: int) -> str:
    return f"{n:,}" if n <= GRID_MAX else f"more than {GRID_MAX:,}"


def _ordered(knobs: list[Knob]) -> list[Knob]:
    by_key = {k.key: k for k in knobs}
    out, state = [], {}

    def visit(knob: Knob, chain: tuple[str, ...]) -> None:
        if state.get(knob.key) == "done":
            return
        if knob.key in chain:
            raise ConfigError(f"{knob.key}: its when clause depends on itself "
                              f"({' → '.join(chain + (knob.key,))})")
        for field, _ in knob.when:
            if field in by_key:
                visit(by_key[field], chain + (knob.key,))
        state[knob.key] = "done"
        out.append(knob)

    for knob in knobs:
        visit(knob, ())
    return out


# -- parsing and validation ------------------------------------------------------------------
def load_space(path: str | Path, base: Recipe) -> Space:
    return parse_space(read_text(path, f"--space {str(path)!r}"), base, source=str(path))


def parse_space(text: str, base: Recipe, source: str = "space") -> Space:
    return Space(build_knobs(loads_toml(text, f"space {source!r}"), base), base, text)


def build_knobs(raw: Mapping[str, Any], base: Recipe) -> list[Knob]:
    """Validate a parsed space against the recipe's field specs; return its knobs."""
    if not raw:
        raise ConfigError("the search space is empty — give at least one [section] with a field to search")
    entries = []  # (dotted key, knob spec)
    for section, table in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"[{section}] is not a recipe section (allowed: {', '.join(SECTIONS)})"
                              f"{suggest(section, SECTIONS)}")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{section} = {table!r} — must be a table [{section}]")
        entries += _walk(section, (), table)
    for key, spec in entries:
        check_moved(key, spec)
    knobs = [_knob(key, spec, raw, base) for key, spec in entries]
    if not any(k.dist is not None for k in knobs):
        raise ConfigError("the search space searches nothing — give at least one field a range or choices")
    return knobs


def _walk(section: str, path: tuple[str, ...], table: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(dotted key, knob spec) pairs; sub-tables that are not knob forms are nested recipe tables."""
    out = []
    for field, spec in table.items():
        key = ".".join((section, *path, field))
        if isinstance(spec, Mapping) and not (set(spec) & FORMS):
            if not spec:
                raise ConfigError(f"{key} = {{}} — an empty table searches nothing; give a value or a range")
            out += _walk(section, (*path, field), spec)
        else:
            out.append((key, spec))
    return out


def field_params(key: str, base: Recipe, names: Iterable[str] | None = None) -> dict[str, Param]:
    """The Param of recipe field `key` per candidate entry name of its section (one for fixed
    sections); a field unknown to some candidate raises ConfigError."""
    section, *path = key.split(".")
    spec = SECTIONS[section]
    if isinstance(spec, Component):
        names = list(names) if names is not None else [base.get(f"{section}.name")]
        specs = {n: spec.spec(n, base.get(section)) for n in names}
    else:
        specs = {"": spec}
    out = {}
    for name, fields in specs.items():
        param = None
        for i, part in enumerate(path):
            if part not in fields:
                hint = (f" — restrict it with when = {{ name = [...] }} to the {spec.registry.family} "
                        "that have it") if name and any(path[0] in s for s in specs.values()) else ""
                entry = (spec.registry.family, name) if name else None
                raise ConfigError(unknown_field(key, part, fields, entry) + hint)
            param = fields[part]
            if i < len(path) - 1:
                if param.kind is not dict:
                    raise ConfigError(f"{key}: {'.'.join((section, *path[:i + 1]))} is not a table")
                fields = param.fields or {}
        out[name] = param
    return out


def _names_of(section: str, raw: Mapping[str, Any], base: Recipe, when: tuple) -> list[str]:
    """The entry names a knob of a component section can meet: the section's name knob (or the
    base recipe's name), narrowed by a when clause on that name."""
    spec = raw.get(section, {}).get("name", _MISSING)
    if spec is _MISSING:
        names = [base.get(f"{section}.name")]
    elif isinstance(spec, Mapping):
        names = list(spec.get("choices", [spec.get("value")]))
    elif isinstance(spec, list):
        names = list(spec)
    else:
        names = [spec]
    for field, allowed in when:
        if field == f"{section}.name":
            names = [n for n in names if n in allowed]
    return [n for n in names if isinstance(n, str)]


def _when(key: str, clause: Any, raw, base: Recipe) -> tuple[tuple[str, tuple], ...]:
    if not isinstance(clause, Mapping) or not clause:
        raise ConfigError(f"{key}.when = {clause!r} — must be a table like when = {{ name = [\"momentum\"] }}")
    out = []
    for field, allowed in clause.items():
        dotted = field if field.split(".")[0] in SECTIONS and "." in field else \
            ".".join(key.split(".")[:-1] + [field])
        if dotted == key:
            raise ConfigError(f"{key}.when names the knob itself")
        values = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not values:
            raise ConfigError(f"{key}.when.{field} = [] — no value would ever activate this knob")
        for param in _params(dotted, raw, base).values():
            values = tuple(param.validate(f"{key}.when.{field}", v) for v in values)
        out.append((dotted, values))
    return tuple(out)


def _knob(key: str, spec: Any, raw, base: Recipe) -> Knob:
    when = ()
    if isinstance(spec, Mapping):
        unknown = set(spec) - FORMS
        if unknown:
            raise ConfigError(f"{key}: unknown keys {sorted(unknown)} in a knob table (allowed: "
                              "low, high, log, step | choices | depth, width | value; and when)")
        if "when" in spec:
            when = _when(key, spec["when"], raw, base)
    params = _params(key, raw, base, when)
    kinds = {p.kind for p in params.values()}
    kind = kinds.pop() if len(kinds) == 1 else str
    listy = kind in (list, tuple)

    def check(value: Any, what: str = "") -> Any:
        for param in params.values():
            value = param.validate(key + what, value)
        return value

    if not isinstance(spec, Mapping):
        if isinstance(spec, list):
            if listy and not all(isinstance(v, list) for v in spec):
                raise ConfigError(f"{key} = {toml_value(spec)} is ambiguous for a list-valued field — write "
                                  f"{{ choices = [[...], [...]] }} to search lists, or {{ value = {toml_value(spec)} }} to fix it")
            return Knob(key, kind, _choices(key, spec, check, listy), when=when)
        return Knob(key, kind, value=check(spec), when=when)
    forms = [f for f in ("choices", "value", "depth") if f in spec] + (["low/high"] if {"low", "high"} & set(spec) else [])
    if len(forms) != 1:
        raise ConfigError(f"{key}: give exactly one of low/high, choices, depth/width or value "
                          f"(got {', '.join(forms) or 'none'})")
    form = forms[0]
    if form == "value":
        return Knob(key, kind, value=check(spec["value"]), when=when)
    if form == "choices":
        if not isinstance(spec["choices"], list):
            raise ConfigError(f"{key}.choices = {spec['choices']!r} — must be an array")
        return Knob(key, kind, _choices(key, spec["choices"], check, listy), when=when)
    if form == "depth":
        if not listy:
            raise ConfigError(f"{key}: depth/width is for list-valued fields (like model.widths); "
                              f"{key} is {next(iter(params.values())).allowed()}")
        items = [p.item or Param(int) for p in params.values()]
        depth = _dist(f"{key}.depth", spec.get("depth"), [Param(int, ge=1)], what="number of layers")
        if "width" not in spec:
            raise ConfigError(f"{key}: the depth form needs width = a range or [choices] for each item")
        width = _dist(f"{key}.width", spec["width"], items, what="item value")
        if depth.grid() is None:
            raise ConfigError(f"{key}.depth must be integers")
        return Knob(key, kind, width, depth=depth, when=when)
    if listy:
        raise ConfigError(f"{key} is a list-valued field: search it with {{ choices = [[...], ...] }} "
                          "or {{ depth = ..., width = ... }}")
    return Knob(key, kind, _range(key, spec, list(params.values())), when=when)


def _params(key: str, raw, base: Recipe, when: tuple = ()) -> dict[str, Param]:
    """The Param(s) of `key`: the registry for a component's ``name``, else the field's Param for
    every entry name the knob can meet."""
    section = key.split(".")[0]
    if not isinstance(SECTIONS[section], Component):
        return field_params(key, base)
    if key == f"{section}.name":
        return {"": Param(str, choices=SECTIONS[section].registry)}
    names = _names_of(section, raw, base, when)
    if not names:
        raise ConfigError(f"{key}: its when clause leaves no {section}.name it could apply to")
    return field_params(key, base, names)


def _choices(key: str, values: list, check, listy: bool) -> Dist:
    if not values:
        raise ConfigError(f"{key} = [] — an empty list of choices; give at least one value")
    checked = [check(v, f"[{i}]") if not listy else check(v) for i, v in enumerate(values)]
    encoded = tuple(encode(v) for v in checked)
    if len(set(map(repr, encoded))) != len(encoded):
        raise ConfigError(f"{key} = {toml_value(values)} — the choices repeat a value")
    return Dist(choices=encoded)


def _dist(key: str, spec: Any, params: list[Param], what: str) -> Dist:
    """A scalar distribution from a range table, a list of choices or a single value."""
    def check(value, suffix=""):
        for p in params:
            value = p.validate(key + suffix, value)
        return value

    if isinstance(spec, list):
        return _choices(key, spec, check, False)
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"low", "high", "log", "step"}
        if unknown:
            raise ConfigError(f"{key}: unknown keys {sorted(unknown)} (allowed: low, high, log, step)")
        return _range(key, spec, params)
    if spec is None:
        raise ConfigError(f"{key} is required — the {what}: a range {{ low, high }}, [choices] or a value")
    return Dist(choices=(check(spec),))


def _range(key: str, spec: Mapping[str, Any], params: list[Param]) -> Dist:
    kinds = {p.kind for p in params}
    if not kinds <= {int, float} or any(p.choices is not None for p in params):
        raise ConfigError(f"{key}: a range {{ low, high }} needs a numeric field; {key} is "
                          f"{params[0].allowed()} — list the choices instead")
    for bound in ("low", "high"):
        if bound not in spec:
            raise ConfigError(f"{key}: a range needs both low and high (missing {bound})")
    integer = kinds == {int}
    low, high = spec["low"], spec["high"]
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and isinstance(v, float)
                                                                      and not v.is_integer()):
            raise ConfigError(f"{key}.{name} = {v!r} — must be {'an integer' if integer else 'a number'}")
        for p in params:
            p.validate(f"{key}.{name}", v)
    if not low < high:
        raise ConfigError(f"{key}: low = {low} and high = {high} — an empty range; need low < high "
                          "(for a single value write it directly)")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{key}.log = {log!r} — must be true or false")
    if log and low <= 0:
        raise ConfigError(f"{key}: log = true needs low > 0 (got low = {low})")
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 or step > high - low \
                or (integer and not float(step).is_integer()):
            raise ConfigError(f"{key}.step = {step!r} — must be {'an integer' if integer else 'a number'} "
                              f"in (0, high − low = {high - low}]")
        if log:
            raise ConfigError(f"{key}: step and log = true cannot be combined (Optuna samples one or the other)")
    return Dist(low=float(low) if not integer else int(low), high=float(high) if not integer else int(high),
                log=log, step=step, integer=integer)
