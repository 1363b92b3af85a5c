"""Claim 19: early stopping stops `patience` epochs after the validation-loss minimum and restores the
best epoch's weights; without it, the validation loss of a long unregularized run is U-shaped."""
from __future__ import annotations

import torch

from ..base import Check, Finding, LabContext, Precondition, Snapshots, Spread, Table, experiment
from ..plots import band

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


def lowest_epoch(curve: list[float]) -> int:
    """The (1-based) epoch of a curve's minimum."""
    return min(range(len(curve)), key=curve.__getitem__) + 1


def u_shape(epochs: int):
    """The criterion of (1) on per-seed curves: the minimum at epoch ≤ 60% of `epochs` and final/min ≥ 1.1,
    every seed."""
    def check(curves: list[list[float]]) -> Check:
        at = [lowest_epoch(c) for c in curves]
        rise = [c[-1] / min(c) for c in curves]
        return Check(all(m <= 0.6 * epochs for m in at) and min(rise) >= 1.1,
                     f"minimum at epoch {Spread([float(m) for m in at]).fmt('.0f')}, final/min {Spread(rise).fmt('.2f')}")
    return check


@experiment("early_stopping", shows={"regularization.early_stopping.patience": "*"}, accepts_recipe=True,
            cost_s=(2.8, 7),
            claim="Early stopping ends training once the validation loss stops improving and "
            "returns the parameters of its best epoch; the validation loss of a long unregularized run is U-shaped",
            precise="Digits (300 training images), an MLP 64-256-256-10 trained by Adam without regularization: "
                    "(1) the validation loss per epoch falls, reaches a minimum by 60% of the run and ends ≥ 1.1× it, "
                    "every seed (control: the training loss of the same runs must not pass); (2) with early stopping "
                    "(monitor val_loss, patience P, Keras' semantics) the run stops exactly P epochs after the epoch of "
                    "its lowest validation loss — the stop and best epochs predicted by hand from the unstopped run's "
                    "curve (same seed, bit-identical trajectory; control: the prediction for patience P + 1 must not "
                    "match) — and (3) restore_best_weights returns exactly the weights the unstopped run had at that "
                    "epoch (control: the unstopped run's final weights must differ). Precondition of (1): the run is "
                    "long (each seed trains past its minimum at least as long as it took to reach it); of (2) and "
                    "(3): the unstopped runs' curves trigger a stop. With --on, on your recipe",
            source="Prechelt 1998 (early stopping); Goodfellow, Bengio & Courville 2016, §7.8; Keras EarlyStopping")
def early_stopping(ctx: LabContext) -> Finding:
    epochs, patience = ctx.pick(30, 80), ctx.pick(5, 10)
    es = {"regularization.early_stopping": {"patience": patience, "monitor": "val_loss",
                                            "restore_best_weights": True}}
    snaps: list[Snapshots] = []
    long_runs = ctx.runs(lambda s: ctx.recipe(SECTIONS, s, {"train.epochs": epochs}), "long",
                         lambda: [snaps.append(Snapshots()) or snaps[-1]])
    stopped = ctx.runs(lambda s: ctx.recipe(SECTIONS, s, {"train.epochs": epochs, **es}), "early_stopping")
    predicted = [expected_stop(r.series("val_loss"), patience) for r in long_runs]
    wrong_patience = [expected_stop(r.series("val_loss"), patience + 1) for r in long_runs]
    actual = [(r.summary["early_stopping_best_epoch"], r.summary["stopped_epoch"]) for r in stopped]
    errors, final_errors = [], []
    for run, snap in zip(stopped, snaps):
        best = run.summary["early_stopping_best_epoch"]
        restored = torch.load(run.run_dir / "model.pt")
        errors.append(max_difference(restored, snap.states[best]) if best in snap.states else float("inf"))
        final_errors.append(max_difference(snap.states[max(snap.states)], snap.states[best])
                            if best in snap.states else float("inf"))
    curves = [r.series("val_loss") for r in long_runs]
    lowest = [lowest_epoch(c) for c in curves]
    long_run = Precondition("the run is long: every seed trains past its validation minimum for at least as many "
                            "epochs as it took to reach it", all(len(c) >= 2 * m for c, m in zip(curves, lowest)),
                            f"minima at epochs {lowest} of {epochs}")
    ctx.part("(1) the unregularized validation loss is U-shaped", check=u_shape(epochs), on=curves,
             criterion=f"the validation-loss minimum at epoch ≤ 60% of {epochs} and final/min ≥ 1.1, every seed",
             control=("the training loss of the same runs", [r.series("train_loss") for r in long_runs]),
             preconditions=[long_run], why=f"the validation loss has not risen 10% above its minimum within {epochs} epochs on every seed")
    triggers = Precondition("the unstopped runs' validation curves trigger a stop", all(p is not None for p in predicted),
                            f"predicted (best, stop) {predicted}")
    ctx.part(f"(2) it stops {patience} epochs after the best epoch, as predicted by hand",
             check=lambda pred: Check(pred == actual, f"predicted {pred}, early stopping {actual}"), on=predicted,
             criterion="(best, stop) epochs equal the hand prediction from the unstopped curve, every seed",
             control=(f"the prediction for patience {patience + 1}", wrong_patience), preconditions=[triggers],
             why="nnopt's early stopping does not stop where Keras' semantics say")
    ctx.part("(3) it restores the best epoch's weights exactly",
             check=lambda err: Check(max(err) == 0.0, f"max |restored − best-epoch weights| {max(err):.1e}"),
             on=errors, criterion="restored weights equal the unstopped run's weights at the best epoch, bit for bit",
             control=("the unstopped run's final weights", final_errors), preconditions=[triggers],
             why="the restored weights are not the best epoch's")
    min_epoch = Spread([float(min(range(len(c)), key=c.__getitem__) + 1) for c in curves])
    rise = Spread([c[-1] / min(c) for c in curves])
    rows = [[s, f"{m:.0f}", f"{ratio:.2f}", f"{p[0]} / {p[1]}" if p else "no stop", f"{a[0]} / {a[1]}", f"{e:.1e}"]
            for s, m, ratio, p, a, e in zip(ctx.seeds, min_epoch.values, rise.values, predicted, actual, errors)]
    return ctx.finding(
        table=Table(["seed", "val-loss min epoch (long run)", "final / min val loss",
                     "predicted best / stop", "early stopping best / stop", "max |Δθ| restored"], rows),
        figures=[ctx.save_figure(plot(long_runs, stopped, epochs), "u_curve",
                                 caption="the validation loss's U, and each seed's stop (red) P epochs after its best "
                                         "epoch (green)")],
        numbers={"min_epoch": min_epoch, "rise": rise, "predicted": predicted, "actual": actual,
                 "restore_error": errors, "final_vs_best": final_errors, "patience": patience, "epochs": epochs},
        notes="--fast trains 40 epochs instead of 80 under the same U criterion: the validation loss has half "
              "the time to rise, and on some seeds it stays below 1.1× its minimum. Second pass: parts and controls "
              "added; the setup is unchanged.")


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
