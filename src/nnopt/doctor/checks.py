"""The chapter's advice applied to a finished (or diverged) run directory.

Each check reads the run's own records — ``metrics.jsonl`` (step loss/grad norm, epoch train/val
loss and accuracy), ``summary.json``, ``recipe.toml`` and, when ``train.log_layers = true``,
``layers.jsonl`` — and returns a `Problem` with the numbers that show it and the chapter's remedy,
or None. Thresholds are rules of thumb, stated in each check:

    diverging     the run diverged (non-finite loss), or the last tenth of the logged step losses
                  averages > 2× their running minimum and more than the first tenth
    oscillating   ≥ 1/3 of the epoch-to-epoch train losses rise by > 5% (≥ 4 epochs)
    plateau       the train loss of the last half of the epochs changed < 2% while train acc < 0.95
    vanishing /   the median gradient norm of the first weight layer over the last layer's is
    exploding     < 1e-2 / > 1e2 (layers.jsonl)
    dead ReLUs    ≥ 50% of a ReLU layer's units output 0 on every probe sample (layers.jsonl)
    overfitting   the val loss ends ≥ 10% above its minimum, reached before 80% of the epochs,
                  while the train loss kept falling; or the train − val accuracy gap ≥ 0.1
    underfitting  final train accuracy < 0.8 with train and val within 0.05 of each other
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..recipe import Recipe


@dataclass
class Problem:
    """One finding: a short name, what was seen (with the numbers), and what to do."""

    name: str
    evidence: str
    remedy: str


@dataclass
class Run:
    """A run directory's records."""

    path: Path
    recipe: Recipe | None
    summary: dict
    steps: list[dict]
    epochs: list[dict]
    layers: list[dict]
    units: list[dict]


def read(run_dir: str | Path) -> Run:
    """The records of `run_dir`; ConfigError when it holds no metrics.jsonl."""
    path = Path(run_dir)
    metrics = path / "metrics.jsonl"
    if not metrics.is_file():
        raise ConfigError(f"{path} is not a run directory (no metrics.jsonl)")
    lines = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    extra = path / "layers.jsonl"
    layer_lines = [json.loads(x) for x in extra.read_text().splitlines() if x.strip()] if extra.is_file() else []
    summary = json.loads((path / "summary.json").read_text()) if (path / "summary.json").is_file() else {}
    recipe = Recipe.load(path / "recipe.toml") if (path / "recipe.toml").is_file() else None
    return Run(path, recipe, summary, [m for m in lines if m["kind"] == "step"],
               [m for m in lines if m["kind"] == "epoch"], [m for m in layer_lines if m["kind"] == "step"],
               [m for m in layer_lines if m["kind"] == "units"])


def lr_of(run: Run) -> str:
    return f"{run.recipe.optimizer['lr']:g}" if run.recipe is not None and "lr" in run.recipe.optimizer else "?"


def diverging(run: Run) -> Problem | None:
    remedy = (f"lower optimizer.lr (it is {lr_of(run)}; try ÷10), add warmup (schedule.warmup_steps), clip "
              "gradients (clip.name = \"global_norm\"), or use a variance-preserving init (init.name = \"he_normal\")")
    if run.summary.get("status") == "diverged":
        return Problem("diverging", f"the loss became non-finite at step {run.summary.get('diverged_at_step')}", remedy)
    losses = [s["loss"] for s in run.steps]
    if len(losses) < 20:
        return None
    tenth = max(2, len(losses) // 10)
    low = min(losses[:-tenth])
    head, tail = statistics.fmean(losses[:tenth]), statistics.fmean(losses[-tenth:])
    if tail > 2 * low and tail > head:
        return Problem("diverging", f"the step loss rose from a minimum of {low:.3g} to {tail:.3g} (mean of the last "
                       f"{tenth} logged steps), above its start {head:.3g}", remedy)
    return None


def oscillating(run: Run) -> Problem | None:
    losses = [e["train_loss"] for e in run.epochs]
    if len(losses) < 4 or run.summary.get("status") == "diverged":
        return None
    rises = [b / a - 1 for a, b in zip(losses, losses[1:]) if b > 1.05 * a]
    if len(rises) >= (len(losses) - 1) / 3:
        return Problem("oscillating", f"the training loss rose in {len(rises)} of {len(losses) - 1} epochs (by up to "
                       f"{max(rises):.0%}); it ends at {losses[-1]:.3g}",
                       f"the lr is too high for this batch size: lower optimizer.lr (it is {lr_of(run)}), decay it "
                       "(schedule.name = \"cosine\" or \"step\"), or use a larger train.batch_size")
    return None


def plateau(run: Run) -> Problem | None:
    e = run.epochs
    if len(e) < 4 or run.summary.get("status") == "diverged":
        return None
    mid = e[len(e) // 2 - 1]["train_loss"]
    drop = 1 - e[-1]["train_loss"] / mid if mid > 0 else 0.0  # > 0: fell
    if abs(drop) < 0.02 and e[-1]["train_acc"] < 0.95:
        since_start = 1 - e[-1]["train_loss"] / e[0]["train_loss"] if e[0]["train_loss"] > 0 else 0.0
        stuck = since_start < 0.05
        return Problem("plateau", f"the training loss changed {-drop:+.1%} over the last {len(e) - len(e) // 2} epochs "
                       f"({mid:.3g} → {e[-1]['train_loss']:.3g}, {since_start:.0%} since epoch 1) at train accuracy "
                       f"{e[-1]['train_acc']:.3f}",
                       ("stuck from the start: raise optimizer.lr (it is " + lr_of(run) + "), add momentum "
                        "(optimizer.name = \"momentum\" or \"adam\"), check the init (init.name = \"he_normal\")")
                       if stuck else
                       ("decay the learning rate (schedule.name = \"cosine\" or \"step\"), add momentum "
                        "(optimizer.name = \"momentum\"/\"nesterov\"), or an adaptive optimizer (\"adam\")"))
    return None


def weight_layers(run: Run) -> list[str]:
    """Names of the weight tensors (not biases or norm gains) in forward order."""
    names = list(run.layers[0]["layers"]) if run.layers else []
    return [n for n in names if n.endswith("weight") and "norm" not in n.lower()]


def gradient_flow(run: Run) -> Problem | None:
    names = weight_layers(run)
    if len(names) < 2:
        return None
    median = {n: statistics.median(line["layers"][n]["grad"] for line in run.layers) for n in names}
    first, last = median[names[0]], median[names[-1]]
    if last == 0:  # no gradient reaches the output layer: a dead network (see dead ReLUs), no ratio
        return None
    ratio = first / last
    table = ", ".join(f"{n} {median[n]:.2g}" for n in names)
    if ratio < 1e-2:
        return Problem("vanishing gradients", f"the first layer's gradient norm is {ratio:.1e} × the last layer's "
                       f"(median over {len(run.layers)} log points: {table})",
                       "use a variance-preserving init (init.name = \"xavier_normal\" for tanh/logistic, "
                       "\"he_normal\" for ReLU), ReLU-family activations, or normalization (model.norm = \"batch\")")
    if ratio > 1e2:
        return Problem("exploding gradients", f"the first layer's gradient norm is {ratio:.1e} × the last layer's "
                       f"(median over {len(run.layers)} log points: {table})",
                       "clip gradients (clip.name = \"global_norm\"), use a variance-preserving init (init.name = "
                       "\"he_normal\"/\"xavier_normal\"), normalization (model.norm = \"batch\"), or a lower lr")
    return None


def dead_relus(run: Run) -> Problem | None:
    if not run.units:
        return None
    last = run.units[-1]
    dead = {name: f for name, f in last["dead"].items() if f >= 0.5}
    if not dead:
        return None
    return Problem("dead ReLU units", "after epoch {}: {} of the units output 0 on every probe sample".format(
                   last["epoch"], ", ".join(f"layer {n} {f:.0%}" for n, f in dead.items())),
                   f"lower optimizer.lr (it is {lr_of(run)}), use He init (init.name = \"he_normal\"), a leaky "
                   "activation (model.activation = \"leaky_relu\" or \"elu\"), or batch norm (model.norm = \"batch\")")


def overfitting(run: Run) -> Problem | None:
    e = run.epochs
    if len(e) < 4 or run.summary.get("status") == "diverged":
        return None
    val = [r["val_loss"] for r in e]
    m = min(range(len(val)), key=val.__getitem__)
    rising = val[-1] >= 1.1 * val[m] and m + 1 <= 0.8 * len(e) and e[-1]["train_loss"] < e[m]["train_loss"]
    gap = e[-1]["train_acc"] - e[-1]["val_acc"]
    if not (rising or gap >= 0.1):
        return None
    seen = (f"the validation loss rose {val[-1] / val[m] - 1:.0%} from its minimum {val[m]:.3g} at epoch "
            f"{e[m]['epoch']} to {val[-1]:.3g} while the training loss fell {1 - e[-1]['train_loss'] / e[m]['train_loss']:.0%}"
            if rising else "")
    gap_text = f"train − val accuracy gap {gap:.3f} ({e[-1]['train_acc']:.3f} vs {e[-1]['val_acc']:.3f})"
    return Problem("overfitting", "; ".join(t for t in (seen, gap_text) if t),
                   "early stopping (regularization.early_stopping = { patience = 5, restore_best_weights = true }), "
                   "weight decay (optimizer.weight_decay) or an L2 penalty (penalty.name = \"l2\", penalty.coef = "
                   "1e-4), dropout (regularization.dropout = 0.3), data augmentation (augment.name = \"image\"), "
                   "or more training data")


def underfitting(run: Run) -> Problem | None:
    e = run.epochs
    if not e or run.summary.get("status") == "diverged":
        return None
    last = e[-1]
    if last["train_acc"] < 0.8 and abs(last["train_acc"] - last["val_acc"]) < 0.05:
        return Problem("underfitting", f"after {len(e)} epochs the model fits its own training data only to "
                       f"{last['train_acc']:.3f} (validation {last['val_acc']:.3f})",
                       "train longer (train.epochs), a larger model (model.widths), less regularization "
                       "(regularization.*), or a better-tuned optimizer.lr (it is " + lr_of(run) + ")")
    return None


CHECKS = (diverging, oscillating, plateau, gradient_flow, dead_relus, overfitting, underfitting)


def diagnose(run_dir: str | Path) -> list[Problem]:
    """Every problem the checks find in `run_dir` (empty: a healthy run)."""
    run = read(run_dir)
    return [p for p in (check(run) for check in CHECKS) if p is not None]


def format_diagnosis(run_dir: str | Path, problems: list[Problem] | None = None) -> str:
    """The doctor's text: one block per problem (evidence, remedy), or that the run looks healthy."""
    run = read(run_dir)
    problems = diagnose(run_dir) if problems is None else problems
    layers = "with per-layer statistics" if run.layers else "without per-layer statistics (train.log_layers = true adds them)"
    head = f"nnopt doctor: {run.path} ({len(run.epochs)} epochs, {len(run.steps)} logged steps, {layers})"
    if not problems:
        return head + "\nno problem found — checked: " + ", ".join(c.__name__.replace("_", " ") for c in CHECKS)
    blocks = [f"! {p.name}: {p.evidence}\n  remedy: {p.remedy}" for p in problems]
    return "\n".join([head, *blocks])
