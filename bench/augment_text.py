"""Offline text augmentation (EDA) on wordnet_topics: a GRU trained with and without it.

Same recipe (8 classes × per_class definitions, text_rnn GRU, Adam 3e-3, batch 64) with
``data.augment = "none"`` and ``"eda"`` (α, n_aug variants per training document), over seeds.

    python bench/augment_text.py [--per-class 300] [--epochs 10] [--seeds 0 1 2] [--alpha 0.1] [--n-aug 2]
"""
from __future__ import annotations

import argparse
import tempfile

import nnopt
import nnopt.data.wordnet_topics  # noqa: F401  (registers the data set)
import nnopt.nn.text_models  # noqa: F401  (registers text_rnn)
from nnopt.report import format_table
from nnopt.train import train

KEYS = ("final_train_acc", "final_val_acc", "best_val_acc", "test_acc")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--n-aug", type=int, default=2)
    args = ap.parse_args(argv)
    arms = {"none": {}, f"eda α={args.alpha} n_aug={args.n_aug}":
            {"augment": "eda", "alpha": args.alpha, "n_aug": args.n_aug}}
    rows = []
    for seed in args.seeds:
        for label, aug in arms.items():
            recipe = nnopt.Recipe({
                "data": {"name": "wordnet_topics", "per_class": args.per_class, **aug},
                "model": {"name": "text_rnn", "cell": "gru"}, "optimizer": {"lr": 3e-3},
                "train": {"epochs": args.epochs, "batch_size": 64, "seed": seed, "threads": 1,
                          "device": "cpu", "checkpoint": False, "log_every": 1000}})
            with tempfile.TemporaryDirectory() as run_dir:
                summary = train(recipe, run_dir, quiet=True)
            rows.append([label, seed, *(summary[k] for k in KEYS)])
    for label in arms:
        mine = [r for r in rows if r[0] == label]
        rows.append([label, "mean", *(sum(r[i] for r in mine) / len(mine) for i in range(2, 6))])
    print(f"wordnet_topics, {args.per_class} definitions per class, text_rnn (GRU), {args.epochs} epochs")
    print(format_table(["data.augment", "seed", "train acc", "val acc", "best val acc", "test acc"], rows))


if __name__ == "__main__":
    main()
