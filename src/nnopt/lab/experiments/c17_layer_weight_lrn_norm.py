"""Claim 17: layer norm works per sample (batch size 1, recurrent nets); weight norm speeds early
training; local response normalization's effect on a small CNN."""
from __future__ import annotations

import torch

from ...data import load
from ...nn import build_model
from ..base import Check, Finding, LabContext, Precondition, RunResult, Table, exceeds, experiment
from ..plots import band

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


DIGITS = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [64, 64]}, "train": {"batch_size": 64}}
CNN = {"data": {"name": "digits"}, "model": {"name": "cnn", "channels": [16, 32], "hidden": 64}, "train": {"batch_size": 64}}
CONTROL_SEED = 100


@experiment("layer_weight_lrn_norm", shows={"model.norm": ["layer", "weight", "lrn"]}, cost_s=(9, 19),
            claim="Layer normalization works per sample, so it applies to batch size 1 "
            "and to recurrent networks where batch norm cannot; weight normalization speeds up early training; "
            "local response normalization helps a CNN.",
            precise="(1) In train mode, an MLP with layer norm and an RNN with layer norm inside the cell give each "
                    "of 32 digits the same output alone as within the batch (to 1e-5), and the MLP with layer norm "
                    "trains at batch size 1 (1 epoch of SGD, > 50% validation accuracy); control: the batch-norm "
                    "models must not pass; (2) weight norm's mean training loss over the first 5 epochs of SGD is "
                    "below the plain MLP's beyond the seed spread — precondition: weight norm starts from Salimans & "
                    "Kingma's data-dependent init (nnopt has none: INCONCLUSIVE); (3) LRN after each conv layer of "
                    "a small CNN raises the validation accuracy beyond the seed spread (control: the CNN without LRN "
                    "on other seeds)",
            source="Ba, Kiros & Hinton 2016; Salimans & Kingma 2016; Krizhevsky, Sutskever & Hinton 2012; Simonyan "
                   "& Zisserman 2015 (VGG, §4.1: LRN does not help)")
def layer_weight_lrn_norm(ctx: LabContext) -> Finding:
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
    batch_one = ctx.runs(lambda s: ctx.recipe(DIGITS, s, {**subset, "model.norm": "layer", "optimizer.name": "sgd",
                                                           "optimizer.lr": 0.01, "train.batch_size": 1,
                                                           "train.epochs": 1}), "layer-batch1")
    wn_epochs = 5  # the early phase, in fast mode too (100 steps)
    wn = {norm: ctx.runs(lambda s, n=norm: ctx.recipe(DIGITS, s, {"model.norm": n, "optimizer.name": "sgd",
                                                                   "optimizer.lr": 0.1, "train.epochs": wn_epochs}),
                         f"{norm}-sgd") for norm in ("none", "weight")}
    lrn = {arm: ctx.runs(lambda s, n=norm, o=offset: ctx.recipe(CNN, s + o, {"model.norm": n,
                                                                             "train.epochs": ctx.pick(2, 10)}),
                         f"cnn-{arm}") for arm, norm, offset in (("none", "none", 0), ("lrn", "lrn", 0),
                                                                  ("none-control", "none", CONTROL_SEED))}
    one_acc = batch_one.spread(RunResult.final_val_acc)

    def per_sample(labels: list[str]) -> Check:
        ok = all(isinstance(v, float) and v < SAME_TOL for x in labels for v in dependence[x])
        if any("layer" in x for x in labels):
            ok = ok and one_acc.lo > BATCH_ONE_ACC
        return Check(ok, f"batch dependence: {_fmt_dependence({x: dependence[x] for x in labels})}"
                         + (f"; LN MLP at batch 1: val acc {one_acc.fmt('.3f')}" if any("layer" in x for x in labels)
                            else ""))

    ctx.part("(1) layer norm works per sample (batch size 1, RNNs)", check=per_sample,
             on=[x for x in MODELS if "layer" in x], control=("the batch-norm models", [x for x in MODELS if "batch" in x]),
             criterion=f"every seed: batch dependence < {SAME_TOL:g}, and the LN MLP at batch 1 > {BATCH_ONE_ACC:.0%} "
                       "validation accuracy", why="a layer-norm model's output depends on its batch here")
    early_loss = {norm: rs.spread(lambda r: sum(r.series("train_loss")) / wn_epochs) for norm, rs in wn.items()}
    ctx.part("(2) weight norm speeds up early training", on=early_loss["weight"],
             check=lambda arm: exceeds(early_loss["none"], arm, what="loss(no norm) − loss(weight norm)"),
             criterion=f"mean training loss over epochs 1–{wn_epochs} below the plain MLP's beyond the seed spread",
             preconditions=[Precondition("weight norm starts from Salimans & Kingma's data-dependent init", False,
                                         "nnopt's weight norm starts from g = ‖v‖, the plain net's function")],
             why="weight norm does not lower the early training loss here")
    lrn_acc = {arm: rs.spread(RunResult.final_val_acc) for arm, rs in lrn.items()}
    ctx.part("(3) local response normalization helps a CNN", on=lrn_acc["lrn"],
             check=lambda arm: exceeds(arm, lrn_acc["none"], what="val acc(LRN) − val acc(none)"),
             criterion="final validation accuracy above the CNN without LRN beyond the seed spread (95% interval)",
             control=("the CNN without LRN, other seeds", lrn_acc["none-control"]),
             why="as in Simonyan & Zisserman 2015 (VGG §4.1), LRN does not improve accuracy: with AlexNet's constants "
                 "it mostly shrinks activations by 2^−0.75, and an 8×8 digit CNN has no large, competing feature maps "
                 "for it to normalize")
    rows = [[label, _fmt_dependence({label: dependence[label]})] for label in MODELS]
    figure = _figure(ctx, batch_one, wn, {k: v for k, v in lrn.items() if k != "none-control"})
    return ctx.finding(
        table=Table(["model (train mode)", "max |f(x alone) − f(x in batch)| over seeds"], rows
                    + [["LN MLP trained at batch 1: val acc", one_acc.fmt(".3f")],
                       [f"mean training loss over epochs 1–{wn_epochs}, plain / weight norm",
                        f"{early_loss['none'].fmt('.3f')} / {early_loss['weight'].fmt('.3f')}"],
                       ["CNN val acc, none / LRN / none (other seeds)",
                        " / ".join(lrn_acc[k].fmt(".3f") for k in ("none", "lrn", "none-control"))]]),
        figures=[figure],
        numbers={"batch_dependence": dependence, "batch_one_val_acc": one_acc, "early_train_loss": early_loss,
                 "cnn_val_acc": lrn_acc},
        notes="Weight norm without Salimans & Kingma's data-dependent init starts from the same function (g = ‖v‖) "
              "and, under plain SGD, only rescales each unit's step by g/‖v‖ ≈ 1, so (2) cannot show the claim on this "
              "workload: INCONCLUSIVE until nnopt has that init. Criterion (2) was first 'epoch-1 training loss lower "
              "for every seed'; a first fast run showed the two equal to 3 decimals, which such a criterion would have "
              "called a success, so it became a margin criterion over the first 5 epochs before any full run. Second "
              "pass: parts, controls and 95% intervals. " + ("Fast mode trains at batch size 1 on 300 digits images."
                                                             if ctx.fast else ""))


def _fmt_dependence(dependence: dict) -> str:
    parts = []
    for label, values in dependence.items():
        errors = [v for v in values if isinstance(v, str)]
        parts.append(f"{label}: {'refused (' + errors[0] + ')' if errors else f'{max(values):.2g}'}")
    return "; ".join(parts)


def _figure(ctx: LabContext, batch_one: list, wn: dict, lrn: dict) -> str:
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
        values = [r.final_val_acc() for r in rs]
        axes[2].bar(i, np.mean(values), color=("C3", "C1")[i], alpha=0.6)
        axes[2].plot([i] * len(values), values, "k.", markersize=8)
    axes[2].set_xticks([0, 1], ["CNN, no norm", "CNN + LRN"])
    lo = min(r.final_val_acc() for rs in lrn.values() for r in rs)
    axes[2].set(ylabel="final validation accuracy", ylim=(max(0.0, lo - 0.1), 1.0))
    axes[2].set_title("local response norm (bar: mean, dots: seeds; y zoomed)", fontsize=10)
    fig.suptitle(f"Digits; mean and min–max over {len(ctx.seeds)} seeds", fontsize=11)
    return ctx.save_figure(fig, "layer_weight_lrn_norm")
