"""Trainer vs a minimal hand-written PyTorch loop doing the same work, in one process.

Same model, data (in-memory tensors), batch size, optimizer, epochs and per-epoch validation; the
hand loop shuffles with randperm and accumulates loss.item() like a typical loop. The Trainer also
logs lr, loss and the global grad norm every train.log_every steps, the epoch's train loss and
accuracy, writes metrics.jsonl and a checkpoint per epoch (outside its clock, but a digits epoch
trains for only ~20 ms: the second case shows what the checkpoints cost the epochs after them). Each
repeat builds both from the recipe
and alternates them epoch by epoch (the hand loop's epoch runs in the Trainer's on_epoch_end, which
the Trainer's clock does not count), so a slow spell of a shared machine hits both alike. Reports
training samples/s (medians over all epochs of all repeats), the ratio of the medians and the
median of the per-epoch ratios.

``--clock cpu`` times both loops with this thread's CPU time instead of the wall clock (with
``--threads 1`` the loops run on this thread): other processes then change the timings less.

    python bench/trainer_overhead.py [--repeats 5] [--threads 1] [--clock wall|cpu]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F

from nnopt import DataError, Recipe
from nnopt.report import format_table
from nnopt.train import LambdaCallback, Trainer, build
from nnopt.train import trainer as trainer_module
from nnopt.train.trainer import evaluate

CASES = {
    "digits MLP [128,128] bs32": {"train": {"epochs": 20}},
    "the same, train.checkpoint = false": {"train": {"epochs": 20, "checkpoint": False}},
    "fashion-MNIST MLP [256,128] bs128": {
        "data": {"name": "fashion_mnist", "n_train": 20000},
        "model": {"widths": [256, 128]}, "train": {"epochs": 4, "batch_size": 128}},
}
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def hand_epoch(setup, clock) -> float:
    """One epoch of the loop a user writes by hand, then its validation; returns the training
    time (validation excluded)."""
    model, opt, data = setup.model, setup.optimizer, setup.data
    n, bs = len(data.train), setup.recipe.train["batch_size"]
    t0 = clock()
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
    train_time = clock() - t0
    evaluate(model, data.val, setup.recipe.train["eval_batch_size"], setup.task, setup.eval_loss, "val")
    return train_time


def alternate(recipe: Recipe, clock) -> tuple[list[float], list[float]]:
    """(hand, Trainer) training times of each epoch, the two loops taking epochs in turn."""
    hand_setup, hand = build(recipe), []
    after_epoch = LambdaCallback(on_epoch_end=lambda *_: hand.append(hand_epoch(hand_setup, clock)))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build(recipe), Path(tmp), quiet=True, callbacks=[after_epoch])
        trainer.fit()
    ends = [0.0] + [record["time"] for record in trainer.history]
    return hand, [b - a for a, b in zip(ends, ends[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    trainer_module.time = types.SimpleNamespace(perf_counter=clock)  # the Trainer's epoch timer
    rows = []
    for label, raw in CASES.items():
        recipe = Recipe(raw).override({"train.threads": args.threads, "train.device": "cpu"})
        try:
            n = len(build(recipe).data.train)
        except DataError as exc:
            rows.append([label, "-", "-", f"skipped: {exc}"[:70], "-"])
            continue
        hand, ours = [], []
        for _ in range(args.repeats):
            h, o = alternate(recipe, clock)
            hand += h
            ours += o
        h, o = n / statistics.median(hand), n / statistics.median(ours)
        paired = statistics.median(a / b for a, b in zip(hand, ours))
        rows.append([label, f"{h:,.0f}", f"{o:,.0f}", f"{o / h:.3f}", f"{paired:.3f}"])
    print(f"threads={args.threads}, repeats={args.repeats}, clock={args.clock}; training samples/s, "
          "medians over epochs")
    print(format_table(["case", "hand loop", "Trainer", "Trainer / hand", "median of epoch ratios"], rows))


if __name__ == "__main__":
    main()
