"""Declarative parameter specs: one `Param` per field, validated into clear `ConfigError`s.

A spec is a ``dict[str, Param]``. `validate_fields` checks a mapping of user values against it,
fills in defaults and returns the resolved mapping — the same code serves recipe sections, registry
entries (optimizer hyperparameters, model options, ...) and HPO search spaces.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .errors import ConfigError
from .torch_names import hint as torch_hint

REQUIRED = object()
_KINDS = (float, int, bool, str, list, tuple, dict)


def suggest(word: str, allowed: Iterable[str]) -> str:
    """' — did you mean 'x'?' for the allowed word that contains `word` ('mnist' → 'fashion_mnist'),
    else the closest by spelling (fewest typos: 'adma' → 'adam', not 'adamax'); '' if none is close."""
    word, allowed = str(word).lower(), [str(a) for a in allowed]
    within = sorted((a for a in allowed if len(word) >= 3 and word in a.lower()),
                    key=lambda a: abs(len(a) - len(word)))
    close = within or sorted(difflib.get_close_matches(word, allowed, n=5, cutoff=0.6),
                             key=lambda a: typos(word, a.lower()))
    return f" — did you mean {close[0]!r}?" if close else ""


def typos(a: str, b: str) -> int:
    """Edits between a and b: insertions, deletions, substitutions and swaps of neighbours."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i]
        for j in range(1, len(b) + 1):
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a[i - 1] != b[j - 1])))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def unknown_name_error(field: str, value: Any, allowed: Iterable[str], what: str = "one of") -> ConfigError:
    allowed = sorted(allowed)
    return ConfigError(f"{field} = {value!r} — must be {what} {', '.join(map(repr, allowed))}"
                       f"{suggest(value, allowed)}", field=field)


@dataclass(frozen=True)
class Param:
    """One field: its kind, default, bounds and allowed values.

    kind      float | int | bool | str | list | tuple | dict (a nested spec given as `fields`)
    ge/gt/le/lt  numeric bounds (for list/tuple, they apply to each item via `item`)
    choices   allowed values: a collection, or an object with ``names()`` (a Registry)
    item      the Param of each element of a list or tuple; `length` fixes a tuple's length
    nullable  None (written "none" in TOML) is also allowed
    finite    a float must be finite (inf is refused unless False; NaN always is)
    aliases   other names the field is accepted under (torch's, e.g. "gamma" for "rate")
    external  the value names something outside the recipe — a file, a directory or Python code to
              import — so a service that takes recipes from others (`nnopt serve`) refuses it
    """

    kind: type = float
    default: Any = REQUIRED
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: Any = None
    item: "Param | None" = None
    length: int | None = None
    fields: Mapping[str, "Param"] | None = None
    nullable: bool = False
    finite: bool = True
    aliases: tuple[str, ...] = ()
    external: bool = False
    doc: str = ""

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise TypeError(f"Param kind must be one of {_KINDS}, got {self.kind!r}")

    # -- description -------------------------------------------------------------------------
    def allowed(self) -> str:
        """Human text for what this field accepts, used in error messages and `nnopt list`."""
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self._choice_names()))
        text = {float: "a number", int: "an integer", bool: "true or false", str: "a string",
                list: "a list", tuple: f"a list of {self.length} items", dict: "a table"}[self.kind]
        bounds = self._bounds_text()
        if bounds:
            text += " " + bounds
        if self.kind in (list, tuple) and self.item is not None:
            text += f" of {self.item.allowed()}"
        if self.nullable:
            text += ' (or "none")'
        return text

    def _bounds_text(self) -> str:
        lo = f"[{_fmt(self.ge)}" if self.ge is not None else (f"({_fmt(self.gt)}" if self.gt is not None else None)
        hi = f"{_fmt(self.le)}]" if self.le is not None else (f"{_fmt(self.lt)})" if self.lt is not None else None)
        if lo and hi:
            return f"in {lo}, {hi}"
        if lo:
            return (">= " if lo[0] == "[" else "> ") + lo[1:]
        if hi:
            return ("<= " if hi[-1] == "]" else "< ") + hi[:-1]
        return ""

    def _choice_names(self) -> list:
        names = self.choices.names() if hasattr(self.choices, "names") else self.choices
        return list(names)

    # -- validation --------------------------------------------------------------------------
    def validate(self, field: str, value: Any) -> Any:
        """Return `value` coerced to this kind, or raise ConfigError naming `field`."""
        original = value
        if value is None or (self.nullable and value == "none"):
            if self.nullable:
                return None
            raise self._error(field, value)
        if self.choices is not None:
            names = self._choice_names()
            if isinstance(value, bool) or value not in names:
                raise unknown_name_error(field, value, [str(n) for n in names])
            return value
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self._error(field, value)
            value = float(value)
            if math.isnan(value) or (self.finite and math.isinf(value)):
                what = "a finite number" if self.finite else "a number (not nan)"
                raise ConfigError(f"{field} = {_show(value)} — must be {what} {self._bounds_text()}".rstrip(),
                                  field=field)
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise self._error(field, value)

        elif self.kind is bool:
            if not isinstance(value, bool):
                raise self._error(field, value)
        elif self.kind is str:
            if not isinstance(value, str):
                raise self._error(field, value)
        elif self.kind in (list, tuple):
            if not isinstance(value, (list, tuple)):
                raise self._error(field, value)
            if self.length is not None and len(value) != self.length:
                raise ConfigError(f"{field} = {_show(value)} — must have exactly {self.length} items", field=field)
            if self.item is not None:
                value = [self.item.validate(f"{field}[{i}]", v) for i, v in enumerate(value)]
            return tuple(value) if self.kind is tuple else list(value)
        elif self.kind is dict:
            if not isinstance(value, Mapping):
                raise self._error(field, value)
            return validate_fields(field, self.fields or {}, value)
        self._check_bounds(field, value, original)
        return value

    def _check_bounds(self, field: str, value, original) -> None:
        if self.kind not in (int, float):
            return
        ok = ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
              and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))
        if not ok:
            raise ConfigError(f"{field} = {_show(original)} — must be {self._bounds_text()}", field=field)
        if self.kind is int and not -2**63 <= value < 2**63:
            raise ConfigError(f"{field} = {_show(original)} — must be an integer that fits in 64 bits", field=field)

    def _error(self, field: str, value: Any) -> ConfigError:
        return ConfigError(f"{field} = {_show(value)} — must be {self.allowed()}", field=field)


def _fmt(x: float) -> str:
    return repr(x) if not float(x).is_integer() else str(int(x)) if abs(x) < 1e15 else repr(x)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def validate_fields(prefix: str, spec: Mapping[str, Param], values: Mapping[str, Any],
                    *, entry: tuple[str, str] | None = None) -> dict:
    """Check `values` against `spec`: no unknown keys, every value valid, defaults filled in.

    Returns a new dict in the spec's order. Errors name the field as ``prefix.key``; `entry` =
    (family, name) when `spec` is a registered entry's.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix} = {_show(values)} — must be a table of {', '.join(spec) or 'no keys'}",
                          field=prefix or None)
    values = _canonical_keys(prefix, spec, values)
    out = {}
    for key in values:
        if key not in spec:
            raise ConfigError(unknown_field(_join(prefix, key), key, spec, entry, values), field=_join(prefix, key))
    for key, param in spec.items():
        name = _join(prefix, key)
        if key in values:
            out[key] = param.validate(name, values[key])
        elif param.default is REQUIRED:
            raise ConfigError(f"{name} is required — {param.allowed()}", field=name)
        elif param.kind is dict:
            out[key] = validate_fields(name, param.fields or {}, param.default or {})
        else:
            out[key] = _copy(param.default)
    return out


def unknown_field(field: str, key: str, fields: Iterable[str], entry: tuple[str, str] | None = None,
                  values: Mapping[str, Any] | None = None) -> str:
    """The message for `key`, not a field of `fields`: torch's name for something of the entry
    (`nnopt.torch_names`, with the converted value where `values` give it), else the allowed fields
    and a did-you-mean."""
    fields = list(fields)
    torch_name = entry and torch_hint(field, *entry, key, values)
    if torch_name:
        return torch_name
    owner = f" of {entry[0]} {entry[1]!r}" if entry else ""
    return (f"{field} is not a known field{owner} (allowed: {', '.join(fields) if fields else 'none'})"
            f"{suggest(key, fields)}")


def field_of(spec: Mapping[str, Param], key: str) -> str | None:
    """The field `key` names in `spec` (itself or the field it is an alias of); None if neither."""
    if key in spec:
        return key
    return next((name for name, p in spec.items() if key in p.aliases), None)


def _canonical_keys(prefix: str, spec: Mapping[str, Param], values: Mapping[str, Any]) -> Mapping[str, Any]:
    """`values` with each alias key (``Param.aliases``) renamed to its field; both given is an error."""
    aliases = {a: key for key, p in spec.items() for a in p.aliases}
    if not any(k in aliases and k not in spec for k in values):
        return values
    out, given = {}, {}
    for key, value in values.items():
        name = aliases.get(key, key) if key not in spec else key
        if name in out:
            raise ConfigError(f"{_join(prefix, given[name])} and {_join(prefix, key)} name the same field "
                              f"({name}) — give one", field=_join(prefix, key))
        out[name], given[name] = value, key
    return out


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _copy(value):
    return list(value) if isinstance(value, list) else value


def spec_from_signature(fn: Callable, overrides: Mapping[str, Param] | None = None,
                        skip: int = 0) -> dict[str, Param]:
    """Build a spec from `fn`'s keyword parameters (their defaults give kinds), then apply overrides.

    The first `skip` positional parameters (e.g. ``params`` of an optimizer) are supplied by the
    caller, not the user, and are left out.
    """
    import inspect

    spec: dict[str, Param] = {}
    sig = inspect.signature(fn)
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i < skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = REQUIRED if p.default is p.empty else p.default
        kind = _kind_of(default, p.annotation)
        spec[name] = Param(kind, default, length=len(default) if isinstance(default, tuple) else None,
                           nullable=default is None)
    for name, param in (overrides or {}).items():
        spec[name] = param
    return spec


def _kind_of(default, annotation) -> type:
    if default is not REQUIRED and default is not None:
        return type(default) if type(default) in _KINDS else str
    ann = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    for kind in (bool, int, float, str, list, tuple, dict):
        if kind.__name__ in str(ann):
            return kind
    return str


def describe_spec(spec: Mapping[str, Param]) -> list[str]:
    """One line per field: ``name = default  (allowed)  doc  [also: alias, ...]``."""
    lines = []
    for key, p in spec.items():
        default = "required" if p.default is REQUIRED else _show(p.default)
        doc = f"  {p.doc}" if p.doc else ""
        also = f"  [also: {', '.join(p.aliases)}]" if p.aliases else ""
        lines.append(f"{key} = {default}  ({p.allowed()}){doc}{also}")
    return lines


__all__ = ["Param", "REQUIRED", "validate_fields", "unknown_field", "field_of", "spec_from_signature",
           "describe_spec", "suggest", "unknown_name_error"]
