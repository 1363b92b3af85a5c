"""Trainer vs a minimal hand-written PyTorch loop doing the same work, in one process.

Same model, data (in-memory tensors), batch size, optimizer, epochs and per-epoch validation; the
hand loop shuffles with randperm and accumulates loss.item() like a typical loop. The Trainer also
logs lr, loss and the global grad norm per step, writes metrics.jsonl and a checkpoint per epoch.
Reports training samples/s (medians of alternating repeats) and the ratio.

    python bench/trainer_overhead.py [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nnopt import DataError, Recipe
from nnopt.report import format_table
from nnopt.train import Trainer, build
from nnopt.train.trainer import evaluate

CASES = {
    "digits MLP [128,128] bs32": {"train": {"epochs": 20}},
    "fashion-MNIST MLP [256,128] bs128": {
        "data": {"name": "fashion_mnist", "n_train": 20000},
        "model": {"widths": [256, 128]}, "train": {"epochs": 2, "batch_size": 128}},
}


def hand_loop(setup) -> float:
    """The loop a user writes by hand; returns training samples per second (eval excluded)."""
    model, opt, data = setup.model, setup.optimizer, setup.data
    cfg = setup.recipe.train
    n, bs = len(data.train), cfg["batch_size"]
    train_time = 0.0
    for _ in range(cfg["epochs"]):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        running = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(data.train.x[idx]), data.train.y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.item()
        train_time += time.perf_counter() - t0
        evaluate(model, data.val, cfg["eval_batch_size"])
    return n * cfg["epochs"] / train_time


def trainer_loop(setup) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return Trainer(setup, Path(tmp), quiet=True).fit()["samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for label, raw in CASES.items():
        recipe = Recipe(raw).override({"train.threads": args.threads, "train.device": "cpu"})
        try:
            build(recipe)
        except DataError as exc:
            rows.append([label, "-", "-", f"skipped: {exc}"[:70]])
            continue
        hand, ours = [], []
        for _ in range(args.repeats):
            hand.append(hand_loop(build(recipe)))
            ours.append(trainer_loop(build(recipe)))
        h, o = statistics.median(hand), statistics.median(ours)
        rows.append([label, f"{h:,.0f}", f"{o:,.0f}", f"{o / h:.3f}"])
    print(f"threads={args.threads}, repeats={args.repeats}; training samples/s, medians")
    print(format_table(["case", "hand loop", "Trainer", "Trainer / hand"], rows))


if __name__ == "__main__":
    main()
