"""Tasks and their metrics: the one source for what a run reports, and which way is better.

A data set's ``task`` is "classification" (integer labels y ∈ {0 … K−1}) or "regression" (float
targets, one per output). A run reports per split (``train_``, ``val_``, ``test_``):

    classification:  loss, acc = #{ŷ = y}/N  (val/test also top5 = #{y among the 5 largest logits}/N
                     when K > 5)
    regression:      loss, rmse = mean_j √(Σᵢ(ŷᵢⱼ−yᵢⱼ)²/N), mae = mean_j Σᵢ|ŷᵢⱼ−yᵢⱼ|/N,
                     r2 = mean_j (1 − SSEⱼ/SSTⱼ), SSTⱼ = Σᵢ(yᵢⱼ−ȳⱼ)²   (scikit-learn's
                     "uniform_average" over the k outputs; a constant target gives r2 = 1 if fitted
                     exactly, else 0, as sklearn's force_finite)

Prediction ŷ of a classifier: argmax of the logits, or, with ONE output (the ``bce`` loss on a
binary problem), class 1 when the logit is > 0 (probability σ(z) > ½).

Every metric is computed from sums that add over batches and processes (`batch_sums`), so the
Trainer reads them with the step losses in its one device transfer and adds them on the host.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

TASKS = ("classification", "regression")
SPLITS = ("train", "val", "test")
DEFAULT_LOSS = {"classification": "cross_entropy", "regression": "mse"}
DEFAULT_MONITOR = {"classification": "val_acc", "regression": "val_loss"}
TOP_K = 5


@dataclass(frozen=True)
class Metric:
    """A reported metric: ``name`` (split_base), which way is better, the tasks that report it."""

    name: str
    direction: str  # "max" or "min"
    tasks: tuple[str, ...]
    doc: str


BASES = (  # base name, direction, tasks, splits, doc
    ("loss", "min", TASKS, SPLITS, "mean loss (the recipe's [loss], without label smoothing off train)"),
    ("acc", "max", ("classification",), SPLITS, "accuracy"),
    ("top5", "max", ("classification",), ("val", "test"), "top-5 accuracy (K > 5 classes)"),
    ("rmse", "min", ("regression",), SPLITS, "root mean squared error"),
    ("mae", "min", ("regression",), SPLITS, "mean absolute error"),
    ("r2", "max", ("regression",), SPLITS, "coefficient of determination R²"),
)
METRICS: dict[str, Metric] = {f"{split}_{base}": Metric(f"{split}_{base}", direction, tasks, doc)
                              for base, direction, tasks, splits, doc in BASES for split in splits}


def direction(metric: str) -> str:
    """"max" or "min" for a metric name of `METRICS`; ValueError naming the known ones otherwise."""
    if metric not in METRICS:
        raise ValueError(f"{metric!r} is not a metric nnopt reports (one of {', '.join(METRICS)})")
    return METRICS[metric].direction


def monitored(summary: dict) -> tuple[str, str]:
    """(metric, direction) a run directory's summary was judged by: its ``monitor`` field, or
    val_acc (max) for a summary written before runs had one."""
    metric = summary.get("monitor") or "val_acc"
    return metric, direction(metric)


def check_metric(metric: str, task: str, field: str) -> str:
    """`metric` when `task` reports it; ValueError naming `field` and the allowed names otherwise."""
    allowed = [m.name for m in METRICS.values() if task in m.tasks and not m.name.startswith("test_")]
    if metric not in allowed:
        raise ValueError(f"{field} = {metric!r} — a {task} run reports {', '.join(allowed)}")
    return metric


def better(a: float, b: float, direction_: str) -> bool:
    """Whether `a` is better than `b` (NaN is never better)."""
    return a > b if direction_ == "max" else a < b


def predict(out: torch.Tensor) -> torch.Tensor:
    """A classifier's predicted classes: argmax of the logits, or logit > 0 with one output."""
    return out.argmax(1) if out.shape[1] > 1 else (out[:, 0] > 0).long()


def targets(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """What a loss compares `out` with: the labels as they are, or regression targets shaped as
    the outputs ((N,) → (N, 1))."""
    return y if task == "classification" else y.view(out.shape)


def batch_sums(task: str, out: torch.Tensor, y: torch.Tensor, top_k: bool = False) -> torch.Tensor:
    """The float64 sums of a batch its metrics add up from: classification [#right] (+ [#in top
    5] with `top_k`); regression the per-output [Σ(ŷ−y)², Σ|ŷ−y|, Σy, Σy²] (4k numbers)."""
    if task == "classification":
        right = (predict(out) == y).sum(0, keepdim=True, dtype=torch.float64)
        if not top_k:
            return right
        in_top = (out.topk(TOP_K, 1).indices == y[:, None]).any(1).sum(0, keepdim=True, dtype=torch.float64)
        return torch.cat((right, in_top))
    return elements(out, y).sum(0)


def elements(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A regression batch's per-sample terms (N, 4k), float64: [(ŷ−y)², |ŷ−y|, y, y²]."""
    out, y = out.double(), y.view(out.shape).double()
    d = out - y
    return torch.cat((d * d, d.abs(), y, y * y), 1)


def queue_sums(task: str, out: torch.Tensor, y: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """`batch_sums` of several steps whose outputs and targets are concatenated in `out`, `y`
    (`sizes` samples each), as rows: one row for classification (counts, exact in any grouping),
    one per step for regression (float sums of same-shaped slices, which the host adds step by
    step, so they do not depend on how steps are grouped into reads: a resumed run stays
    bit-identical)."""
    if task == "classification":
        return batch_sums(task, out, y)[None]
    return torch.stack([part.sum(0) for part in elements(out, y).split(sizes)])


def metrics(task: str, sums: list[float], n: int, prefix: str) -> dict:
    """The split's metrics from `batch_sums` added over its `n` samples, keys prefixed (val_acc)."""
    if task == "classification":
        out = {f"{prefix}_acc": sums[0] / n}
        if len(sums) > 1:
            out[f"{prefix}_top5"] = sums[1] / n
        return out
    k = len(sums) // 4
    sse, sae, sy, syy = (sums[i * k:(i + 1) * k] for i in range(4))
    r2 = []
    for e, s, q in zip(sse, sy, syy):
        sst = q - s * s / n
        r2.append(1 - e / sst if sst > 0 else (1.0 if e == 0 else 0.0))
    return {f"{prefix}_rmse": sum(math.sqrt(e / n) for e in sse) / k,
            f"{prefix}_mae": sum(sae) / (n * k), f"{prefix}_r2": sum(r2) / k}


def outcome(history: list[dict], task: str, monitor: str) -> dict:
    """A run's result from its epoch records: ``final_<m>`` of the last epoch's train/val metrics,
    ``best_<monitor>`` and ``best_epoch`` (the first of equals; None before any epoch), and for a
    classification always ``best_val_acc`` (the max over epochs), whatever the monitor."""
    way = direction(monitor)
    best = None
    for record in history:
        if best is None or better(record[monitor], best[monitor], way):
            best = record
    last = history[-1] if history else {}
    finals = [k for k in last if k.startswith(("train_", "val_"))] if last else \
        [m.name for m in METRICS.values() if task in m.tasks and m.name.startswith(("train_", "val_"))]
    out = {f"final_{k}": last.get(k) for k in finals}
    out[f"best_{monitor}"] = best[monitor] if best else None
    out["best_epoch"] = best["epoch"] if best else None
    if task == "classification" and monitor != "val_acc":
        out["best_val_acc"] = max((r["val_acc"] for r in history if "val_acc" in r), default=None)
    return out
