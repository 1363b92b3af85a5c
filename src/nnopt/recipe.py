"""The Recipe: a typed, validated description of a whole run.

A recipe is TOML with one table per section. Component sections (data, model, optimizer, schedule,
clip, init, preprocess, penalty, augment) hold a registered ``name`` plus that entry's parameters; fixed
sections (regularization, train) have their own fields. Everything is validated up front, defaults
are filled in, and the resolved recipe written into a run directory reproduces the run.

    recipe = Recipe.load("recipe.toml").override(["optimizer.name=nesterov", "train.epochs=5"])
    recipe.optimizer["lr"], recipe.train["epochs"]
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

from ._compat import tomllib
from .errors import ConfigError
from .loggers import LOGGERS
from .params import Param, REQUIRED, suggest, validate_fields
from .schedules.batch_size import PARAMS as BATCH_SIZE_PARAMS
from .registry import (AUGMENTATIONS, CLIPPING, DATASETS, INITS, LOSSES, MODELS, OPTIMIZERS, PENALTIES,
                       PREPROCESSORS, SCHEDULES, Registry)
from .tasks import DEFAULT_LOSS, DEFAULT_MONITOR, METRICS
from .regularize import SELECTIONS


@dataclass(frozen=True)
class Component:
    """A section naming a registered technique: ``name`` plus the entry's parameters (+ extras)."""

    registry: Registry
    default: str
    extra: Mapping[str, Param] | None = None
    run_owned: tuple[str, ...] = ()  # entry parameters the run sets itself (not recipe fields)
    auto: str = ""  # when set, name = "auto" is allowed too (no parameters): the run picks the entry
    defaults: Mapping[str, Any] | None = None  # entry parameters whose recipe default is not the library's

    def names(self) -> list[str]:
        """The names the section's ``name`` accepts."""
        return (["auto"] if self.auto else []) + self.registry.names()

    def spec(self, name: str, values: Mapping[str, Any] | None = None) -> dict[str, Param]:
        params = {} if self.auto and name == "auto" else \
            {k: replace(v, default=(self.defaults or {}).get(k, v.default))
             for k, v in self.registry.spec(name, values).items() if k not in self.run_owned}
        return {"name": Param(str, self.default, choices=self, doc=self.auto), **(self.extra or {}), **params}


MONITORS = tuple(m for m in METRICS if not m.startswith("test_"))  # what a run can be judged by
EARLY_STOPPING = {
    "patience": Param(int, None, ge=1, nullable=True,
                      doc="epochs without improvement before stopping; none = off"),
    "monitor": Param(str, "auto", choices=("auto", *MONITORS),
                     doc="auto: train.monitor; a metric the run's task reports"),
    "mode": Param(str, "auto", choices=("auto", "min", "max"),
                  doc="auto: the metric's own direction (max for acc/top5/r2, min for loss/rmse/mae)"),
    "min_delta": Param(float, 0.0, ge=0, doc="smaller changes do not count as improvement"),
    "baseline": Param(float, None, nullable=True, doc="stop if the monitor does not beat this"),
    "start_from_epoch": Param(int, 0, ge=0, doc="epochs before improvement is tracked"),
    "restore_best_weights": Param(bool, False),
}

# settings that left their section: old dotted key → (new home, the old default); "{v}" is the value
ELASTIC = 'L1 and L2 together: name = "elastic_net", l1_coef = …, l2_coef = …'
MOVED = {
    "regularization.l1": (f'[penalty] name = "l1", coef = {{v}} ({ELASTIC})', 0.0),
    "regularization.l2": (f'[penalty] name = "l2", coef = {{v}} ({ELASTIC})', 0.0),
    "regularization.l1_smooth": ('[penalty] name = "l1", smooth = {v} (elastic_net: l1_smooth = {v})', 0.0),
    "regularization.penalize": ("[penalty] on = {v}", "weights"),
}

PRECISIONS = ("fp32", "bf16", "fp16")
SEED_MAX = 2**32 - 1

SECTIONS: dict[str, Component | dict[str, Param]] = {
    "data": Component(DATASETS, "digits"),
    "model": Component(MODELS, "mlp"),
    # label smoothing is [regularization]'s (in the book's or torch's convention): the run sets it
    "loss": Component(LOSSES, "auto", run_owned=("label_smoothing",),
                      auto=" or ".join(f"{v} for {k}" for k, v in DEFAULT_LOSS.items())),
    # the run's NaN/inf screen is train.nonfinite: the Trainer owns it and builds the optimizer without one
    # a recipe splits off 1-D params (biases, norm gains) without weight decay; the library keeps torch's groups
    "optimizer": Component(OPTIMIZERS, "adam", run_owned=("nonfinite",), defaults={"no_decay_1d": True}),
    "schedule": Component(SCHEDULES, "constant", {
        "interval": Param(str, "step", choices=("step", "epoch"),
                          doc="t of the schedule counts optimizer steps or epochs")}),
    "clip": Component(CLIPPING, "none"),
    "init": Component(INITS, "default", {
        "data_dependent": Param(bool, False, doc="weight-normed layers (model.norm = \"weight\"): g, b set from one "
                                                 "training batch so each pre-activation starts at mean 0, std 1 "
                                                 "(Salimans & Kingma 2016 §3)")}),
    "preprocess": Component(PREPROCESSORS, "none"),
    "penalty": Component(PENALTIES, "none", {
        "on": Param(str, "weights", choices=SELECTIONS,
                    doc="the parameters the penalty sees: weights (matrices and kernels outside norm "
                        "layers), weights_and_biases (everything outside norm layers), all")}),
    "regularization": {
        "dropout": Param(float, 0.0, ge=0, lt=1, doc="drop probability after each hidden layer"),
        "variational_dropout": Param(float, 0.0, ge=0, lt=1,
                                     doc='one mask per sequence on x_t, h_{t-1}, h_t; needs model.name = "rnn_loop"'),
        "label_smoothing": Param(float, 0.0, ge=0, lt=1, doc="ε, the probability mass moved off the true class"),
        "label_smoothing_convention": Param(str, "book", choices=("book", "torch"),
                                            doc="book: 1−ε and ε/(K−1); torch: the ε/K mixture"),
        "early_stopping": Param(dict, {}, fields=EARLY_STOPPING),
    },
    "augment": Component(AUGMENTATIONS, "none"),
    "train": {
        "epochs": Param(int, 30, ge=1),
        "batch_size": Param(int, 32, ge=1, doc="the (initial) mini-batch size B0"),
        **BATCH_SIZE_PARAMS,
        "seed": Param(int, 0, ge=0, le=SEED_MAX, doc="seeds torch and numpy (both accept 0 … 2³²−1)"),
        "device": Param(str, "auto", choices=("auto", "cpu", "cuda"),
                        doc="auto picks CUDA when present"),
        "threads": Param(int, 0, ge=0, le=1024, doc="torch intra-op threads; 0 = torch's default"),
        "precision": Param(str, "fp32", choices=PRECISIONS,
                           doc="autocast dtype of the forward pass; fp16 adds a GradScaler (gradients "
                               "are unscaled before clipping and the step)"),
        "eval_batch_size": Param(int, 1024, ge=1),
        "monitor": Param(str, "auto", choices=("auto", *MONITORS),
                         doc="the metric the run is judged by (summary best_*, early stopping, compare, "
                             "tune); auto: " + ", ".join(f"{v} for {k}" for k, v in DEFAULT_MONITOR.items())),
        "log_every": Param(int, 10, ge=1, doc="every N steps: take the gradient norm and write a step "
                                             "line (loss, grad norm, lr) to metrics.jsonl"),
        "nonfinite": Param(str, "raise", choices=("raise", "skip"),
                           doc="a NaN/inf loss or gradient: raise stops the run (every loss and each "
                               "logged gradient norm checked at the device reads, every 50 steps, naming "
                               "the step and parameter); skip drops the step's update (reads every step)"),
        "checkpoint": Param(bool, True, doc="save a checkpoint at every epoch end"),
        "loggers": Param(list, [], item=Param(str, choices=tuple(LOGGERS)),
                         doc="where else metrics.jsonl's lines go: tensorboard (RUN/tensorboard event files)"),
        "log_layers": Param(bool, False, doc="write layers.jsonl: per-layer gradient/parameter/update norms at "
                                            "log points and dead ReLU units per epoch (for nnopt doctor)"),
    },
}


class Recipe:
    """A validated recipe. ``recipe.raw`` is what the user wrote; ``recipe.<section>`` the resolved
    section (a dict with every default filled in)."""

    def __init__(self, raw: Mapping[str, Any] | None = None):
        self.raw = copy.deepcopy(dict(raw or {}))
        self.resolved = resolve(self.raw)

    # -- loading and saving ------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Recipe":
        what = f"recipe {str(path)!r}"
        return cls(loads_toml(read_text(path, what), what))

    def to_toml(self) -> str:
        return dump_toml(self.resolved)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml())

    # -- access ------------------------------------------------------------------------------
    def __getattr__(self, section: str) -> dict:
        if section in SECTIONS:
            return self.resolved[section]
        raise AttributeError(section)

    def params(self, section: str) -> dict:
        """A component section's parameters without ``name`` and the section's extra keys."""
        spec = SECTIONS[section]
        skip = {"name", *(spec.extra or {})}
        return {k: v for k, v in self.resolved[section].items() if k not in skip}

    def get(self, dotted: str) -> Any:
        node: Any = self.resolved
        for part in dotted.split("."):
            node = node[part]
        return node

    # -- overrides ---------------------------------------------------------------------------
    def override(self, assignments: Iterable[str] | Mapping[str, Any]) -> "Recipe":
        """A new recipe with ``section.key=value`` assignments applied (values parsed as TOML)."""
        pairs = assignments.items() if isinstance(assignments, Mapping) else map(parse_assignment, assignments)
        raw = copy.deepcopy(self.raw)
        for dotted, value in pairs:
            set_path(raw, dotted, value)
        return Recipe(raw)

    def __eq__(self, other) -> bool:
        return isinstance(other, Recipe) and self.resolved == other.resolved

    def __repr__(self) -> str:
        return f"Recipe({self.resolved!r})"


def resolve(raw: Mapping[str, Any]) -> dict:
    """Validate a raw recipe mapping into the full resolved form."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"recipe must be a table of sections, got {type(raw).__name__}")
    for section in raw:
        if section not in SECTIONS:
            raise ConfigError(f"[{section}] is not a recipe section (allowed: {', '.join(SECTIONS)})"
                              f"{home_hint(section) or suggest(section, SECTIONS)}")
    out = {}
    for section, spec in SECTIONS.items():
        values = raw.get(section, {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section} = {values!r} — must be a table [{section}]")
        for key, value in values.items():
            check_moved(f"{section}.{key}", value)
        if isinstance(spec, Component):
            name = values.get("name", spec.default)
            Param(str, choices=spec).validate(f"{section}.name", name)
            out[section] = validate_fields(section, spec.spec(name, values), values,
                                           entry=(spec.registry.family, name))
            if name in spec.registry:
                spec.registry.check(name, out[section], section)
        else:
            out[section] = validate_fields(section, spec, values)
    return out


def check_moved(dotted: str, value: Any) -> None:
    """ConfigError saying where a setting went when `dotted` is one that moved (see MOVED)."""
    if dotted not in MOVED:
        return
    where, old_default = MOVED[dotted]
    scalar = isinstance(value, (bool, int, float, str))
    shown = toml_value(value) if scalar else "…"
    unused = f" — or delete the line: {shown} was the default" if scalar and value == old_default \
        else ""
    raise ConfigError(f"{dotted} = {shown} — this setting moved: write {where.format(v=shown)}{unused}")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"optimizer.lr=1e-3"`` → ``("optimizer.lr", 0.001)``; values are TOML, bare words strings."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r} — must look like section.key=value")
    key, value = text.split("=", 1)
    key = key.strip()
    if "." not in key:
        raise ConfigError(f"--set {text!r} — the key must be section.key (e.g. optimizer.lr){home_hint(key)}")
    return key, parse_value(value.strip())


def parse_value(text: str) -> Any:
    """A TOML value (``0.1``, ``true``, ``[64, 64]``, ``"adam"``); anything else is a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError(f"value {text[:40]!r}… — nested too deeply") from None
    except ValueError:  # an integer past Python's int-string limit (4,300 digits)
        raise ConfigError(f"value {text[:40]!r}… — an integer too long to read (more than 4,300 digits)") from None


def read_text(path: str | Path, what: str) -> str:
    """A UTF-8 text file's contents; ConfigError naming `what` when it is missing, a directory,
    unreadable or not text."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} is a directory — must be a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} is not UTF-8 text (byte {exc.start}) — must be a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read: {exc.strerror or exc}") from None


def loads_toml(text: str, what: str) -> dict:
    """Parse TOML; ConfigError naming `what` when it is not valid TOML or nested too deeply."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{what} nests arrays or tables too deeply to read") from None
    except ValueError:  # an integer past Python's int-string limit (4,300 digits)
        raise ConfigError(f"{what} holds an integer too long to read (more than 4,300 digits)") from None


def home_hint(key: str) -> str:
    """' — key belongs to [train]: write train.key' when `key` is a field of some section(s)."""
    homes = [section for section, spec in SECTIONS.items()
             if key in (spec if isinstance(spec, dict) else {**(spec.extra or {}), **_entry_fields(spec)})]
    if not homes:
        return ""
    return f" — {key} is a field of {' and '.join(f'[{h}]' for h in homes)}: write it there ({homes[0]}.{key})"


def _entry_fields(component: Component) -> dict:
    return {k: p for entry in component.registry for k, p in entry.params.items()
            if k not in component.run_owned}


def printable(name: str) -> str:
    """A field name as an error shows it: as typed, or quoted with escapes when it holds a newline or
    another unprintable character (an error is one line)."""
    return name if name.isprintable() else repr(name)


def set_path(raw: dict, dotted: str, value: Any) -> None:
    """Assign ``raw[a][b][c] = value`` for ``a.b.c``. Changing a component's ``name`` drops the old
    entry's parameters that still hold their defaults, so a variant never inherits them."""
    parts = dotted.split(".")
    if parts[0] not in SECTIONS:
        raise ConfigError(f"{printable(dotted)}: [{printable(parts[0])}] is not a recipe section "
                          f"(allowed: {', '.join(SECTIONS)}){suggest(parts[0], SECTIONS)}")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{printable(dotted)}: {printable(part)} is not a table")
        node = child
    spec = SECTIONS[parts[0]]
    if len(parts) == 2 and parts[1] == "name" and isinstance(spec, Component):
        _drop_stale_defaults(node, spec, value)
    node[parts[-1]] = value


def _drop_stale_defaults(section: dict, spec: Component, new_name: Any) -> None:
    old_name = section.get("name", spec.default)
    if not (isinstance(old_name, str) and isinstance(new_name, str)) or old_name == new_name \
            or old_name not in spec.registry or new_name not in spec.registry:
        return
    old, new = spec.registry.get(old_name).params, spec.registry.get(new_name).params
    for key in list(section):
        if key in old and key not in new and old[key].default is not REQUIRED and \
                _same(section[key], old[key].default):
            del section[key]


def _same(a, b) -> bool:
    norm = lambda v: list(v) if isinstance(v, (list, tuple)) else v  # noqa: E731
    return norm(a) == norm(b)


def dump_toml(resolved: Mapping[str, Mapping[str, Any]]) -> str:
    """Write a resolved recipe as TOML (None as "none", tuples as arrays, sub-tables as tables)."""
    lines: list[str] = []

    def table(path: str, values: Mapping[str, Any]) -> None:
        lines.append(f"[{path}]")
        nested = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        for key, value in values.items():
            if key not in nested:
                lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
        for key, value in nested.items():
            table(f"{path}.{key}", value)

    for section, values in resolved.items():
        table(section, values)
    return "\n".join(lines)


def toml_value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return {"inf": "inf", "-inf": "-inf"}.get(text, text)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")
