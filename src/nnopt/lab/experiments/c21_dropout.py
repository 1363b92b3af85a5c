"""Claim 21: dropout narrows the train–test gap; weight scaling ≈ the Monte-Carlo mask ensemble;
variational beats naive dropout in a recurrent network."""
from __future__ import annotations

import numpy as np
import torch

from ...nn.mc_dropout import mc_dropout_samples
from ..base import Context, Finding, Spread, Table, experiment, holds
from ..regularization_tools import band, clean_accuracy, probabilities, recipe, run_kept

MLP = {"data": {"name": "digits", "n_train": 300}, "model": {"name": "mlp", "widths": [256, 256]},
       "optimizer": {"name": "adam", "lr": 1e-3}, "train": {"batch_size": 32}}
P = 0.5  # Srivastava et al.'s hidden-unit drop probability
RNN = {"data": {"name": "digits_seq", "n_train": 300}, "model": {"name": "rnn_loop", "cell": "lstm", "hidden": 64},
       "optimizer": {"name": "adam", "lr": 3e-3}, "train": {"batch_size": 32}}
P_RNN = 0.3
RNN_ARMS = {"no dropout": {},
            "naive (per step, x and h_t)": {"model.name": "rnn_loop_naive", "model.naive_dropout": P_RNN},
            "variational (per sequence, x, h_t−1, h_t)": {"regularization.variational_dropout": P_RNN}}
SAMPLES = (1, 2, 5, 10, 20, 50, 100)


def mc_curve(setup) -> tuple[list[float], float, list[float], float]:
    """Test accuracy and NLL of the running MC average after T ∈ SAMPLES masks, and of weight scaling."""
    test = setup.data.test
    draws = mc_dropout_samples(setup.model, test.x, max(SAMPLES))
    running = torch.cumsum(draws, 0) / torch.arange(1, len(draws) + 1).view(-1, 1, 1)
    acc = [float((running[t - 1].argmax(1) == test.y).float().mean()) for t in SAMPLES]
    nll = [float(-torch.log(running[t - 1][torch.arange(len(test.y)), test.y].clamp_min(1e-12)).mean())
           for t in SAMPLES]
    scaled = probabilities(setup.model, test.x)
    return acc, float((scaled.argmax(1) == test.y).float().mean()), nll, \
        float(-torch.log(scaled[torch.arange(len(test.y)), test.y].clamp_min(1e-12)).mean())


@experiment("dropout", claim="Dropout reduces overfitting; it trains an ensemble of sub-networks that weight scaling "
            "averages at test time; in recurrent networks the mask must be the same at every time step",
            precise="(a) Digits with 300 training images, MLP 64-256-256-10, Adam: dropout p = 0.5 after each hidden "
                    "layer gives a smaller train − test accuracy gap than none; (b) on that dropout network the "
                    "Monte-Carlo average of T = 100 mask networks' softmax has a test accuracy within 1 point of "
                    "the weight-scaled network's (one pass, no mask); (c) an LSTM (64 units) reading digits row by "
                    "row (8 steps, 300 training sequences), p = 0.3: variational dropout (one mask per sequence "
                    "on x_t, h_{t−1}, h_t) reaches a higher test accuracy than naive dropout (a new mask at each "
                    "step on x_t and h_t, Zaremba et al. 2014)",
            source="Srivastava et al. 2014 (§7.5 MC vs weight scaling); Gal & Ghahramani 2016 (variational RNN "
                   "dropout); Zaremba et al. 2014", budget_s=50, part=3)
def dropout(ctx: Context) -> Finding:
    epochs, rnn_epochs = ctx.pick(8, 40), ctx.pick(4, 25)
    mlp = {name: [run_kept(ctx, recipe(MLP, s, {"train.epochs": epochs, "regularization.dropout": p}),
                           f"mlp-{name}-s{s}") for s in ctx.seeds] for name, p in (("none", 0.0), ("dropout", P))}
    train = {k: Spread([clean_accuracy(st, "train") for _, st in rs]) for k, rs in mlp.items()}
    test = {k: Spread([r.summary["test_acc"] for r, _ in rs]) for k, rs in mlp.items()}
    gap = {k: Spread([a - b for a, b in zip(train[k].values, test[k].values)]) for k in mlp}
    torch.manual_seed(0)
    curves = [mc_curve(st) for _, st in mlp["dropout"]]
    mc_acc = [c[0] for c in curves]
    scaled_acc = Spread([c[1] for c in curves])
    mc_gap = Spread([abs(a[-1] - s) for a, s in zip(mc_acc, scaled_acc.values)])
    rnn = {arm: [ctx.run(recipe(RNN, s, {"train.epochs": rnn_epochs, **over}), f"rnn-{k}-s{s}")
                 for s in ctx.seeds] for k, (arm, over) in enumerate(RNN_ARMS.items())}
    rnn_test = {arm: Spread([r.summary["test_acc"] for r in rs]) for arm, rs in rnn.items()}
    naive, variational = (rnn_test[a] for a in list(RNN_ARMS)[1:])
    ok = {"gap": gap["dropout"].mean < gap["none"].mean, "mc": mc_gap.mean <= 0.01,
          "rnn": variational.mean > naive.mean}
    rows = [["MLP, no dropout", train["none"].fmt(".3f"), test["none"].fmt(".3f"), gap["none"].fmt(".3f")],
            [f"MLP, dropout {P}", train["dropout"].fmt(".3f"), test["dropout"].fmt(".3f"), gap["dropout"].fmt(".3f")],
            ["  weight scaling (1 pass)", "", scaled_acc.fmt(".3f"), ""],
            [f"  MC average, T = {SAMPLES[-1]}", "", Spread([a[-1] for a in mc_acc]).fmt(".3f"),
             f"|MC − scaled| {mc_gap.fmt('.3f')}"],
            [f"  MC, T = 1 (one mask)", "", Spread([a[0] for a in mc_acc]).fmt(".3f"), ""],
            *([f"LSTM, {arm}", "", rnn_test[arm].fmt(".3f"), ""] for arm in RNN_ARMS)]
    failing = [k for k, v in ok.items() if not v]
    notes = ""
    if not ok["rnn"] and rnn_test["no dropout"].mean >= max(naive.mean, variational.mean):
        notes = (f"(c) fails because the LSTM without dropout is the most accurate: at this budget ({rnn_epochs} "
                 "epochs, 300 sequences of 8 steps) it underfits rather than overfits, so any dropout costs "
                 "accuracy, and variational dropout, which also drops h_{t−1}, costs most. Gal & Ghahramani's "
                 "gain is on long sequences with large networks that overfit (language modelling).")
    fig = plot(mlp, train, test, mc_acc, scaled_acc, rnn, rnn_epochs)
    return Finding(
        verdict=holds(not failing),
        criterion="(a) mean gap with dropout < without; (b) mean |acc(MC, T=100) − acc(weight scaling)| ≤ 0.01; "
                  "(c) mean LSTM test accuracy variational > naive",
        measured=f"gap {gap['none'].mean:.3f} → {gap['dropout'].mean:.3f}; |MC100 − scaled| {mc_gap.mean:.4f}; "
                 f"LSTM test acc naive {naive.mean:.3f} vs variational {variational.mean:.3f}"
                 + (f"; failing: {', '.join(failing)}" if failing else ""),
        table=Table(["model", "train acc (eval mode)", "test acc", "gap / note"], rows),
        figures=[ctx.save_figure(fig, "dropout")],
        numbers={"train_acc": train, "test_acc": test, "gap": gap, "mc_samples": list(SAMPLES), "mc_acc": mc_acc,
                 "scaled_acc": scaled_acc, "mc_vs_scaled": mc_gap, "rnn_test_acc": rnn_test, "parts": ok},
        notes=notes)


def plot(mlp, train, test, mc_acc, scaled_acc, rnn, rnn_epochs):
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
    for k, (arm, color) in enumerate((("none", "tab:gray"), ("dropout", "tab:blue"))):
        for j, (what, sp) in enumerate((("train", train[arm]), ("test", test[arm]))):
            x = j * 3 + k
            a.bar(x, sp.mean, color=color, alpha=0.8 if what == "train" else 0.5,
                  label=("no dropout" if arm == "none" else f"dropout p = {P}") if j == 0 else None)
            a.scatter([x] * len(sp.values), sp.values, color="k", s=10, zorder=3)
    a.set_xticks([0.5, 3.5], ["train (eval mode)", "test"])
    a.set(ylabel="accuracy", ylim=(0.8, 1.005), title="(a) MLP on 300 digits: the gap")
    a.legend(fontsize=8, loc="lower left")
    band(b, SAMPLES, mc_acc, "MC average of T mask networks", "tab:blue", "-o")
    b.axhline(scaled_acc.mean, color="tab:red", lw=1.5, label="weight scaling (one pass)")
    b.axhspan(scaled_acc.lo, scaled_acc.hi, color="tab:red", alpha=0.15, lw=0)
    b.set(xscale="log", xlabel="T (sampled dropout masks)", ylabel="test accuracy",
          title="(b) the ensemble view")
    b.legend(fontsize=8, loc="lower right")
    for (arm, runs), color in zip(rnn.items(), ("tab:gray", "tab:orange", "tab:green")):
        band(c, range(1, rnn_epochs + 1), [r.series("val_acc") for r in runs], arm, color)
    c.set(xlabel="epoch", ylabel="validation accuracy", title=f"(c) LSTM on digit rows, dropout {P_RNN}")
    c.legend(fontsize=8, loc="lower right")
    for ax in (a, b, c):
        ax.grid(alpha=0.3)
    fig.suptitle(f"Dropout ({len(train['none'].values)} seeds: mean, dots or band = each seed / min–max)")
    return fig
