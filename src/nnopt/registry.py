"""Registries: every technique is registered under a name in its family.

The recipe, the CLI (``--set optimizer.name=nesterov``), HPO search spaces and ``nnopt list`` all
address techniques through these names, so adding a technique is one registration.

    @OPTIMIZERS.register("adam", params={"lr": Param(float, 1e-3, ge=0)})
    def adam(params, lr=1e-3, ...): ...

    OPTIMIZERS.create("adam", model.parameters(), lr=0.01, field="optimizer")
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Any, Callable, Mapping

from .errors import ConfigError
from .params import Param, spec_from_signature, unknown_name_error, validate_fields


@dataclass
class Entry:
    """A registered technique: its factory, one-line description, parameter spec and metadata."""

    name: str
    factory: Callable
    description: str
    params: dict[str, Param]
    meta: dict[str, Any] = dc_field(default_factory=dict)


class Registry:
    """Name → Entry for one family of techniques (optimizers, schedules, datasets, ...)."""

    def __init__(self, family: str, description: str):
        self.family = family
        self.description = description
        self._entries: dict[str, Entry] = {}
        # what every entry of the family gets: (factory, params) -> (factory, params), e.g. the
        # schedules' warmup and total_steps; set by the family's package
        self.adapt: Callable | None = None
        FAMILIES[family] = self

    def register(self, name: str, *, description: str | None = None,
                 params: Mapping[str, Param] | None = None, skip: int = 0, **meta) -> Callable:
        """Decorator registering `factory` under `name`.

        The spec is derived from the factory's keyword defaults (after the first `skip` positional
        parameters, which the caller supplies), with `params` overriding or adding fields.
        """

        def decorate(factory: Callable) -> Callable:
            if name in self._entries:
                raise ValueError(f"{self.family}: {name!r} is registered twice")
            text = description or first_paragraph(factory.__doc__ or "")
            made, extra = self.adapt(factory, params) if self.adapt else (factory, params)
            spec = spec_from_signature(made, extra, skip=skip)
            self._entries[name] = Entry(name, made, text.rstrip("."), spec, dict(meta))
            return factory

        return decorate

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries.values())

    def get(self, name: str, field: str | None = None) -> Entry:
        """The entry for `name`; an unknown name raises ConfigError listing the registered names."""
        if name in self._entries:
            return self._entries[name]
        raise unknown_name_error(field or f"{self.family} name", name, self._entries,
                                 what=f"a registered {self.family} name, one of")

    def spec(self, name: str, values: Mapping[str, Any] | None = None) -> dict[str, Param]:
        """`name`'s parameter spec. An entry registered with ``spec_of=fn`` has parameters that
        depend on the values given (the "python" model: its factory's own keyword arguments):
        ``fn(values)`` is its spec."""
        entry = self.get(name)
        spec_of = entry.meta.get("spec_of")
        return spec_of(values or {}) if spec_of else entry.params

    def resolve(self, name: str, values: Mapping[str, Any], field: str | None = None) -> dict:
        """Validate `values` as `name`'s parameters; defaults filled in."""
        field = field or self.family
        self.get(name, f"{field}.name")
        resolved = validate_fields(field, self.spec(name, values), values, entry=(self.family, name))
        self.check(name, resolved, field)
        return resolved

    def check(self, name: str, resolved: Mapping[str, Any], field: str | None = None) -> None:
        """The entry's rule across its fields (``check=`` metadata, ``check(values)`` raising
        ValueError, e.g. nesterov needs momentum > 0) on validated values: a ConfigError prefixed
        with the field, so a recipe is refused when it is read, before anything is built."""
        rule = self.get(name).meta.get("check")
        if rule is None:
            return
        try:
            rule(resolved)
        except ValueError as exc:
            raise ConfigError(f"{field or self.family} ({name}): {exc}", field=field or self.family) from exc

    def create(self, name: str, *args, field: str | None = None, **values):
        """Validate `values`, then call the factory: ``factory(*args, **resolved)``.

        A ValueError the factory raises about its arguments (a cross-field rule, say) comes back as
        a ConfigError prefixed with the field.
        """
        resolved = self.resolve(name, values, field)
        try:
            return self.get(name).factory(*args, **resolved)
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"{field or self.family} ({name}): {exc}", field=field or self.family) from exc


def first_paragraph(doc: str) -> str:
    """The docstring's first paragraph on one line: an entry's description."""
    lines = []
    for line in doc.strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


FAMILIES: dict[str, Registry] = {}


# The families. Each module registers its techniques into one of these.
DATASETS = Registry("datasets", "data sets, split into train/val/test")
MODELS = Registry("models", "network architectures built from the recipe")
ACTIVATIONS = Registry("activations", "element-wise nonlinearities for the models")
OPTIMIZERS = Registry("optimizers", "update rules (torch.optim.Optimizer subclasses)")
SCHEDULES = Registry("schedules", "learning-rate schedules: step -> lr")
CLIPPING = Registry("clipping", "gradient clipping applied before each optimizer step")
INITS = Registry("inits", "parameter initialization schemes")
PREPROCESSORS = Registry("preprocessors", "input preprocessing fitted on the training split")
NORMS = Registry("norms", "normalization layers the model builders place after each hidden layer")
PENALTIES = Registry("penalties", "terms added to the loss (L1, L2, ...)")
AUGMENTATIONS = Registry("augmentations", "random transforms of training batches")
LAYERS = Registry("layers", "nn.Module layers for your own models (nnopt.nn; LAYERS.create(name, ...))")
LOSSES = Registry("losses", "losses: the recipe's [loss] by task, and modules for your own loops (LOSSES.create(name, ...))")
