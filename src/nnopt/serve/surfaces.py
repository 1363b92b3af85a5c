"""The 2-D view's server side: contour images of the test functions and optimizer trajectories.

Trajectories come from `nnopt.toy.functions2d.trajectory` — the registered optimizers (and
schedules) on a 2-element tensor — so the page only animates what the library computed.
"""
from __future__ import annotations

import functools
import io
import math
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from ..params import Param
from ..registry import OPTIMIZERS, SCHEDULES
from ..toy.functions2d import SURFACES, trajectory
from .forms import FormError, form_field, read_value, refuse_external

MAX_RUNS = 8
REQUEST = {
    "surface": Param(str, "saddle", choices=SURFACES),
    "steps": Param(int, 100, ge=1, le=1000),
    "start": Param(list, None, item=Param(float), nullable=True, doc="[x, y]; none = the surface's start"),
    "noise": Param(float, 0.0, ge=0, le=100, doc="std of Gaussian noise added to each gradient"),
    "seed": Param(int, 0, ge=0, le=2**32 - 1),
}


def surfaces_json() -> list[dict]:
    """Name, formula, view box, default start and known minima of every test function."""
    return [{"name": s.name, "formula": s.formula, "xlim": list(s.xlim), "ylim": list(s.ylim),
             "start": list(s.start), "minima": [list(m) for m in s.minima], "zlim": value_range(s)}
            for s in SURFACES.values()]


@functools.lru_cache(maxsize=len(SURFACES))
def value_range(surface) -> list[float]:
    """[min, max] of f over the view box (the loss plot's y range)."""
    Z = surface.grid(101)[2]
    return [float(Z.min()), float(Z.max())]


@functools.lru_cache(maxsize=len(SURFACES))
def contour_png(name: str, size: int = 480) -> bytes:
    """Filled contours of f over the surface's view box, edge to edge (pixel (0, 0) = (xmin, ymax))."""
    from matplotlib.figure import Figure

    surface = SURFACES[name]
    X, Y, Z = surface.grid(160)
    lo, hi = float(Z.min()), float(Z.max())
    if surface.log_levels:
        levels = np.logspace(math.log10(max(lo, 1e-3)), math.log10(hi), 24)
        Z = np.maximum(Z, levels[0])
    else:
        levels = np.linspace(lo, hi, 24)
    fig = Figure(figsize=(size / 100, size / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.contourf(X, Y, Z, levels=levels, cmap="Blues_r", alpha=0.4)
    ax.contour(X, Y, Z, levels=levels, colors="#55606e", linewidths=0.5, alpha=0.6)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def parsed(fields: Any, where: str) -> dict:
    """Form texts {param: "0.05"} read as TOML values."""
    if not isinstance(fields, Mapping) or not all(isinstance(v, str) for v in fields.values()):
        raise FormError(f"{where} = {str(fields)[:80]} — must be a table of field → text", where)
    return {k: read_value(f"{where}.{k}", v) for k, v in fields.items()}


def component(registry, name: Any, fields: Any, prefix: str, where: str) -> tuple[str, dict]:
    """(name, resolved fields) of one optimizer or schedule form; FormError names `where`.field."""
    try:
        entry = registry.get(name if isinstance(name, str) else repr(name), f"{where}.name")
        values = parsed(fields, where)
        refuse_external(where, entry.name, registry, values)
        return entry.name, registry.resolve(entry.name, values, field=prefix)
    except FormError:
        raise
    except ConfigError as exc:
        names = {f"{prefix}.{k}": f"{where}.{k}" for k in fields} if isinstance(fields, Mapping) else {}
        names[f"{where}.name"] = f"{where}.name"
        raise FormError(str(exc), names.get(form_field(exc, names))) from None


def trajectories(body: Mapping[str, Any], cancelled=lambda: False) -> dict | None:
    """Run each requested optimizer on the surface; points and losses per run (JSON-ready).
    None as soon as `cancelled()` (the client has gone), checked before each run."""
    if not isinstance(body, Mapping):
        raise FormError("request must be a JSON object")
    settings = {}
    for key, param in REQUEST.items():
        value = body.get(key, param.default)
        try:
            settings[key] = param.validate(key, read_value(key, value) if isinstance(value, str) else value)
        except ConfigError as exc:
            raise FormError(str(exc), key) from None
    start = settings["start"]
    if start is not None and len(start) != 2:
        raise FormError(f"start = {start} — must be [x, y]", "start")
    runs = body.get("runs")
    if not isinstance(runs, list) or not 1 <= len(runs) <= MAX_RUNS:
        raise FormError(f"runs — must be a list of 1 to {MAX_RUNS} optimizers", "runs")
    sched = body.get("schedule") or {"name": "constant", "fields": {}}
    if not isinstance(sched, Mapping):
        raise FormError(f"schedule = {str(sched)[:80]} — must be an object with name and fields", "schedule.name")
    sched_name, sched_params = component(SCHEDULES, sched.get("name"), sched.get("fields", {}), "schedule",
                                         "schedule")
    surface = SURFACES[settings["surface"]]
    out = []
    for i, run in enumerate(runs):
        if cancelled():
            return None
        if not isinstance(run, Mapping):
            raise FormError(f"runs[{i}] — must be an object with optimizer and fields", f"runs.{i}")
        name, hyper = component(OPTIMIZERS, run.get("optimizer"), run.get("fields", {}), str(run.get("optimizer")),
                                f"runs.{i}")
        schedule = None
        if sched_name != "constant" or sched_params.get("lr") is not None:
            filled = {**sched_params, "lr": sched_params["lr"] if sched_params["lr"] is not None else hyper["lr"],
                      "total_steps": sched_params["total_steps"] or settings["steps"]}
            try:
                schedule = SCHEDULES.create(sched_name, field="schedule", **filled)
            except ConfigError as exc:
                raise FormError(str(exc), form_field(exc, [f"schedule.{k}" for k in filled])) from None
        try:
            run_ = trajectory(surface, name, start=start, steps=settings["steps"], schedule=schedule,
                              noise=settings["noise"], seed=settings["seed"], **hyper)
        except ValueError as exc:  # ConfigError, or an optimizer the 2-D runner cannot drive
            raise FormError(str(exc), f"runs.{i}") from None
        out.append({"optimizer": name, "points": json_floats(run_.points), "losses": json_floats(run_.losses),
                    "lrs": json_floats(run_.lrs), "diverged": run_.diverged})
    return {"surface": surface.name, "runs": out}


def json_floats(array: np.ndarray) -> list:
    """A float array as nested lists, with inf/nan as None (JSON has neither)."""
    clean = np.where(np.isfinite(array), array, np.nan).astype(object)
    clean[~np.isfinite(array)] = None
    return clean.tolist()
