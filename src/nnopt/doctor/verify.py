"""`nnopt doctor RUN --verify`: apply the first finding's remedy and check that it helps.

The run's recipe with the remedy's ``--set`` fields is trained again from the same seed into a new
directory under the run (``RUN/doctor-verify[-N]/remedy``; the run itself is never written). The
budget is the run's own epochs, cut so that it takes at most `MAX_STEPS` optimizer steps; when it
is cut, the unchanged recipe is rerun on the same budget too (``.../baseline``) and the remedy is
judged against that rerun instead of the run. The remedy *improved* the evidence when the same check
finds nothing in the rerun or its severity (the finding's number, larger = worse) fell by at least
20%, and the rerun's final validation loss is no worse than 1.05× the baseline's (finite beats
non-finite).
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import DivergedError
from .checks import CHECKS, Finding, findings_of, read

MAX_STEPS = 2000


def with_sets(raw: dict, sets: dict) -> dict:
    """A copy of the nested recipe `raw` with the dotted `sets` applied; a set ``SECTION.name`` (another
    component) first clears the section's other fields, which belonged to the old component."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for key in sets:
        section, _, rest = key.partition(".")
        if rest == "name" and isinstance(out.get(section), dict) and out[section].get("name") != sets[key]:
            out[section] = {}
    for key, value in sets.items():
        *path, last = key.split(".")
        node = out
        for p in path:
            node[p] = dict(node.get(p, {})) if isinstance(node.get(p), dict) else {}
            node = node[p]
        node[last] = value
    return out


def train(raw: dict, run_dir: Path) -> None:
    """Train the recipe `raw` into `run_dir`; a diverged run keeps its records."""
    from ..recipe import Recipe
    from ..train import Trainer, build

    try:
        Trainer(build(Recipe(raw)), run_dir, quiet=True).fit()
    except DivergedError:
        pass


def new_dir(run: Path) -> Path:
    """RUN/doctor-verify, or -2, -3, … when taken."""
    out, n = run / "doctor-verify", 1
    while out.exists():
        n += 1
        out = run / f"doctor-verify-{n}"
    return out


def severity_of(run_dir: Path, name: str) -> float:
    """The severity of finding `name` in `run_dir` (0 when it is not found there)."""
    run = read(run_dir)
    for check in CHECKS:
        f = check(run)
        if f is not None and f.name == name:
            return f.severity
    if name == "diverged":
        return math.inf if run.diverged else 0.0
    return 0.0


def final_val_loss(run_dir: Path) -> float:
    run = read(run_dir)
    v = run.epochs[-1].get("val_loss") if run.epochs and not run.diverged else None
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.inf


def verify(run_dir: str | Path, finding: Finding | None = None, quiet: bool = False) -> dict:
    """Rerun `run_dir` with `finding`'s remedy (default: its first finding's); returns {finding, sets,
    dir, epochs, before, after (severities), val_before, val_after, improved}."""
    run = read(run_dir)
    if finding is None:
        found = findings_of(run)
        if not found:
            return {"finding": None, "improved": None}
        finding = found[0]
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in run.recipe.items()}
    epochs = int(raw.get("train", {}).get("epochs", 1))
    steps = run.summary.get("steps") or (run.epochs[-1]["step"] if run.epochs else 0)
    per_epoch = max(1, math.ceil(steps / max(len(run.epochs), 1))) if run.epochs else 1
    budget = max(1, min(epochs, MAX_STEPS // per_epoch))
    out = new_dir(run.path)
    out.mkdir()
    base_sets = {"train.epochs": budget, "train.checkpoint": False}
    if budget < epochs:
        train(with_sets(raw, base_sets), out / "baseline")
        baseline = out / "baseline"
    else:
        baseline = run.path
    train(with_sets(raw, {**base_sets, **finding.sets}), out / "remedy")
    before, after = severity_of(baseline, finding.name), severity_of(out / "remedy", finding.name)
    val_before, val_after = final_val_loss(baseline), final_val_loss(out / "remedy")
    better = after == 0.0 or after <= 0.8 * before
    improved = bool(better and (val_after <= 1.05 * val_before or math.isinf(val_before) and math.isfinite(val_after)))
    return {"finding": finding.name, "sets": finding.set_lines(), "dir": str(out), "epochs": budget,
            "baseline": str(baseline), "before": before, "after": after, "val_before": val_before,
            "val_after": val_after, "improved": improved}


def format_verify(result: dict) -> str:
    if result["finding"] is None:
        return "verify: nothing to verify (no finding)"
    def num(x):
        return "not found" if x == 0.0 else f"{x:.3g}"
    return (f"verify: reran {result['epochs']} epochs with {' '.join(result['sets'])} into {result['dir']}\n"
            f"  {result['finding']}: evidence {num(result['before'])} → {num(result['after'])}; final val loss "
            f"{result['val_before']:.3g} → {result['val_after']:.3g}: "
            + ("the remedy IMPROVED it" if result["improved"] else "the remedy did NOT improve it"))
