"""Claim 17: layer norm works per sample (batch size 1, recurrent nets); weight norm speeds early
training; local response normalization's effect on a small CNN."""
from __future__ import annotations

import torch

from ...data import load
from ...nn import build_model
from ..base import Context, Finding, Spread, Table, experiment
from ._part2 import band, digits_recipe, final_val_acc, summarize

# per-sample check: label → (model name, builder parameters, data layout)
MODELS = {"MLP + layer norm": ("mlp", {"widths": [64, 64], "norm": "layer"}, "image"),
          "MLP + batch norm": ("mlp", {"widths": [64, 64], "norm": "batch"}, "image"),
          "RNN, layer norm in the cell": ("rnn_loop", {"cell": "rnn", "hidden": 32, "cell_norm": True}, "sequence"),
          "RNN, batch norm on the state": ("rnn", {"cell": "rnn", "hidden": 32, "norm": "batch"}, "sequence")}
BATCH_ONE_ACC, SAME_TOL = 0.5, 1e-5


def batch_dependence(model: torch.nn.Module, x: torch.Tensor) -> float | str:
    """max |f(x_i alone) − f(x_i within the batch x)| in train mode — 0 for a per-sample model; the
    error's text when the model cannot run on one sample."""
    model.train()
    with torch.no_grad():
        together = model(x)
        try:
            alone = torch.cat([model(x[i:i + 1]) for i in range(len(x))])
        except ValueError as error:
            return str(error).split(";")[0]
    return float((alone - together).abs().max())


@experiment("layer_weight_lrn_norm", shows={"model.norm": ["layer", "weight", "lrn"]},
            claim="Layer normalization works per sample, so it applies to batch size 1 "
            "and to recurrent networks where batch norm cannot; weight normalization speeds up early training; "
            "local response normalization helps a CNN.",
            precise="(1) In train mode, an MLP with layer norm and an RNN with layer norm inside the cell give each "
                    "of 32 digits the same output alone as within the batch (to 1e-5), batch norm's do not or cannot "
                    "run, and the MLP with layer norm trains at batch size 1 (1 epoch of SGD, > 50% validation "
                    "accuracy); (2) weight norm's mean training loss over the first 5 epochs of SGD is below the "
                    "plain MLP's by more than the seed std; (3) LRN after each conv layer of a small CNN raises the mean validation "
                    "accuracy by more than the seed std",
            source="Ba, Kiros & Hinton 2016; Salimans & Kingma 2016; Krizhevsky, Sutskever & Hinton 2012",
            budget_s=50, part=2)
def layer_weight_lrn_norm(ctx: Context) -> Finding:
    subset = {"data.n_train": 300} if ctx.fast else {}
    dependence = {}
    for label, (name, params, layout) in MODELS.items():
        data = load("digits", layout=layout)
        values = []
        for seed in ctx.seeds:
            torch.manual_seed(seed)
            values.append(batch_dependence(build_model(name, data.input_shape, data.n_classes, **params),
                                           data.val.x[:32]))
        dependence[label] = values
    batch_one = [ctx.run(digits_recipe(s, {**subset, "model.widths": [64, 64], "model.norm": "layer",
                                           "optimizer.name": "sgd", "optimizer.lr": 0.01, "train.batch_size": 1,
                                           "train.epochs": 1}), f"layer-batch1-s{s}")
                 for s in ctx.seeds]
    wn_epochs = 5  # the early phase, in fast mode too (100 steps)
    wn = {norm: [ctx.run(digits_recipe(s, {"model.widths": [64, 64], "model.norm": norm,
                                           "optimizer.name": "sgd", "optimizer.lr": 0.1, "train.epochs": wn_epochs}),
                         f"{norm}-sgd-s{s}") for s in ctx.seeds] for norm in ("none", "weight")}
    lrn = {norm: [ctx.run(digits_recipe(s, {"model.name": "cnn", "model.channels": [16, 32],
                                            "model.hidden": 64, "model.norm": norm, "train.epochs": ctx.pick(2, 10)}),
                          f"cnn-{norm}-s{s}") for s in ctx.seeds] for norm in ("none", "lrn")}

    per_sample = all(isinstance(v, float) and v < SAME_TOL for label in MODELS if "layer" in label
                     for v in dependence[label])
    bn_depends = all(isinstance(v, str) or v > SAME_TOL for label in MODELS if "batch" in label
                     for v in dependence[label])
    one_acc = Spread([final_val_acc(r) for r in batch_one])
    early_loss = {norm: Spread([sum(r.series("train_loss")) / wn_epochs for r in rs]) for norm, rs in wn.items()}
    lrn_acc = {norm: Spread([final_val_acc(r) for r in rs]) for norm, rs in lrn.items()}
    checks = {
        "(1) layer norm per sample": (per_sample and bn_depends and one_acc.lo > BATCH_ONE_ACC,
                                      f"batch dependence: {_fmt_dependence(dependence)}; LN MLP at batch 1: val acc "
                                      f"{one_acc.fmt('.3f')}"),
        "(2) weight norm early": (clearly_above(early_loss["none"], early_loss["weight"]),
                                  f"mean training loss over epochs 1–{wn_epochs}: weight norm "
                                  f"{early_loss['weight'].fmt('.3f')}, none {early_loss['none'].fmt('.3f')}"),
        "(3) LRN helps the CNN": (clearly_above(lrn_acc["lrn"], lrn_acc["none"]),
                                  f"CNN val acc: LRN {lrn_acc['lrn'].fmt('.3f')}, none {lrn_acc['none'].fmt('.3f')}"),
    }
    verdict, summary, failed = summarize(checks)
    rows = [[label, _fmt_dependence({label: dependence[label]})] for label in MODELS]
    figure = _figure(ctx, batch_one, wn, lrn)
    return Finding(
        verdict=verdict,
        criterion=f"all three: (1) every seed: LN models' batch dependence < {SAME_TOL:g}, BN models' > {SAME_TOL:g} or "
                  f"refused, LN MLP at batch 1 > {BATCH_ONE_ACC:.0%} validation accuracy; (2) mean training loss "
                  f"over epochs 1–{wn_epochs}: no norm's − weight norm's > the larger seed std; (3) mean CNN "
                  "validation accuracy: with LRN − without > the larger seed std",
        measured=summary,
        table=Table(["model (train mode)", "max |f(x alone) − f(x in batch)| over seeds"], rows
                    + [["LN MLP trained at batch 1: val acc", one_acc.fmt(".3f")],
                       [f"mean training loss over epochs 1–{wn_epochs}, plain / weight norm",
                        f"{early_loss['none'].fmt('.3f')} / {early_loss['weight'].fmt('.3f')}"],
                       ["CNN val acc, none / LRN", f"{lrn_acc['none'].fmt('.3f')} / {lrn_acc['lrn'].fmt('.3f')}"]]),
        figures=[figure],
        numbers={"batch_dependence": dependence, "batch_one_val_acc": one_acc, "early_train_loss": early_loss,
                 "cnn_val_acc": lrn_acc, "checks": {k: ok for k, (ok, _) in checks.items()}},
        notes=failed
              + "Why (2) and (3) can fail here: weight norm without Salimans & Kingma's data-dependent init starts "
                "from the same function (g = ‖v‖) and, under plain SGD, only rescales each unit's step by g/‖v‖ ≈ 1; "
                "LRN with AlexNet's constants (k = 2, β = 0.75) mostly shrinks activations by 2^−0.75, and an 8×8 "
                "digit CNN has no large, competing feature maps for it to normalize. "
              + "Criterion (2) was first 'epoch-1 training loss lower for every seed'; a first fast run showed the "
                "two equal to 3 decimals (SGD at lr 0.1 barely moves in 20 steps), which such a criterion would have "
                "called a success, so it became the margin criterion over the first 5 epochs before any full run. "
              + ("Fast mode trains at batch size 1 on 300 digits images." if ctx.fast else ""))


def clearly_above(a: Spread, b: Spread) -> bool:
    """a's mean exceeds b's by more than the larger of their seed standard deviations."""
    return a.mean - b.mean > max(a.std, b.std)


def _fmt_dependence(dependence: dict) -> str:
    parts = []
    for label, values in dependence.items():
        errors = [v for v in values if isinstance(v, str)]
        parts.append(f"{label}: {'refused (' + errors[0] + ')' if errors else f'{max(values):.2g}'}")
    return "; ".join(parts)


def _figure(ctx: Context, batch_one: list, wn: dict, lrn: dict) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2), layout="constrained")
    window = 10  # log points (every 10 steps): a moving average over 100 one-sample losses
    steps = [np.convolve([s["loss"] for s in r.steps], np.ones(window) / window, mode="valid") for r in batch_one]
    n = min(map(len, steps))
    band(axes[0], [r["step"] for r in batch_one[0].steps[window - 1:window - 1 + n]], [s[:n] for s in steps],
         "MLP + layer norm, batch 1", "C0")
    axes[0].set(xlabel="SGD step (batch size 1, lr 0.01)",
                ylabel="training loss (nats; moving mean of 10 logged steps)")
    axes[0].set_title("layer norm trains at batch size 1 (batch norm refuses)", fontsize=10)
    axes[0].legend(loc="upper right")
    for (norm, rs), color in zip(wn.items(), ("C3", "C2")):
        steps = [[s["loss"] for s in r.steps] for r in rs]
        n = min(map(len, steps))
        band(axes[1], [s["step"] for s in rs[0].steps[:n]], [s[:n] for s in steps],
             "weight norm" if norm == "weight" else "no norm", color)
    axes[1].set(xlabel="SGD step (batch 64, lr 0.1)", ylabel="training loss (nats, batch)")
    axes[1].set_title("weight norm vs plain MLP 64-64", fontsize=10)
    axes[1].legend(loc="upper right")
    for i, (norm, rs) in enumerate(lrn.items()):
        values = [final_val_acc(r) for r in rs]
        axes[2].bar(i, np.mean(values), color=("C3", "C1")[i], alpha=0.6)
        axes[2].plot([i] * len(values), values, "k.", markersize=8)
    axes[2].set_xticks([0, 1], ["CNN, no norm", "CNN + LRN"])
    lo = min(final_val_acc(r) for rs in lrn.values() for r in rs)
    axes[2].set(ylabel="final validation accuracy", ylim=(max(0.0, lo - 0.1), 1.0))
    axes[2].set_title("local response norm (bar: mean, dots: seeds; y zoomed)", fontsize=10)
    fig.suptitle(f"Digits; mean and min–max over {len(ctx.seeds)} seeds", fontsize=11)
    return ctx.save_figure(fig, "layer_weight_lrn_norm")
