"""`nnopt compare`: train the grid of recipe variants × seeds and tabulate them.

    compare(recipe, {"optimizer.name": ["sgd", "momentum", "adam"]}, seeds=3, out_dir="runs/cmp")

Every variant recipe is validated before the first one trains.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import ConfigError
from .recipe import Recipe, parse_value, toml_value
from .report.curves import plot_curves
from .report.table import format_table, mean_std
from .tasks import METRICS
from .train import Trainer, build
from .train.rundir import RunDir

MAX_RUNS = 1000  # runs one compare trains; the grid is built (and validated) in full before the first


def split_values(text: str) -> list[Any]:
    """``"sgd,adam"`` → ["sgd", "adam"]; commas inside [...] or quotes do not split."""
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    values = [parse_value(p.strip()) for p in parts if p.strip()]
    if not values:
        raise ConfigError(f"--vary value list {text!r} is empty")
    return values


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["optimizer.name=sgd,adam"]`` → {"optimizer.name": ["sgd", "adam"]}."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--vary {item!r} — must look like section.key=v1,v2,...")
        key, values = item.split("=", 1)
        key = key.strip()
        if key in out:
            raise ConfigError(f"--vary {key} is given twice — give all its values in one --vary "
                              f"({key}=v1,v2,...)")
        out[key] = split_values(values)
        repeated = next((v for i, v in enumerate(out[key]) if v in out[key][:i]), None)
        if repeated is not None:
            raise ConfigError(f"--vary {key} lists {toml_value(repeated)} twice — each value once "
                              "(--seeds repeats a variant)")
    return out


def variants(recipe: Recipe, vary: Mapping[str, list[Any]]) -> list[tuple[str, Recipe]]:
    """The grid: one (label, recipe) per combination, every recipe validated."""
    keys = list(vary)
    grid = []
    for combo in itertools.product(*(vary[k] for k in keys)):
        label = " ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in zip(keys, combo)) or "base"
        grid.append((label, recipe.override(dict(zip(keys, combo)))))
    return grid


def _short(value: Any) -> str:
    return value if isinstance(value, str) else toml_value(value)


def compare(recipe: Recipe, vary: Mapping[str, list[Any]], seeds: int, out_dir: str | Path,
            quiet: bool = False, log=print) -> dict:
    """Run every variant with seeds train.seed … train.seed+seeds−1 (its own train.seed when
    `vary` varies it); write results.json, the table and val_curves.png into `out_dir`; return
    {"table": str, "results": [...]}. The table and the curves show the runs' monitored metric
    (train.monitor: val_acc, val_loss, val_r2, ...): final and best value, the test split's value,
    and its curve over the epochs."""
    out_dir = Path(out_dir)
    runs = math.prod(len(v) for v in vary.values()) * seeds
    if runs > MAX_RUNS:
        raise ConfigError(f"--vary × --seeds = {runs} runs — must be at most {MAX_RUNS}")
    grid = [(label, r.override({"train.seed": r.train["seed"] + i}))
            for label, r in variants(recipe, vary) for i in range(seeds)]
    results: dict[str, list[dict]] = {}
    curves: dict[str, list[list[float]]] = {}
    for n, (label, variant) in enumerate(grid):
        seed = variant.train["seed"]
        log(f"[{n + 1}/{len(grid)}] {label}  seed={seed}")
        run_dir = out_dir / f"{n:03d}"
        summary = Trainer(build(variant), run_dir, quiet=quiet).fit()
        results.setdefault(label, []).append(summary)
        curves.setdefault(label, []).append([e[summary["monitor"]] for e in RunDir(run_dir).epochs()])
    monitors = sorted({s["monitor"] for runs in results.values() for s in runs})
    if len(monitors) > 1:
        raise ConfigError(f"the variants monitor different metrics ({', '.join(monitors)}) — compare needs "
                          "one; set train.monitor")
    monitor = monitors[0]
    test, shown = "test_" + monitor.split("_", 1)[1], monitor.replace("_", " ")
    header = ["variant", f"final {shown}", f"best {shown}", test.replace("_", " "), "time (s)"]
    rows = [[label, mean_std([s[f"final_{monitor}"] for s in runs]), mean_std([s[f"best_{monitor}"] for s in runs]),
             mean_std([s.get(test) for s in runs]), mean_std([s["time_s"] for s in runs], 2)]
            for label, runs in results.items()]
    table = format_table(header, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "table.txt").write_text(table + "\n")
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    plot_curves(curves, out_dir / "val_curves.png", ylabel=f"{shown} ({METRICS[monitor].doc})",
                title=", ".join(vary) or "base")
    return {"table": table, "results": results, "figure": str(out_dir / "val_curves.png")}
