"""The schedule figure: value against t for one or several registered schedules, one PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402

from ..errors import ConfigError  # noqa: E402
from ..recipe import parse_value  # noqa: E402
from ..params import field_of  # noqa: E402
from ..registry import SCHEDULES  # noqa: E402
from ..torch_names import hint as torch_hint  # noqa: E402

MAX_POINTS = 4000


def specs_from_cli(names: Sequence[str], assignments: Sequence[str]) -> list[tuple[str, dict]]:
    """``nnopt plot schedule NAME... --set k=v --set NAME.k=v``: an unscoped key goes to every
    named schedule that has that parameter, ``NAME.k`` to that one only; values are TOML."""
    specs = [(name, {}) for name in names]
    for text in assignments:
        key, sep, value = text.partition("=")
        if not sep:
            raise ConfigError(f"--set {text!r} — must look like key=value or NAME.key=value")
        scope, _, key = key.strip().rpartition(".")
        targets = [params for name, params in specs if (scope or name) == name
                   and (name not in SCHEDULES or field_of(SCHEDULES.get(name).params, key))]
        if not targets:
            hints = [torch_hint(key, "schedules", name, key, {key: parse_value(value.strip())})
                     for name in names if (scope or name) == name]
            raise ConfigError(f"--set {text!r} — " + next(filter(None, hints), f"no schedule named here "
                              f"({', '.join(names)}) has a parameter {key!r}"
                              + (f" or is named {scope!r}" if scope else "")))
        for params in targets:
            params[key] = parse_value(value.strip())
    return specs


def check_figure_path(path: Path, option: str) -> None:
    """ConfigError unless `path` names a file matplotlib can write (by its suffix), not a directory."""
    kinds = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in kinds:
        raise ConfigError(f"{option} {str(path)!r} — must end in a figure format: "
                          f"{', '.join('.' + k for k in sorted(kinds))}")
    if path.is_dir() or (path.exists() and not path.is_file()):
        raise ConfigError(f"{option} {str(path)!r} is not a file — must be a new or existing figure file")


def plot_schedules(specs: Sequence[tuple[str, Mapping]], steps: int, path: str | Path,
                   title: str | None = None) -> Path:
    """Draw schedule(t) for t = 0 … steps−1 of each (name, params) into `path` (PNG).

    Unset ``lr`` is 1 (the curve is then the multiple of the optimizer's lr) and unset
    ``total_steps`` is `steps`. At most MAX_POINTS values of t are drawn, evenly spread. Bad names,
    params or file types raise ConfigError before anything is drawn. Driven hyperparameters
    (one_cycle's momentum) go on a second axis below.
    """
    if steps < 1:
        raise ConfigError(f"--steps = {steps!r} — must be >= 1")
    path = Path(path)
    check_figure_path(path, "-o")
    curves = []
    for name, params in specs:
        run = {k: v for k, v in {"lr": 1.0, "total_steps": steps}.items()
               if name in SCHEDULES and k in SCHEDULES.get(name).params}
        params = {**run, **{k: v for k, v in params.items() if v is not None}}
        f = SCHEDULES.create(name, field="schedule", **params)
        label = name + "".join(f", {k}={v}" for k, v in params.items() if k != "total_steps")
        curves.append((label, f))
    drives = [(f"{label}: {k}", g) for label, f in curves for k, g in getattr(f, "drives", {}).items()]
    ts = range(steps) if steps <= MAX_POINTS else \
        sorted({(steps - 1) * i // (MAX_POINTS - 1) for i in range(MAX_POINTS)})
    fig, axes = plt.subplots(2 if drives else 1, 1, figsize=(8, 6 if drives else 4), sharex=True,
                             squeeze=False)
    for label, f in curves:
        axes[0, 0].plot(ts, [f(t) for t in ts], label=label)
    axes[0, 0].set_ylabel("learning rate")
    for label, g in drives:
        axes[1, 0].plot(ts, [g(t) for t in ts], label=label)
        axes[1, 0].set_ylabel("value")
    for ax in axes[:, 0]:
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("t (step or epoch)")
    if title:
        axes[0, 0].set_title(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
