"""Claim 23: label smoothing keeps the network from becoming overconfident — judged on a baseline that is
overconfident (trained long on little data, Guo et al. 2017), with ECE followed over the epochs."""
from __future__ import annotations

import json

from ...metrics import reliability
from ...train import Callback
from ..base import (Check, Finding, LabContext, Precondition, Spread, Table, all_of, exceeds, experiment,
                   probabilities)
from ..plots import band, figure, finish, spread_note

EPS, BINS, OVERCONFIDENT = 0.1, 15, 0.02
SECTIONS = {"data": {"name": "digits", "n_train": 300}, "model": {"name": "mlp", "widths": [256, 256]},
            "optimizer": {"name": "adam", "lr": 1e-3}, "train": {"batch_size": 32}}
SMOOTH = {"regularization.label_smoothing": EPS, "regularization.label_smoothing_convention": "book"}
CONTROL_SEED = 100  # the ε = 0 control: the unsmoothed net again, on seeds 100, 101, ...


class Calibration(Callback):
    """Test-set reliability after every epoch (accuracy, mean confidence, ECE with BINS bins), written to
    ``<run_dir>/calibration.json`` as a list, one entry per epoch."""

    def __init__(self):
        self.rows: list[dict] = []

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        test = trainer.setup.data.test
        rel = reliability(probabilities(trainer.setup.model, test.x), test.y, BINS)
        self.rows.append({"epoch": epoch, "accuracy": rel.accuracy_all, "confidence": rel.mean_confidence,
                          "ece": rel.ece})
        (trainer.run_dir / "calibration.json").write_text(json.dumps(self.rows))


def calibration(run) -> list[dict]:
    return json.loads((run.run_dir / "calibration.json").read_text())


@experiment("label_smoothing", shows={"regularization.label_smoothing": "*"}, accepts_recipe=True, cost_s=(6, 37),
            claim="Label smoothing (1 − ε on the true class, ε spread over the others) keeps the network from "
                  "becoming overconfident",
            precise="Digits with 300 training images, an MLP 64-256-256-10 trained by Adam for 200 epochs (long: the "
                    "regime where networks grow overconfident, Guo et al. 2017), the chapter's smoothing ε = 0.1 "
                    "(ε/(K−1) on the other classes). Precondition: without smoothing the network is overconfident "
                    "(test mean confidence − accuracy > 0.02, every seed). (a) With smoothing the overconfidence falls "
                    "beyond the seed spread and is gone (mean confidence − accuracy ≤ 0), as in Müller, Kornblith & "
                    "Hinton 2019; (b) the expected calibration error (15 bins) falls beyond the seed spread. Control "
                    "for both: ε = 0 (the unsmoothed net on other seeds) must fail. With --on, on your recipe",
            source="Szegedy et al. 2016 (label smoothing); Müller, Kornblith & Hinton 2019 (calibration); "
                   "Guo et al. 2017 (overconfidence, ECE)")
def label_smoothing(ctx: LabContext) -> Finding:
    epochs = ctx.pick(15, 200)

    def arm(label: str, over: dict, offset: int = 0):
        return ctx.runs(lambda s: ctx.recipe(SECTIONS, s + offset, {"train.epochs": epochs, **over}), label,
                        lambda: [Calibration()])

    runs = {"no smoothing": arm("none", {}), f"ε = {EPS} (chapter's)": arm("smooth", SMOOTH),
            "ε = 0 (control)": arm("control", {}, CONTROL_SEED)}
    last = {a: [calibration(r)[-1] for r in rs] for a, rs in runs.items()}
    acc = {a: Spread([x["accuracy"] for x in v]) for a, v in last.items()}
    conf = {a: Spread([x["confidence"] for x in v]) for a, v in last.items()}
    ece = {a: Spread([x["ece"] for x in v]) for a, v in last.items()}
    over = {a: Spread([x["confidence"] - x["accuracy"] for x in v]) for a, v in last.items()}
    none, smooth, control = runs
    overconfident = Precondition(f"without smoothing the network is overconfident (confidence − accuracy > "
                                 f"{OVERCONFIDENT}, every seed)", over[none].lo > OVERCONFIDENT,
                                 f"confidence − accuracy {over[none].fmt('.3f')}")

    def removes(arm_over: Spread) -> Check:
        return all_of(exceeds(over[none], arm_over, what="overconfidence(none) − overconfidence(smoothed)"),
                      Check(arm_over.mean <= 0, f"smoothed confidence − accuracy {arm_over.mean:+.3f} (needs ≤ 0)"))

    ctx.part("(a) smoothing removes the overconfidence", check=removes, on=over[smooth],
             criterion="confidence − accuracy falls beyond the seed spread (95% interval) and ends ≤ 0",
             control=("ε = 0 on other seeds", over[control]), preconditions=[overconfident],
             why="the smoothed network stays overconfident here")
    ctx.part("(b) smoothing lowers the expected calibration error", on=ece[smooth],
             check=lambda arm_ece: exceeds(ece[none], arm_ece, what="ECE(none) − ECE(smoothed)"),
             criterion="test ECE (15 bins) falls beyond the seed spread (95% interval)",
             control=("ε = 0 on other seeds", ece[control]), preconditions=[overconfident],
             why=f"smoothing overshoots: ε = {EPS} pulls the confidence to about {conf[smooth].mean:.2f} while the "
                 f"network is {acc[smooth].mean:.0%} accurate, so it ends underconfident, which ECE counts as much as "
                 f"overconfidence; Müller et al.'s calibration gain is on networks whose accuracy is near 1 − ε or "
                 f"below")
    rows = [[a, acc[a].fmt(".3f"), conf[a].fmt(".3f"), over[a].fmt(".3f"), ece[a].fmt(".3f")] for a in runs]
    fig = plot(runs, ece, len(ctx.seeds))
    return ctx.finding(
        table=Table(["targets", "test acc", "mean confidence", "confidence − accuracy", "ECE (15 bins)"], rows),
        figures=[ctx.save_figure(fig, "calibration", caption="left: the unsmoothed net's confidence − accuracy climbs "
                                 "above 0 as it trains, the smoothed net's stays below; right: ECE counts both")],
        numbers={"ece": ece, "mean_confidence": conf, "test_acc": acc, "overconfidence": over, "epochs": epochs,
                 "targets": {"true": 1 - EPS, "other": EPS / 9}},
        notes="Second pass: the first trained 30 epochs on all 1257 training images, where the baseline was not "
              "overconfident (ECE 0.023) and ECE then penalised the smoothed nets' underconfidence; this workload "
              "(300 images, 200 epochs) was chosen by the precondition, judged on the unsmoothed arm alone: a one-seed "
              "probe gave confidence − accuracy 0.010 at 30 epochs and 0.034 at 100; the first full run at 100 epochs "
              "missed it on one seed (0.016, 0.024, 0.034: INCONCLUSIVE), and a 3-seed probe of the baseline at 200 "
              "epochs gave 0.028–0.038, so 200 it is (the criterion unchanged). The torch-convention arm moved to the "
              "errata "
              "(nnopt.lab.errata: ε/(K−1) vs ε/K).")


def plot(runs, ece, n_seeds: int):
    fig, (a, b) = figure(2, width=5.6, height=4.2)
    colors = dict(zip(runs, ("tab:gray", "tab:blue", "tab:olive")))
    for arm, rs in runs.items():
        cal = [calibration(r) for r in rs]
        x = [row["epoch"] for row in cal[0]]
        band(a, x, [[row["confidence"] - row["accuracy"] for row in c] for c in cal], arm, colors[arm])
        band(b, x, [[row["ece"] for row in c] for c in cal], f"{arm} (final {ece[arm].mean:.3f})", colors[arm])
    a.axhline(0, color="k", lw=0.8, ls=":")
    a.set(xlabel="epoch", ylabel="test mean confidence − accuracy", title=f"over(>0)/under(<0)confidence, "
                                                                          f"{spread_note(n_seeds)}")
    b.set(xlabel="epoch", ylabel="test ECE (15 equal-width bins)", title="expected calibration error over training")
    finish(fig, a, b)
    return fig
