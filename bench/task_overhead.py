"""A regression run against a classification run of the same size, through the Trainer.

The same digits inputs, model, batch size, optimizer and epochs; the targets differ: the 10 class
labels (cross-entropy, accuracy), 10 float targets (the one-hot label; mse, RMSE/MAE/R²: the same
output width) and 1 float target (the label's value; mse). The runs take turns, so a slow spell of
a shared machine hits each alike. Reports training µs per sample (the Trainer's own epoch clock:
the loop, the device reads and the metric sums; validation excluded), medians over all epochs of
all repeats, and each regression case's ratio to classification.

    python bench/task_overhead.py [--repeats 5] [--epochs 10] [--threads 1]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
from pathlib import Path

import torch.nn.functional as F

from nnopt import Recipe
from nnopt.data import load
from nnopt.data.dataset import Split
from nnopt.registry import DATASETS
from nnopt.report import format_table
from nnopt.train import Trainer, build


@DATASETS.register("bench_digits_regression")
def digits_regression(outputs: int = 10):
    """digits with float targets: the one-hot label (10 outputs) or the label's value (1 output)."""
    d = load("digits")

    def targets(split: Split) -> Split:
        return Split(split.x, F.one_hot(split.y, 10).float() if outputs == 10 else split.y.float())

    return dataclasses.replace(d, name="bench_digits_regression", train=targets(d.train), val=targets(d.val),
                               test=targets(d.test), n_classes=0, classes=[], task="regression")


CASES = {
    "classification, 10 classes": {"data": {"name": "digits"}},
    "regression, 10 outputs": {"data": {"name": "bench_digits_regression", "outputs": 10}},
    "regression, 1 output": {"data": {"name": "bench_digits_regression", "outputs": 1}},
}


def epoch_times(recipe: Recipe) -> tuple[list[float], int]:
    """Each epoch's training time of one Trainer run of `recipe`, and the training-set size."""
    setup = build(recipe)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(setup, Path(tmp) / "run", quiet=True)
        trainer.fit()
    ends = [0.0] + [record["time"] for record in trainer.history]
    return [b - a for a, b in zip(ends, ends[1:])], len(setup.data.train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    base = {"model": {"widths": [128, 128]},
            "train": {"epochs": args.epochs, "batch_size": 32, "threads": args.threads, "device": "cpu",
                      "checkpoint": False}}
    times: dict[str, list[float]] = {label: [] for label in CASES}
    sizes = {}
    for _ in range(args.repeats):
        for label, raw in CASES.items():
            epochs, sizes[label] = epoch_times(Recipe({**base, **raw}))
            times[label] += epochs
    per_sample = {label: statistics.median(t) / sizes[label] * 1e6 for label, t in times.items()}
    reference = per_sample["classification, 10 classes"]
    rows = [[label, f"{us:.2f}", f"{us / reference:.3f}"] for label, us in per_sample.items()]
    print(f"threads={args.threads}, repeats={args.repeats}, epochs={args.epochs}, digits MLP [128, 128] bs32; "
          "training µs per sample, median over epochs")
    print(format_table(["case", "µs / sample", "÷ classification"], rows))


if __name__ == "__main__":
    main()
