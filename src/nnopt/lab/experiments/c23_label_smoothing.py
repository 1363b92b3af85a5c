"""Claim 23: label smoothing improves calibration; the book's ε/(K−1) vs torch's ε/K targets."""
from __future__ import annotations

import torch

from ...metrics import reliability
from ..base import Context, Finding, Spread, Table, experiment, holds
from ..regularization_tools import probabilities, recipe, run_kept

EPS, BINS = 0.1, 15
SECTIONS = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [256, 256]},
            "optimizer": {"name": "adam", "lr": 1e-3}, "train": {"batch_size": 32}}
ARMS = {"no smoothing": {},
        f"book ε = {EPS}": {"regularization.label_smoothing": EPS, "regularization.label_smoothing_convention": "book"},
        f"torch ε = {EPS}": {"regularization.label_smoothing": EPS, "regularization.label_smoothing_convention": "torch"}}


def target(arm: str, k: int) -> float:
    """The smoothed target of the true class: 1 (none), 1 − ε (book), 1 − ε + ε/K (torch)."""
    return 1.0 if arm == "no smoothing" else (1 - EPS if arm.startswith("book") else 1 - EPS + EPS / k)


def true_class_probability(setup, split: str) -> float:
    """Mean predicted probability of the true class on a split (eval mode)."""
    data = getattr(setup.data, split)
    return float(probabilities(setup.model, data.x)[torch.arange(len(data.y)), data.y].mean())


@experiment("label_smoothing", claim="Label smoothing (1 − ε on the true class, ε spread over the others) keeps the "
            "network from becoming overconfident",
            precise="Digits, an MLP 64-256-256-10 trained by Adam for 30 epochs, ε = 0.1: the expected calibration "
                    "error (15 equal-width bins) on the test set is lower with label smoothing than without, in "
                    "both conventions; and the mean predicted probability of the true class on the training set "
                    "approaches each convention's own target — 1 − ε = 0.9 (book, ε/(K−1) elsewhere) vs "
                    "1 − ε + ε/K = 0.91 (torch, ε/K elsewhere) — closer to its own than to the other's",
            source="Szegedy et al. 2016 (label smoothing); Müller, Kornblith & Hinton 2019 (calibration); "
                   "Guo et al. 2017 (ECE)", budget_s=30, part=3)
def label_smoothing(ctx: Context) -> Finding:
    epochs = ctx.pick(6, 30)
    runs = {arm: [run_kept(ctx, recipe(SECTIONS, s, {"train.epochs": epochs, **over}), f"ls{k}-s{s}")[1]
                  for s in ctx.seeds] for k, (arm, over) in enumerate(ARMS.items())}
    k = runs["no smoothing"][0].data.n_classes
    rel = {arm: [reliability(probabilities(st.model, st.data.test.x), st.data.test.y, BINS) for st in sts]
           for arm, sts in runs.items()}
    ece = {arm: Spread([r.ece for r in rs]) for arm, rs in rel.items()}
    conf = {arm: Spread([r.mean_confidence for r in rs]) for arm, rs in rel.items()}
    acc = {arm: Spread([r.accuracy_all for r in rs]) for arm, rs in rel.items()}
    p_true = {arm: Spread([true_class_probability(st, "train") for st in sts]) for arm, sts in runs.items()}
    book, torch_arm = list(ARMS)[1:]
    better = all(ece[a].mean < ece["no smoothing"].mean for a in (book, torch_arm))
    own = all(abs(p_true[a].mean - target(a, k)) < abs(p_true[a].mean - target(b, k))
              for a, b in ((book, torch_arm), (torch_arm, book)))
    rows = [[arm, acc[arm].fmt(".3f"), conf[arm].fmt(".3f"), ece[arm].fmt(".3f"), f"{target(arm, k):.3f}",
             p_true[arm].fmt(".3f")] for arm in ARMS]
    notes = ""
    if not better:
        notes = ("Smoothing lowers the confidence below the accuracy here: a digits MLP is "
                 f"{acc['no smoothing'].mean:.0%} accurate, and the unsmoothed network's confidence "
                 f"({conf['no smoothing'].mean:.3f}) is closer to that than the smoothed ones' — the overconfidence "
                 "label smoothing corrects (Müller et al.'s CIFAR/ImageNet networks) is small on this task.")
    return Finding(
        verdict=holds(better and own),
        criterion="test ECE (15 bins), mean over seeds: both smoothed < unsmoothed; train mean p(true class) "
                  "closer to its own convention's target than to the other's",
        measured=", ".join(f"ECE {arm} {ece[arm].mean:.3f}" for arm in ARMS)
                 + f"; p(true) book {p_true[book].mean:.3f} (target {target(book, k):.2f}), torch "
                   f"{p_true[torch_arm].mean:.3f} (target {target(torch_arm, k):.2f})",
        table=Table(["targets", "test acc", "mean confidence", "ECE", "true-class target",
                     "train p(true class)"], rows),
        figures=[ctx.save_figure(plot(rel, ece), "reliability")],
        numbers={"ece": ece, "mean_confidence": conf, "test_acc": acc, "train_p_true": p_true,
                 "targets": {arm: target(arm, k) for arm in ARMS}},
        notes=(notes + f" The two conventions' train p(true class) differ by {p_true[torch_arm].mean - p_true[book].mean:.4f} "
               f"(the targets by ε/K = {EPS / k:.3f}); each is still below its target after {epochs} epochs.").strip())


def plot(rel, ece):
    import matplotlib.pyplot as plt
    import numpy as np

    colors = dict(zip(rel, ("tab:gray", "tab:blue", "tab:orange")))
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    a.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    for arm, rs in rel.items():
        counts = np.array([r.count for r in rs], dtype=float)
        accs = np.nan_to_num(np.array([r.accuracy for r in rs])) * counts
        confs = np.nan_to_num(np.array([r.confidence for r in rs])) * counts
        n = counts.sum(0)
        keep = n > 0  # pooled over seeds: Σ correct / Σ count per bin
        x, y = confs.sum(0)[keep] / n[keep], accs.sum(0)[keep] / n[keep]
        a.plot(x, y, "-", color=colors[arm], lw=1, alpha=0.6)
        a.scatter(x, y, s=8 + 400 * n[keep] / n.sum(), color=colors[arm], alpha=0.8,
                  label=f"{arm} (ECE {ece[arm].mean:.3f} ± {ece[arm].std:.3f})")
    a.set(xlabel="confidence (mean of the bin)", ylabel="accuracy in the bin", xlim=(0, 1.01), ylim=(0, 1.01),
          title="reliability diagram, test set, seeds pooled (area ∝ samples)")
    a.legend(fontsize=8, loc="upper left")
    edges = rel[next(iter(rel))][0].edges
    for arm, rs in rel.items():
        counts = np.array([r.count for r in rs], dtype=float).sum(0)
        b.stairs(counts / counts.sum(), edges, color=colors[arm], lw=1.5, label=arm)
    b.set(xlabel="confidence (max softmax probability)", ylabel="share of test predictions", yscale="log",
          title="where the confidences fall")
    b.legend(fontsize=8, loc="upper left")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Label smoothing on digits ({len(next(iter(rel.values())))} seeds)")
    return fig
