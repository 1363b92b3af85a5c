"""Train a few small recipes through the library API, as one process or under torchrun:

    python tests/distributed_cases.py OUT                                         # one process
    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/distributed_cases.py OUT

Each case writes its run directory OUT/CASE (rank 0 only under torchrun). tests/test_distributed.py
compares the two. 601 training samples in batches of 64 end each epoch with a batch of 25: shards
of 13 and 12, so the unequal-shard loss weighting is exercised.
"""
import sys
from pathlib import Path

from nnopt import Recipe
from nnopt.errors import DivergedError
from nnopt.train import LambdaCallback, Trainer, build, distributed

BASE = {"data": {"n_train": 601}, "model": {"widths": [32]},
        "train": {"epochs": 3, "batch_size": 64, "threads": 1, "device": "cpu", "checkpoint": False}}
SGD = {"optimizer": {"name": "momentum", "lr": 0.05}}
CASES = {
    "sgd": SGD,
    "adam": {"optimizer": {"name": "adam", "lr": 3e-3}},
    "sync_batch": {**SGD, "model": {"widths": [32], "norm": "sync_batch"}},
    "batch": {**SGD, "model": {"widths": [32], "norm": "batch"}},
    "early": {**SGD, "regularization": {"early_stopping": {"patience": 1, "min_delta": 1.0}}},
    # 600 samples: with 601 the gradient's global norm overflows while every tensor's is finite,
    # and Trainer.read_queue (single process too) fails to name a tensor (StopIteration)
    "diverge": {"optimizer": {"name": "sgd", "lr": 10.0}, "model": {"widths": [32], "activation": "identity"},
                "data": {"n_train": 600}},
    "stop_on_rank_1": SGD,
    # a regression: its metric sums (per step, per output) are added over the ranks in the one read
    "regression": {"data": {"name": "diabetes"}, "preprocess": {"name": "standardize"},
                   "optimizer": {"name": "adam", "lr": 3e-3}},
}


def merged(case: dict) -> Recipe:
    raw = {section: dict(values) for section, values in BASE.items()}
    for section, values in case.items():
        if values.get("name", raw.get(section, {}).get("name")) != raw.get(section, {}).get("name"):
            raw[section] = dict(values)  # another entry: only its own fields
        else:
            raw.setdefault(section, {}).update(values)
    return Recipe(raw)


def stop_on_rank_1(trainer, step, metrics) -> None:
    """Only rank 1 asks to stop (at step 5): every rank must stop there."""
    if trainer.dist.rank == 1 and step == 5:
        trainer.request_stop("rank 1 asked")


def main(out: Path) -> None:
    distributed.init()
    for name, case in CASES.items():
        callbacks = [LambdaCallback(on_step_end=stop_on_rank_1)] if name == "stop_on_rank_1" else []
        try:
            Trainer(build(merged(case)), out / name, quiet=True, callbacks=callbacks).fit()
        except DivergedError:
            pass  # summary.json says so


if __name__ == "__main__":
    main(Path(sys.argv[1]))
