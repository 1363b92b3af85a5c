"""The playground's forms, generated from the parameter specs, and form values back into a Recipe.

The page renders one input per field of `schema()`; it sends the values as the text typed
(``{"optimizer.lr": "0.05", "model.widths": "[16, 16]"}``), read as TOML values like ``--set``.
A bad value is the Recipe's own ConfigError; `FormError` says which form field it is about, so the
page can show the message next to that input.

The server builds only what the playground offers: no field may name a file, a directory or code
to import (a Param marked ``external``: ``init.path``, ``data.path``, ``model.factory``, ...), and
no entry whose parameters need one or come from running code (``spec_of``) is offered; such a
request is refused before anything is validated, loaded or imported.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

from ..errors import ConfigError
from ..optim.define import OPTIONS
from ..params import REQUIRED, Param
from ..recipe import SECTIONS, Component, Recipe, parse_value, set_path
from ..registry import DATASETS

# Data sets the playground trains on: the 2-D ones (registered with points_2d=True) get a
# decision-boundary view.
DATASETS_2D = tuple(entry.name for entry in DATASETS if entry.meta.get("points_2d"))
PLAY_DATASETS = (*DATASETS_2D, "digits")

# The recipe the train view opens with: a small MLP on moons that learns in a few seconds.
DEFAULTS = {
    "data": {"name": "moons", "n_samples": 500, "noise": 0.2},
    "model": {"name": "mlp", "widths": [16, 16], "activation": "tanh"},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "schedule": {"name": "cosine", "warmup_steps": 20},
    "train": {"epochs": 200, "batch_size": 32, "threads": 1, "checkpoint": False, "log_every": 10},
}

MAX_FIELDS = 500  # more form values than any recipe has: refused before parsing
MAX_TEXT = 2000  # characters of one form value
MAX_THREADS = os.cpu_count() or 1  # train.threads of one run (torch's setting is process-wide)


class FormError(ConfigError):
    """A ConfigError about the form field `field` (None when no single field is at fault)."""


def offered(registry, name: Any) -> bool:
    """Whether the playground offers entry `name`: its parameters are fixed (no ``spec_of``, which
    may import code to find them) and none that names a file or code is required."""
    if not isinstance(name, str) or name not in registry.names():
        return True  # not an entry: validation refuses it with the registry's own message
    entry = registry.get(name)
    if getattr(entry, "meta", {}).get("spec_of"):
        return False
    return not any(p.external and p.default is REQUIRED for p in entry.params.values())


def external_fields(params: Mapping[str, Param]) -> set[str]:
    """The names (and aliases) under which a spec's fields name a file, directory or code."""
    return {n for k, p in params.items() if p.external for n in (k, *p.aliases)}


def refuse_external(section: str, name: Any, registry, given: Mapping) -> None:
    """FormError when `given` (one section's values) picks an entry not offered or sets a field
    that names a file or code — before the entry's spec is resolved (which could import it)."""
    if registry is not None and not offered(registry, name):
        raise FormError(f"{section}.name = {name!r} — reads a file or runs code the recipe names; the "
                        "playground does not offer it (use nnopt run)", f"{section}.name")
    params = registry.get(name).params if registry is not None and isinstance(name, str) \
        and name in registry.names() else {}
    for key in external_fields(params) & set(given):
        raise FormError(f"{section}.{key} — names a file or code; the playground never reads or imports "
                        "what a request names (use nnopt run)", f"{section}.{key}")


def text(value: Any) -> str:
    """A value as the form shows it: TOML-like (none, true, [16, 16], 0.001), strings bare."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(text(v) if not isinstance(v, str) else f'"{v}"' for v in value) + "]"
    return str(value)


def param_json(param: Param, advanced: bool = False) -> dict:
    """One field for the page: kind, default (as form text), choices, allowed range, doc; `advanced`
    fields (an optimizer's implementation options) are folded away."""
    out = {"kind": param.kind.__name__, "allowed": param.allowed(), "doc": param.doc, "advanced": advanced,
           "default": None if param.default is REQUIRED else text(param.default)}
    if param.choices is not None:
        out["choices"] = ["none"] * param.nullable + [str(c) for c in param._choice_names()]
    if param.kind is dict:
        out["fields"] = {k: param_json(p) for k, p in (param.fields or {}).items()}
    return out


def schema() -> dict:
    """Every recipe section: components with each registered entry's fields, fixed sections' fields,
    and the playground's default recipe as form text."""
    sections = []
    for name, spec in SECTIONS.items():
        if isinstance(spec, Component):
            names = [n for n in spec.names() if (name != "data" or n in PLAY_DATASETS)
                     and offered(spec.registry, n)]
            entries = {n: {"description": spec.registry.get(n).description if n in spec.registry.names()
                           else f"picked by the run: {spec.auto}",  # name = "auto"
                           "fields": {k: param_json(p, advanced=name == "optimizer" and k in OPTIONS)
                                      for k, p in spec.spec(n).items() if k != "name" and not p.external}}
                       for n in names}
            sections.append({"name": name, "component": True, "choices": names, "entries": entries,
                             "extra": list(spec.extra or {})})
        else:
            sections.append({"name": name, "component": False,
                             "fields": {k: param_json(p) for k, p in spec.items()}})
    return {"sections": sections, "defaults": form_values(Recipe(DEFAULTS)), "datasets_2d": list(DATASETS_2D)}


def form_values(recipe: Recipe) -> dict[str, str]:
    """The resolved recipe as flat ``section.field[.sub]`` → text, the page's form state."""
    out = {}
    for section, values in recipe.resolved.items():
        for key, value in values.items():
            if isinstance(value, dict):
                out.update({f"{section}.{key}.{k}": text(v) for k, v in value.items()})
            else:
                out[f"{section}.{key}"] = text(value)
    return out


def form_field(exc: ConfigError, fields) -> str | None:
    """The form field an error is about: its `field` without an item index ("model.widths[1]" →
    model.widths); for a factory's error, which names only its section, the field its message names."""
    field = re.sub(r"(\[\d+\])+$", "", exc.field or "")
    if field in fields:
        return field
    return field_of(str(exc), fields)


def field_of(message: str, fields) -> str | None:
    """The longest field name that `message` starts with (followed by a space, [ or :); a factory's
    error, "schedule (cosine): warmup_steps = 40 — ...", names schedule.warmup_steps."""
    factory = re.match(r"(\w+) \([^)]*\): (.*)", message)
    if factory:
        message = f"{factory[1]}.{factory[2]}"
    hits = [f for f in fields if message.startswith(f) and message[len(f):len(f) + 1] in (" ", "[", ":", "")]
    return max(hits, key=len, default=None)


def recipe_from_form(values: Mapping[str, Any]) -> Recipe:
    """A validated Recipe from form values (dotted key → typed text); FormError names the field."""
    if not isinstance(values, Mapping):
        raise FormError(f"form = {type(values).__name__} — must be a table of field → value")
    if len(values) > MAX_FIELDS:
        raise FormError(f"form has {len(values)} fields — at most {MAX_FIELDS}")
    raw: dict = {}
    # names first, so a component's fields land on the entry the form shows
    for key, value in sorted(values.items(), key=lambda kv: not str(kv[0]).endswith(".name")):
        if not isinstance(key, str) or not isinstance(value, str) or len(value) > MAX_TEXT:
            raise FormError(f"{str(key)[:80]} = {str(value)[:80]!r} — must be text of at most {MAX_TEXT} "
                            "characters", str(key)[:200])
        if key.count(".") > MAX_DEPTH:
            raise FormError(f"{key[:80]}… — not a recipe field ({key.count('.') + 1} levels deep)", None)
        try:
            set_path(raw, key, read_value(key, value))
        except ConfigError as exc:
            raise FormError(str(exc), key) from None
    for section, spec in SECTIONS.items():
        given = raw.get(section, {})
        if isinstance(given, Mapping):
            registry = spec.registry if isinstance(spec, Component) else None
            refuse_external(section, given.get("name", getattr(spec, "default", None)), registry, given)
            if registry is None:
                for key in external_fields(spec) & set(given):
                    raise FormError(f"{section}.{key} — names a file or code; the playground never reads "
                                    "it", f"{section}.{key}")
    section = raw.get("data", {})
    data = section.get("name", "digits") if isinstance(section, dict) else None
    if data not in PLAY_DATASETS:
        raise FormError(f"data.name = {data!r} — the playground trains on {', '.join(map(repr, PLAY_DATASETS))}",
                        "data.name")
    try:
        recipe = Recipe(raw)
    except ConfigError as exc:
        raise FormError(str(exc), form_field(exc, values)) from None
    if recipe.train["threads"] > MAX_THREADS:
        raise FormError(f"train.threads = {recipe.train['threads']} — the playground allows at most "
                        f"{MAX_THREADS} (this machine's cores; 0 = torch's default)", "train.threads")
    return recipe


MAX_DEPTH = 8  # dots in a form key: far more than any field has (the recipe refuses unknown ones)


def read_value(key: str, text: str) -> Any:
    """A form value's text read as TOML (as --set reads it); FormError naming `key` for a number
    Python will not convert (4,300+ digits)."""
    try:
        return parse_value(text.strip())
    except ConfigError as exc:  # nested too deeply, too many digits: about this field
        raise FormError(str(exc), key) from None
    except ValueError:
        raise FormError(f"{key} = {text[:20]}… ({len(text)} characters) — not a number nnopt can use", key) \
            from None
