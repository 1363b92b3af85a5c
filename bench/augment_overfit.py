"""Does augmentation reduce overfitting? Train on a small subset with and without it.

Same recipe (data subset, model, optimizer, epochs, seed) twice: once plain, once with the batched
image augmentation applied to every training batch. Prints clean train accuracy (the model in eval
mode on the un-augmented training subset), validation and test accuracy, and the train−val gap,
then saves the accuracy curves as a PNG.

    python bench/augment_overfit.py [--data fashion_mnist] [--n-train 300] [--epochs 60]
                                    [--figure docs/figures/augment_overfit.png]
"""
from __future__ import annotations

import argparse
import tempfile

import torch

import nnopt
from nnopt.report import format_table
from nnopt.train import Trainer, build
from nnopt.train.trainer import evaluate

PRESETS = {"light": {"name": "image", "hflip": 0.5, "rotation": 10.0, "translate": 0.1, "p": 0.5},
           "strong": {"name": "image", "hflip": 0.5, "rotation": 10.0, "scale": [0.9, 1.1],
                      "translate": 0.1, "noise": 0.05}}


def augmentation(data: str, preset: str) -> dict:
    """The preset's [augment] section; digits are not mirror-symmetric, so no flips for them."""
    aug = dict(PRESETS[preset])
    if data == "digits":
        aug.pop("hflip")
    return aug


def recipe(data: str, n_train: int, epochs: int, seed: int, augment: dict | None,
           device: str = "cpu") -> nnopt.Recipe:
    data_params = {"name": data, "n_train": n_train}
    if data == "fashion_mnist":
        data_params["n_test"] = 2000
    return nnopt.Recipe({
        "data": data_params,
        "model": {"name": "cnn", "channels": [16, 32], "hidden": 64},
        "optimizer": {"name": "adam", "lr": 2e-3},
        "augment": augment or {"name": "none"},
        "train": {"epochs": epochs, "batch_size": 32, "seed": seed, "threads": 1, "device": device,
                  "checkpoint": False, "log_every": 1000},
    })


def run(r: nnopt.Recipe) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(build(r), run_dir, quiet=True)
        summary = trainer.fit()
    setup = trainer.s
    _, clean_train = evaluate(setup.model, setup.data.train, 1024)
    return {"history": trainer.history, "train_acc": clean_train, "val_acc": summary["final_val_acc"],
            "val_loss": summary["final_val_loss"], "best_val_acc": summary["best_val_acc"],
            "test_acc": summary["test_acc"]}


def plot(results: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 4.0))
    for (label, res), color in zip(results.items(), ("tab:red", "tab:blue")):
        epochs = [h["epoch"] for h in res["history"]]
        ax.plot(epochs, [h["train_acc"] for h in res["history"]], "--", color=color,
                label=f"{label}: train (batches as trained on)")
        ax.plot(epochs, [h["val_acc"] for h in res["history"]], "-", color=color, label=f"{label}: validation")
        ax_loss.plot(epochs, [h["train_loss"] for h in res["history"]], "--", color=color, label=f"{label}: train")
        ax_loss.plot(epochs, [h["val_loss"] for h in res["history"]], "-", color=color, label=f"{label}: validation")
    ax.set(xlabel="epoch", ylabel="accuracy", title=title)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
    for a in (ax, ax_loss):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fashion_mnist", choices=("fashion_mnist", "digits"))
    ap.add_argument("--preset", default="light", choices=tuple(PRESETS))
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--figure", default="docs/figures/augment_overfit.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    arms = {"no augmentation": None, f"augmentation ({args.preset})": augmentation(args.data, args.preset)}
    print(f"{args.data}, CNN, {args.n_train} training images, {args.epochs} epochs; "
          f"augment = {arms[f'augmentation ({args.preset})']}")
    rows, first = [], {}
    for seed in args.seeds:
        for label, aug in arms.items():
            r = run(recipe(args.data, args.n_train, args.epochs, seed, aug, args.device))
            first.setdefault(label, r)
            rows.append([label, seed, r["train_acc"], r["val_acc"], r["best_val_acc"], r["test_acc"],
                         r["train_acc"] - r["val_acc"], r["val_loss"]])
            print(f"  {label}, seed {seed}: train {r['train_acc']:.4f}, val {r['val_acc']:.4f}, "
                  f"test {r['test_acc']:.4f}", flush=True)
    if len(args.seeds) > 1:
        for label in arms:
            mine = [row for row in rows if row[0] == label]
            rows.append([label, "mean", *(sum(row[i] for row in mine) / len(mine) for i in range(2, 8))])
    print(format_table(["run", "seed", "train acc", "val acc", "best val acc", "test acc", "train − val",
                        "val loss"], rows))
    if args.figure:
        plot(first, args.figure, f"{args.data}: {args.n_train} training images, CNN, seed {args.seeds[0]}")
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
