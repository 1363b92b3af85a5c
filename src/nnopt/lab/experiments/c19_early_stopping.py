"""Claim 19: early stopping stops `patience` epochs after the validation-loss minimum and restores the
best epoch's weights; without it, the validation loss of a long unregularized run is U-shaped."""
from __future__ import annotations

import torch

from ..base import Context, Finding, Spread, Table, experiment, holds
from ..regularization_tools import Snapshots, band, recipe

SECTIONS = {"data": {"name": "digits", "n_train": 300}, "model": {"name": "mlp", "widths": [256, 256]},
            "optimizer": {"name": "adam", "lr": 2e-3}, "train": {"batch_size": 32}}


def expected_stop(val_loss: list[float], patience: int) -> tuple[int, int] | None:
    """(best epoch, stop epoch) by hand from an unstopped run's curve: the first epoch e at which the
    lowest loss so far (at epoch m, 1-based) is `patience` epochs old stops, keeping m; None if no
    epoch of the curve stops."""
    best, m = float("inf"), 0
    for e, loss in enumerate(val_loss, 1):
        if loss < best:
            best, m = loss, e
        elif e - m >= patience:
            return m, e
    return None


def max_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@experiment("early_stopping", shows={"regularization.early_stopping.patience": "*"},
            claim="Early stopping ends training once the validation loss stops improving and "
            "returns the parameters of its best epoch; the validation loss of a long unregularized run is U-shaped",
            precise="Digits (300 training images), an MLP 64-256-256-10 trained by Adam without regularization: "
                    "(1) the validation loss per epoch falls, reaches a minimum well before the end and rises "
                    "again; (2) with early stopping (monitor val_loss, patience P, Keras' semantics) the run stops "
                    "exactly P epochs after the epoch of its lowest validation loss — the stop and best epochs "
                    "predicted by hand from the unstopped run's curve (same seed, bit-identical trajectory) — and "
                    "restore_best_weights returns exactly the weights the unstopped run had at that epoch",
            source="Prechelt 1998 (early stopping); Goodfellow, Bengio & Courville 2016, §7.8; Keras EarlyStopping",
            budget_s=30, part=3)
def early_stopping(ctx: Context) -> Finding:
    epochs, patience = ctx.pick(40, 80), ctx.pick(5, 10)
    es = {"regularization.early_stopping": {"patience": patience, "monitor": "val_loss",
                                            "restore_best_weights": True}}
    long_runs, stopped, errors, predicted = [], [], [], []
    for s in ctx.seeds:
        snaps = Snapshots()
        long_runs.append(ctx.run(recipe(SECTIONS, s, {"train.epochs": epochs}), f"long-s{s}", callbacks=[snaps]))
        run = ctx.run(recipe(SECTIONS, s, {"train.epochs": epochs, **es}), f"early_stopping-s{s}")
        stopped.append(run)
        predicted.append(expected_stop(long_runs[-1].series("val_loss"), patience))
        best = run.summary["early_stopping_best_epoch"]
        restored = torch.load(run.run_dir / "model.pt")
        errors.append(max_difference(restored, snaps.states[best]) if best in snaps.states else float("inf"))
    curves = [r.series("val_loss") for r in long_runs]
    min_epoch = Spread([min(range(len(c)), key=c.__getitem__) + 1 for c in curves])
    rise = Spread([c[-1] / min(c) for c in curves])
    u_shaped = all(m <= 0.6 * epochs for m in min_epoch.values) and rise.lo >= 1.1
    actual = [(r.summary["early_stopping_best_epoch"], r.summary["stopped_epoch"]) for r in stopped]
    stops_right = all(p is not None and p == a for p, a in zip(predicted, actual))
    restores = max(errors) == 0.0
    rows = [[s, f"{m:.0f}", f"{ratio:.2f}", f"{p[0]} / {p[1]}" if p else "no stop", f"{a[0]} / {a[1]}", f"{e:.1e}"]
            for s, m, ratio, p, a, e in zip(ctx.seeds, min_epoch.values, rise.values, predicted, actual, errors)]
    fig = plot(long_runs, stopped, epochs)
    return Finding(
        verdict=holds(u_shaped and stops_right and restores),
        criterion=f"(1) U shape: the val-loss minimum at epoch ≤ 60% of {epochs} and final/min ≥ 1.1 for every "
                  f"seed; (2) best/stop epochs equal the hand prediction (stop = best + {patience}) for every seed; "
                  "(3) restored weights equal the unstopped run's best-epoch weights exactly",
        measured=f"val-loss minimum at epoch {min_epoch.fmt('.0f')}, final/min {rise.fmt('.2f')}; stop epochs "
                 f"{'as predicted' if stops_right else 'NOT as predicted'}; max |restored − best-epoch weights| "
                 f"{max(errors):.1e}",
        table=Table(["seed", "val-loss min epoch (long run)", "final / min val loss",
                     "predicted best / stop", "early stopping best / stop", "max |Δθ| restored"], rows),
        figures=[ctx.save_figure(fig, "u_curve")],
        numbers={"min_epoch": min_epoch, "rise": rise, "predicted": predicted, "actual": actual,
                 "restore_error": errors, "patience": patience, "epochs": epochs},
        notes="--fast trains 40 epochs instead of 80 under the same U criterion: the validation loss has half "
              "the time to rise, and on some seeds it stays below 1.1× its minimum.")


def plot(long_runs, stopped, epochs):
    import matplotlib.pyplot as plt

    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    x = range(1, epochs + 1)
    band(ax, x, [r.series("train_loss") for r in long_runs], "training loss", "tab:blue", "--")
    for a in (ax, zoom):
        band(a, x, [r.series("val_loss") for r in long_runs], "validation loss", "tab:orange")
        for k, r in enumerate(stopped):
            best, stop = r.summary["early_stopping_best_epoch"], r.summary["stopped_epoch"]
            a.axvline(best, color="tab:green", lw=1, alpha=0.7, label="best epoch (restored)" if k == 0 else None)
            if stop is not None:
                a.axvline(stop, color="tab:red", ls=":", lw=1, alpha=0.8, label="early stop" if k == 0 else None)
        a.grid(alpha=0.3)
        a.set_xlabel("epoch")
    ax.set(ylabel="cross-entropy loss (log scale)", yscale="log", title="training and validation loss")
    low = min(min(r.series("val_loss")) for r in long_runs)
    zoom.set(ylabel="validation cross-entropy loss", ylim=(0.8 * low, 2.2 * low),
             title="validation loss, zoomed: the U")
    ax.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"Digits, 300 training images, no regularization ({len(long_runs)} seeds: mean and "
                 "min–max band; one line per seed's early stop)")
    return fig
