"""The study directory's outputs: trials.csv, best.toml, history.png, importance.png, a table."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from ..recipe import toml_value
from ..report.table import format_table
from ..tasks import METRICS
from .objective import FAIL_REASON, epochs_of


def trial_line(trial: optuna.trial.FrozenTrial, best: optuna.trial.FrozenTrial | None, done: int,
               total: int, metric: str = "val_acc") -> str:
    """One progress line: [done/total], number, state, value, epochs, seconds, best so far, knobs."""
    value = f"{metric} {trial.value:.4f}" if trial.value is not None else \
        (f"{metric} {trial.intermediate_values[max(trial.intermediate_values)]:.4f}" if trial.intermediate_values
         else "-")
    secs = trial.duration.total_seconds() if trial.duration else 0.0
    state = "PRUNED" if trial.state == TrialState.PRUNED else trial.state.name
    best_text = f"best {best.value:.4f} (#{best.number})" if best is not None else "best -"
    knobs = " ".join(f"{k}={_text(v, short=True)}" for k, v in trial.user_attrs.get("assigned", {}).items())
    reason = trial.user_attrs.get(FAIL_REASON, "") if trial.state == TrialState.FAIL else ""
    return (f"[{done}/{total}] trial {trial.number:<4} {state:<8}  {value:<14}  epochs {epochs_of(trial):>3}  "
            f"{secs:6.1f}s  {best_text}  {knobs}{('  ' + reason) if reason else ''}")


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best complete trial by the study's direction (the first of equals)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = 1 if study.direction == StudyDirection.MAXIMIZE else -1
    return max(done, key=lambda t: (sign * t.value, -t.number), default=None)


def metric_of(study: optuna.Study) -> str:
    """The metric the study's trials are judged by (val_acc for a study started before --metric)."""
    return study.user_attrs.get("nnopt", {}).get("metric", "val_acc")


def _text(value, short: bool = False) -> str:
    if short and isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else toml_value(value)


def write_csv(trials: list[optuna.trial.FrozenTrial], path: Path) -> None:
    """One row per trial: number, state, value, epochs, seconds, worker, then each searched field."""
    keys: list[str] = []
    for t in trials:
        keys += [k for k in t.user_attrs.get("assigned", {}) if k not in keys]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["number", "state", "value", "epochs", "seconds", "worker", *keys])
        for t in trials:
            assigned = t.user_attrs.get("assigned", {})
            out.writerow([t.number, t.state.name, "" if t.value is None else t.value, epochs_of(t),
                          round(t.duration.total_seconds(), 3) if t.duration else "",
                          t.user_attrs.get("worker", ""), *(_text(assigned[k]) if k in assigned else "" for k in keys)])


def plot_history(trials: list[optuna.trial.FrozenTrial], path: Path, title: str, metric: str = "val_acc",
                 maximize: bool = True) -> None:
    """Each trial's value of `metric` (pruned: its last reported value) and the running best."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for state, marker, label in ((TrialState.COMPLETE, "o", "complete"), (TrialState.PRUNED, "x", "pruned")):
        pts = [(t.number, t.value if t.value is not None else t.intermediate_values[max(t.intermediate_values)])
               for t in trials if t.state == state and (t.value is not None or t.intermediate_values)]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, label=label, alpha=0.7)
    best, xs, ys = float("-inf") if maximize else float("inf"), [], []
    for t in trials:
        if t.state == TrialState.COMPLETE:
            best = max(best, t.value) if maximize else min(best, t.value)
            xs.append(t.number)
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="k", label="best so far")
    ax.set(xlabel="trial", ylabel=f"{metric} ({METRICS[metric].doc})", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_importance(study: optuna.Study, path: Path) -> dict[str, float]:
    """Optuna's default importance of each parameter for val_acc (Optuna's evaluator); {} when it cannot be
    computed (fewer than two complete trials, or no parameter common to them)."""
    try:
        with warnings.catch_warnings():  # "few trials per regime": expected on small studies
            warnings.simplefilter("ignore", UserWarning)
            importance = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):
        return {}
    if not importance:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(importance)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    ax.barh(names, [importance[n] for n in names])
    ax.set(xlabel="importance (Optuna's default evaluator)", title="parameter importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return importance


def write_report(study: optuna.Study, study_dir: Path, method: str, storage: str) -> dict:
    """Write trials.csv, best.toml and the figures; return the summary table and paths."""
    trials = study.get_trials(deepcopy=False)
    write_csv(trials, study_dir / "trials.csv")
    metric = metric_of(study)
    plot_history(trials, study_dir / "history.png", f"{study.study_name} ({method})", metric,
                 study.direction == StudyDirection.MAXIMIZE)
    importance = plot_importance(study, study_dir / "importance.png")
    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    best = best_trial(study)
    rows = [["study", study.study_name], ["storage", storage], ["method", method],
            ["trials", f"{counts[TrialState.COMPLETE]} complete, {counts[TrialState.PRUNED]} pruned, "
                       f"{counts[TrialState.FAIL]} failed, {counts[TrialState.RUNNING]} running"],
            ["epochs consumed", sum(epochs_of(t) for t in trials)]]
    if best is not None:
        (study_dir / "best.toml").write_text(best.user_attrs["recipe"])
        rows += [[f"best {metric.replace('_', ' ')}", f"{best.value:.4f} (trial {best.number})"],
                 *([f"  {k}", _text(v)] for k, v in best.user_attrs.get("assigned", {}).items()),
                 ["best recipe", str(study_dir / "best.toml")]]
    top = list(importance.items())[:5]
    rows += [["importance (top 5)", ", ".join(f"{k} {v:.2f}" for k, v in top) or "-"],
             ["study directory", str(study_dir)]]
    return {"table": format_table(["study", "value"], rows), "best": best, "importance": importance,
            "trials": trials}
