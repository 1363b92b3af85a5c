"""nnopt doctor: each pathology, made on purpose, is its first finding with a remedy that points the
right way; a healthy run gets none; exit codes, --json, --verify; the probe's numbers equal
independent computations; the per-layer statistics equal an independent recomputation."""
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from nnopt import Recipe
from nnopt.cli import main
from nnopt.doctor import diagnose, format_diagnosis, verify
from nnopt.doctor.checks import (Run, flat_recipe, lr_too_high, lr_too_low, overfitting, read,
                                 slow_run, toml_value, underfitting, update_ratio)
from nnopt.doctor.probe import FIT_BATCH, RANGE_BETA, RANGE_HI, RANGE_LO, RANGE_STEPS, RANGE_WINDOW, Probe
from nnopt.doctor.verify import with_sets
from nnopt.errors import DivergedError
from nnopt.train import Callback, LambdaCallback, Trainer, build
from nnopt.train.layer_stats import dead_units

BASE = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [64]},
        "train": {"batch_size": 32, "epochs": 6, "threads": 1, "device": "cpu", "checkpoint": False,
                  "log_layers": True}}
MOONS = {"data.name": "moons", "data.n_samples": 400}


def run(tmp_path, **overrides):
    recipe = Recipe(BASE).override(overrides)
    try:
        Trainer(build(recipe), tmp_path, quiet=True).fit()
    except DivergedError:
        pass
    return tmp_path


def first(run_dir):
    found = diagnose(run_dir)
    assert found, format_diagnosis(run_dir, found)
    return found[0]


def test_healthy_run_gets_no_finding(tmp_path, capsys):
    d = run(tmp_path)
    assert diagnose(d) == []
    assert "nothing found" in format_diagnosis(d)
    assert main(["doctor", str(d)]) == 0


def test_healthy_val_better_than_train_is_not_overfitting(tmp_path):
    # dropout makes the (train-mode) training loss worse than the validation loss
    d = run(tmp_path, **MOONS, **{"model.widths": [64, 64], "regularization.dropout": 0.4, "optimizer.lr": 0.01,
                                  "train.epochs": 15})
    e = read(d).epochs[-1]
    assert e["val_loss"] < e["train_loss"]
    assert diagnose(d) == []


@pytest.mark.slow
def test_noisy_small_batches_are_not_oscillation(tmp_path):
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 0.1, "train.batch_size": 8, "train.epochs": 4})
    assert diagnose(d) == []


@pytest.mark.parametrize("lr", [50.0, 1e8])
def test_lr_too_high_is_said_first_and_lowered(tmp_path, lr):
    # lr 50 makes the loss jump and kills the ReLUs; 1e8 diverges (NaN) — both are the lr, said first
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": lr})
    f = first(d)
    assert f.name == "lr too high" and f.sets["optimizer.lr"] < lr
    assert "range test" in f.evidence and f.set_lines() == [f"--set optimizer.lr={toml_value(f.sets['optimizer.lr'])}"]
    assert not any(x.name in ("dead ReLUs", "underfitting", "lr too low") for x in diagnose(d))


def test_lr_too_low_is_raised_for_an_adam_run_without_suggesting_adam(tmp_path):
    d = run(tmp_path, **{"optimizer.lr": 1e-6})
    f = first(d)
    assert f.name == "lr too low" and f.sets == {"optimizer.lr": pytest.approx(f.sets["optimizer.lr"])}
    assert f.sets["optimizer.lr"] > 1e-5
    assert "adam" not in json.dumps([x.to_dict() for x in diagnose(d)]).lower()


@pytest.mark.slow
def test_init_pathologies(tmp_path):
    sym = first(run(tmp_path / "zeros", **{"init.name": "zeros", "train.epochs": 2}))
    assert sym.name == "symmetric init" and sym.sets["init.name"] == "he_normal"
    big = first(run(tmp_path / "big", **{"model.widths": [64] * 4, "init.name": "normal", "init.std": 1.0,
                                         "train.epochs": 2}))
    assert big.name == "exploding init" and "initial logits have std" in big.evidence
    small = first(run(tmp_path / "small", **{"model.widths": [32] * 6, "model.activation": "logistic",
                                             "init.name": "normal", "init.std": 0.01, "optimizer.name": "sgd",
                                             "optimizer.lr": 0.1, "train.epochs": 2}))
    assert small.name == "vanishing init" and small.sets["init.name"] == "xavier_normal"


def test_unnormalized_inputs(tmp_path):
    f = first(run(tmp_path, **{"preprocess.name": "minmax", "preprocess.feature_range": [0.0, 255.0],
                               "train.epochs": 2}))
    assert f.name == "unnormalized inputs" and f.sets == {"preprocess.name": "standardize"}


def test_dead_relus_from_a_negative_bias(tmp_path):
    f = first(run(tmp_path, **{"model.widths": [64, 64], "init.name": "he_normal", "init.bias": -3.0,
                               "train.epochs": 2}))
    assert f.name == "dead ReLUs" and f.sets == {"init.bias": 0.0} and "already at init" in f.evidence


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["batch", "sync_batch"])  # every norm registered with batch statistics
def test_batch_norm_at_tiny_batches(tmp_path, norm):
    f = first(run(tmp_path, **MOONS, **{"model.widths": [32, 32], "model.norm": norm, "train.batch_size": 2,
                                        "train.epochs": 3}))
    assert f.name == "batch norm at tiny batches" and f.sets == {"train.batch_size": 32}


@pytest.mark.slow
def test_exploding_gradients_in_an_rnn(tmp_path):
    recipe = Recipe({**BASE, "data": {"name": "digits_seq"}, "model": {"name": "rnn", "cell": "rnn", "hidden": 64}})
    recipe = recipe.override({"init.name": "normal", "init.std": 0.5, "optimizer.name": "sgd",
                              "optimizer.lr": 0.05, "train.epochs": 4})
    Trainer(build(recipe), tmp_path, quiet=True).fit()
    f = first(tmp_path)
    assert f.name == "exploding gradients" and f.sets["clip.name"] == "global_norm"
    assert f.sets["init.name"] == "orthogonal" and f.sets["init.gain"] == 1.0  # ρ = 1 at init
    assert "spectral radius" in f.evidence
    result = verify(tmp_path)  # the remedy's rerun: the radius is 1, the validation loss no worse
    assert result["improved"] and result["after"] == 0.0 and result["val_after"] <= 1.05 * result["val_before"]


def test_schedule_that_decays_too_early(tmp_path):
    f = first(run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 0.1, "schedule.name": "step",
                               "schedule.step_size": 20, "schedule.rate": 0.1, "train.epochs": 8}))
    assert f.name == "schedule decays too early" and f.sets == {"schedule.name": "cosine"}


@pytest.mark.slow
def test_overfitting_remedy_fits_2d_points(tmp_path):
    d = run(tmp_path, **{"data.name": "moons", "data.n_samples": 60, "data.noise": 0.3,
                         "model.widths": [256, 256], "optimizer.lr": 0.01, "train.epochs": 150})
    f = first(d)
    assert f.name == "overfitting"
    assert "augment" not in json.dumps(f.to_dict())  # no image augmentation for 2-D points


@pytest.mark.parametrize("how", ["small model", "strong penalty"])
def test_underfitting(tmp_path, how):
    sets = ({"model.widths": [2], "model.activation": "tanh", "train.epochs": 10} if how == "small model" else
            {"penalty.name": "l2", "penalty.coef": 1.0, "train.epochs": 6})
    f = first(run(tmp_path, **sets))
    assert f.name == "underfitting"
    assert (f.sets == {"model.widths": [32]}) if how == "small model" else (f.sets == {"penalty.coef": 0.01})


def test_a_penalty_that_crushes_the_weights_is_underfitting_not_the_lr(tmp_path):
    # L2 at 3.0: the loss stays at ln 2 and 56% of a layer's units die — as under a huge lr, but the
    # root cause is the penalty (the lr-too-high gate "no progress while units died" skips penalized runs)
    d = run(tmp_path, **MOONS, **{"model.widths": [32, 32], "penalty.name": "l2", "penalty.coef": 3.0,
                                  "train.epochs": 20})
    assert [f.name for f in diagnose(d)] == ["underfitting"]
    assert first(d).sets == {"penalty.coef": 0.03}


def fake_run(epochs, reference=None, val_loss_se=None, batch_fit=None):
    """A Run of `epochs` records whose probe knows only the data's reference accuracy, the final
    validation loss's standard error and the accuracy on a batch it was trained to fit (all None: no probe)."""
    fit = None if batch_fit is None else {"n": 128, "lr": 0.01, "accuracy": batch_fit}
    probe = None if reference is None and val_loss_se is None and fit is None else SimpleNamespace(
        reference_accuracy=reference, final={"val_loss_se": val_loss_se}, batch_fit=fit)
    return Run(Path("fake"), {"model": {"name": "mlp", "widths": [8]}}, {}, [], epochs, _probe=(probe, "no probe"))


@pytest.mark.parametrize("lr, blamed", [(0.001, False), (0.5, True)])
def test_dead_units_in_a_stuck_run_blame_the_lr_only_above_the_range_tests_suggestion(lr, blamed):
    """A stuck run whose only layer died (fashion-w1@t3: one ReLU unit): at Adam's 0.001, 470× below the
    lowest-loss lr of the range test (too flat to be called informative), the lr is not the cause; at an lr
    above the suggestion the same evidence still says lr too high."""
    probe = SimpleNamespace(reference_accuracy=0.76, init={"loss": 2.42, "dead": {"3": 0.0}}, batch_fit=None,
                            final={"dead": {"3": 1.0}, "val_loss_se": None},
                            range_test={"min_loss": 2.3, "best_lr": 0.469, "suggested": 0.0469})
    epochs = epochs_of([2.4, 2.35, 2.32, 2.32], [2.4, 2.35, 2.32, 2.32], train_acc=0.1, val_acc=0.1)
    run = Run(Path("fake"), {"model": {"name": "mlp", "widths": [1]}, "optimizer": {"name": "adam", "lr": lr}},
              {}, [], epochs, _probe=(probe, "probe"))
    assert (lr_too_high(run) is not None) == blamed


def epochs_of(train_loss, val_loss, train_acc=0.9, val_acc=0.9):
    return [{"epoch": i + 1, "train_loss": t, "val_loss": v, "train_acc": train_acc, "val_acc": val_acc}
            for i, (t, v) in enumerate(zip(train_loss, val_loss))]


def test_underfitting_is_judged_against_what_the_data_allow():
    e = epochs_of([0.6] * 5, [0.62] * 5, train_acc=0.80, val_acc=0.78)
    assert underfitting(fake_run(e, reference=0.77)) is None  # Fashion-MNIST-like: a 5-NN reaches no more
    f = underfitting(fake_run(e, reference=0.97))  # a 5-NN reaches 0.97: 0.17 short
    assert f.name == "underfitting" and f.severity == pytest.approx(0.17) and f.sets == {"model.widths": [32]}
    assert "0.970" in f.evidence
    assert underfitting(fake_run(e)) is not None  # no probe: the absolute rule, train accuracy < 0.85
    # a model that fits 97% of a small batch is not too small: the shortfall is a slow run (digits-lion@t6),
    # which the text says in a note (no finding: exit code 0)
    slow = fake_run(e, reference=0.97, batch_fit=0.97)
    assert underfitting(slow) is None and "a slow run" in slow_run(slow)
    assert "note: no pathology found" in format_diagnosis(slow, [])
    assert slow_run(fake_run(e, reference=0.77, batch_fit=0.97)) is None  # fits what the data allow
    assert slow_run(fake_run(e, reference=0.97, batch_fit=0.56)) is None  # cannot fit: underfitting's case
    f = underfitting(fake_run(e, reference=0.97, batch_fit=0.56))
    assert f.name == "underfitting" and "fits only 56% of 128 random training samples in 300 steps" in f.evidence
    assert underfitting(fake_run(epochs_of([0.6] * 5, [0.6] * 5, 0.86, 0.86))) is None
    # validation better than training is no gap; a validation below training does not hide a model that
    # cannot fit (an LSTM of 2 units: 0.467 / 0.400 where a 5-NN reaches 0.97: shortfall 0.50 > gap 0.067)
    assert underfitting(fake_run(epochs_of([0.6] * 5, [0.5] * 5, 0.70, 0.80), reference=0.97)) is not None
    lstm = underfitting(fake_run(epochs_of([1.42] * 5, [1.56] * 5, 0.467, 0.400), reference=0.97))
    assert lstm.name == "underfitting" and lstm.severity == pytest.approx(0.503)
    # but a gap larger than the shortfall is a generalization problem first (0.80 / 0.55: gap 0.25 > 0.17)
    assert underfitting(fake_run(epochs_of([0.6] * 5, [0.9] * 5, 0.80, 0.55), reference=0.97)) is None
    assert underfitting(fake_run(epochs_of([0.6] * 5, [0.9] * 5, 0.80, 0.64), reference=0.97)) is not None


def test_overfitting_needs_a_rise_above_the_validation_jitter():
    train = [1.4, 0.7, 0.6, 0.49, 0.45, 0.38, 0.38, 0.39, 0.34, 0.31]
    noisy = [0.9, 0.81, 0.6, 0.59, 0.6, 0.87, 0.7, 0.79, 0.75, 0.72]  # +22% from the minimum, jitter 0.09
    assert overfitting(fake_run(epochs_of(train, noisy, 0.89, 0.78))) is None  # accuracy gap at 2.3× the loss
    steady = [0.9, 0.7, 0.6, 0.62, 0.66, 0.7, 0.75, 0.8, 0.85, 0.9]
    f = overfitting(fake_run(epochs_of([x / 6 for x in train], steady)))
    assert f.name == "overfitting" and f.sets["regularization.early_stopping.patience"] == 3
    memorized = overfitting(fake_run(epochs_of([0.01] * 10, [0.5] * 10, 1.0, 0.85)))  # no rise: the gaps
    assert memorized.name == "overfitting" and "accuracy gap 0.150" in memorized.evidence
    # a gap of exactly 0.1 (1.0 − 0.9 = 0.09999999999999998 in floating point) at a loss gap of 0.2 < 0.3
    edge = overfitting(fake_run(epochs_of([0.03] * 10, [0.23] * 10, 1.0, 0.9)))
    assert edge is not None and "accuracy gap 0.100" in edge.evidence


def test_overfitting_needs_a_rise_beyond_the_validation_losss_standard_error():
    # wine at 27 validation samples: the validation loss triples (0.065 → 0.193) as one confident mistake
    # grows, the accuracy stays 0.963, the training loss falls to 0.002 — a rise of 0.128 nats
    train = [0.5, 0.2, 0.08, 0.04, 0.02, 0.01, 0.006, 0.004, 0.003, 0.002]
    val = [0.3, 0.12, 0.08, 0.07, 0.065, 0.09, 0.12, 0.15, 0.17, 0.193]
    assert overfitting(fake_run(epochs_of(train, val, 1.0, 0.963))) is not None  # without a probe: the old rule
    assert overfitting(fake_run(epochs_of(train, val, 1.0, 0.963), val_loss_se=0.19)) is None  # within 1 s.e.
    f = overfitting(fake_run(epochs_of(train, val, 1.0, 0.963), val_loss_se=0.05))  # 500 samples' precision
    assert f.name == "overfitting" and "2.6× the validation loss's standard error 0.05" in f.evidence


def test_a_training_loss_of_exactly_zero_is_memorization_not_a_crash():
    # an lr-too-high wine run of test3 drove its training loss to exactly 0.0 (val 1.4e3): the ratio
    # val/train in the evidence divided by zero
    f = overfitting(fake_run(epochs_of([5.0, 2.0, 0.0, 0.0, 0.0], [9.0, 1.4e3, 1.4e3, 1.4e3, 1.4e3], 1.0, 0.889)))
    assert f.name == "overfitting" and "is far above the training loss 0" in f.evidence


def test_val_loss_standard_error_equals_a_numpy_recomputation(tmp_path):
    d = run(tmp_path, **MOONS, **{"model.widths": [16], "train.epochs": 2})
    recipe = Recipe.load(d / "recipe.toml")
    setup = build(recipe)
    setup.model.load_state_dict(torch.load(d / "model.pt", weights_only=True))
    setup.model.eval()
    with torch.no_grad():
        z = setup.model(setup.data.val.x).double().numpy()
    y = setup.data.val.y.numpy()
    zmax = z.max(1, keepdims=True)
    nll = (zmax[:, 0] + np.log(np.exp(z - zmax).sum(1))) - z[np.arange(len(y)), y]  # −log softmax(z)_y
    se = Probe(recipe.raw, d).final["val_loss_se"]
    assert se == pytest.approx(nll.std(ddof=1) / math.sqrt(len(y)), rel=1e-6)


def test_underfitting_needs_a_plateau_not_a_slow_run():
    # 0.77 where a 5-NN reaches 0.97, but the loss fell 0.56 → 0.44 (21%) over the last third: still learning
    falling = [0.70, 0.69, 0.68, 0.66, 0.63, 0.60, 0.56, 0.52, 0.48, 0.44]
    assert 1 - falling[-1] / falling[-4] >= 0.15
    assert underfitting(fake_run(epochs_of(falling, falling, 0.77, 0.76), reference=0.97)) is None
    flat = falling[:7] + [0.55, 0.54, 0.53]  # 5% over the last third: a plateau, so the model cannot fit
    f = underfitting(fake_run(epochs_of(flat, flat, 0.77, 0.76), reference=0.97))
    assert f.name == "underfitting" and f.severity == pytest.approx(0.2)


def test_overfitting_counts_the_training_loss_at_its_lowest():
    # the validation loss doubles from its minimum (epoch 1) while the training loss fell to 0.15 and then
    # wandered back to 0.6 — the last value alone (0.6 > 0.7 × 0.69) would hide the gap that opened
    train = [0.69, 0.68, 0.6, 0.4, 0.2, 0.15, 0.3, 0.5, 0.6, 0.6]
    val = [0.68, 0.69, 0.8, 1.0, 1.3, 1.5, 1.6, 1.5, 1.5, 1.47]
    assert train[-1] > 0.7 * train[0] and val[-1] < 3 * train[-1]  # neither the old rule nor memorization
    f = overfitting(fake_run(epochs_of(train, val, 0.69, 0.5)))
    assert f.name == "overfitting" and "fell 78% (at its lowest)" in f.evidence
    # the same training curve with a validation loss that only jitters is not overfitting
    assert overfitting(fake_run(epochs_of(train, [0.68, 0.7, 0.66, 0.69] * 2 + [0.67, 0.68], 0.69, 0.6))) is None


def test_lr_too_low_needs_small_steps_when_they_are_logged():
    # a range test that would lower the loss far more at a 600× larger lr, and a run that barely moved
    probe = SimpleNamespace(init={"loss": 2.3}, reference_accuracy=0.97, range_test={
        "min_loss": 0.8, "best_lr": 0.06, "suggested": 0.006, "lrs": [1e-5] * 150})
    e = epochs_of([2.3, 2.2, 2.1, 2.0], [2.3, 2.2, 2.1, 2.0], 0.5, 0.5)

    def fake(update):
        layers = [] if update is None else [{"kind": "step", "layers": {"0.weight": {"update": update, "param": 1.0}}}]
        return Run(Path("fake"), {"optimizer": {"name": "lion", "lr": 1e-4}}, {}, [], e, layers, _probe=(probe, ""))

    assert lr_too_low(fake(None)).sets == {"optimizer.lr": 0.006}  # no layers.jsonl: the range test alone
    assert lr_too_low(fake(1e-5)).sets == {"optimizer.lr": 0.006}  # steps of 1e-5 of the weights: held back
    assert lr_too_low(fake(1.3e-3)) is None  # steps at the rule of thumb (1e-3): not the lr's fault

    def dead(grads):  # weight matrices that get no gradient do not move, whatever the lr
        return Run(Path("fake"), {"optimizer": {"name": "adam", "lr": 1e-4}}, {}, [], e, [
            {"kind": "step", "layers": {f"{i}.weight": {"grad": gr, "update": 1e-5 if gr else 0.0, "param": 1.0}
                                        for i, gr in enumerate(grads)}}], _probe=(probe, ""))

    assert update_ratio(dead([0.0, 0.0])) == 0.0 and lr_too_low(dead([0.0, 0.0])) is None  # circles-w1@t5
    assert update_ratio(dead([0.0, 0.3])) == pytest.approx(1e-5)  # the dead matrix is left out of the median
    assert lr_too_low(dead([0.0, 0.3])).sets == {"optimizer.lr": 0.006}


@pytest.mark.parametrize("final, blamed", [(2.0, True), (1.6, False)])
def test_lr_too_high_when_the_run_ends_above_the_range_tests_reach(final, blamed):
    """seq-lstm-adam0.5@t5: Adam at 0.5, 2.7× the range test's best lr; 12 epochs end at 2.0 where 150
    steps of the test reached 1.40 (1.4×): the lr holds the run back. Ending at 1.6 (1.14×) is no evidence."""
    probe = SimpleNamespace(reference_accuracy=0.98, init={"loss": 2.31, "dead": {}}, final={"dead": {}}, batch_fit=None,
                            range_test={"min_loss": 1.40, "best_lr": 0.186, "suggested": 0.0186, "lrs": [1e-5] * 150})
    e = epochs_of([2.39, 2.2, 2.1, final], [2.3, 2.2, 2.1, final], 0.3, 0.3)
    run = Run(Path("fake"), {"model": {"name": "rnn", "hidden": 48}, "optimizer": {"name": "adam", "lr": 0.5}},
              {}, [], e, _probe=(probe, "probe"))
    f = lr_too_high(run)
    assert (f is not None) == blamed
    if blamed:
        assert f.sets == {"optimizer.lr": 0.019} and "1.43× the 1.4 that 150 steps of a range test reached" in f.evidence


def test_reference_accuracy_equals_scikit_learns_5_nearest_neighbours(tmp_path):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    for data in ({"name": "moons", "n_samples": 400, "noise": 0.3}, {"name": "wine"}):
        p = Probe({**BASE, "data": data}, tmp_path)
        train, val = p.data.train, p.data.val
        scale = StandardScaler().fit(train.x.numpy())
        knn = KNeighborsClassifier(n_neighbors=5).fit(scale.transform(train.x.numpy()), train.y.numpy())
        assert p.reference_accuracy == pytest.approx(knn.score(scale.transform(val.x.numpy()), val.y.numpy()))
    assert Probe({**BASE, "data": {"name": "diabetes"}}, tmp_path).reference_accuracy is None  # regression


def test_non_finite_losses_are_never_nothing_found(tmp_path, capsys):
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e8})
    (d / "recipe.toml").write_text((d / "recipe.toml").read_text().replace('"mlp"', '"no_such_model"'))
    text = format_diagnosis(d)
    assert "nothing found" not in text and "! diverged" in text and "no rebuilt network: ConfigError" in text
    assert main(["doctor", str(d)]) == 1


def test_exit_codes_and_json(tmp_path, capsys):
    d = run(tmp_path / "a", **{"optimizer.name": "sgd", "optimizer.lr": 50.0, "train.epochs": 3})
    capsys.readouterr()
    assert main(["doctor", str(d), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    (f, *_) = out["findings"]
    assert f["name"] == "lr too high" and f["set"][0].startswith("--set optimizer.lr=") and out["note"] is None
    assert 0 < f["confidence"] <= 1 and f["section"] and f["evidence"]
    assert main(["doctor", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["doctor", str(tmp_path / "empty")]) == 2
    assert "not a run directory (no metrics.jsonl)" in capsys.readouterr().err
    (tmp_path / "empty" / "metrics.jsonl").write_text('{"kind": "epoch", "train_loss": 1.0}\n{"kind": "ep')
    assert main(["doctor", str(tmp_path / "empty")]) == 2
    assert "metrics.jsonl:2 — not a JSON line" in capsys.readouterr().err
    # a text loss is refused by the run directory's reader, a null one (legal JSON there) by the doctor
    (tmp_path / "empty" / "metrics.jsonl").write_text('{"kind": "epoch", "epoch": 1, "train_loss": "low"}\n')
    assert main(["doctor", str(tmp_path / "empty")]) == 2
    assert 'metrics.jsonl:1 — train_loss = "low" — must be a number' in capsys.readouterr().err
    (tmp_path / "empty" / "metrics.jsonl").write_text('{"kind": "step", "step": 4, "loss": null}\n')
    assert main(["doctor", str(tmp_path / "empty")]) == 2
    assert "loss = None at step 4 must be a number" in capsys.readouterr().err


@pytest.mark.slow
def test_verify_on_a_diverging_run(tmp_path, capsys):
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 50.0, "train.epochs": 4})
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["doctor", str(d), "--verify"]) == 1
    out = capsys.readouterr().out
    assert "the remedy IMPROVED it" in out
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before  # the run is untouched
    result = verify(d)  # a second verify goes into a new directory
    assert result["improved"] and result["dir"].endswith("doctor-verify-2")
    assert result["after"] == 0.0 and math.isfinite(result["val_after"])
    rerun = Recipe.load(tmp_path / "doctor-verify-2" / "remedy" / "recipe.toml")
    assert rerun.optimizer["lr"] < 50 and rerun.train["seed"] == 0


def test_probe_against_closed_forms(tmp_path):
    # zero init: every logit is 0, so the initial loss is exactly ln K and every hidden layer is symmetric
    recipe = Recipe(BASE).override({"init.name": "zeros", "model.widths": [16, 8]}).raw
    p = Probe(recipe, tmp_path)
    assert p.init["loss"] == pytest.approx(math.log(10), rel=1e-6)
    linears = [n for n, m in p.model.named_modules() if isinstance(m, nn.Linear)]
    assert [(n, k) for n, k in p.init["symmetric"]] == [(linears[0], 16), (linears[1], 8)]  # not the output
    x = p.data.train.x.numpy().astype(np.float64)
    assert p.input_rms == pytest.approx(float(np.sqrt((x ** 2).mean())), rel=1e-9)
    rt = p.range_test
    steps = len(rt["lrs"])
    assert rt["lrs"][0] == pytest.approx(RANGE_LO) and steps >= 2
    assert rt["lrs"][1] / rt["lrs"][0] == pytest.approx((RANGE_HI / RANGE_LO) ** (1 / (RANGE_STEPS - 1)))
    # the minimum is sought once the average holds 1/(1 − β) = 10 batches (a fluke first batch is not a best lr)
    assert RANGE_WINDOW == 10 == round(1 / (1 - RANGE_BETA)) and steps > RANGE_WINDOW
    k = RANGE_WINDOW - 1 + int(np.argmin(rt["losses"][RANGE_WINDOW - 1:]))
    assert rt["best_lr"] == rt["lrs"][k] and rt["suggested"] == rt["best_lr"] / 10 and rt["min_loss"] == rt["losses"][k]


@pytest.mark.parametrize("widths, fits", [([64, 64], True), ([1], False)])
def test_batch_fit_says_whether_the_model_can_fit_a_small_batch(tmp_path, widths, fits):
    # spirals: a 1-unit ReLU network's decision boundary is one line, which cannot split two interleaved
    # arms (chance is 0.5); 64 × 64 units memorize 128 points. Balanced classes in the batch (the split
    # is ordered by class: its first 128 samples are one class, which any model "fits")
    recipe = {**BASE, "data": {"name": "spirals", "n_samples": 600, "noise": 0.1},
              "model": {"name": "mlp", "widths": widths}, "optimizer": {"name": "adam", "lr": 0.01}}
    p = Probe(recipe, tmp_path)
    fit = p.batch_fit
    assert fit["n"] == FIT_BATCH and (fit["accuracy"] >= 0.95) == fits and fit["accuracy"] > 0.4
    assert all(torch.equal(v, p.init_state[k]) for k, v in p.model.state_dict().items())  # init restored
    assert fit == Probe(recipe, tmp_path).batch_fit  # seeded
    assert bool((p.data.train.y[:FIT_BATCH] == p.data.train.y[0]).all())  # why the batch is drawn at random


def test_spectral_radius_by_hand(tmp_path):
    recipe = {**BASE, "data": {"name": "digits_seq"}, "model": {"name": "rnn", "cell": "gru", "hidden": 8}}
    p = Probe(recipe, tmp_path)
    (w,) = [v.double().numpy() for k, v in p.init_state.items() if "weight_hh" in k]
    assert w.shape == (24, 8)  # GRU: 3 gates of 8×8
    expect = max(np.abs(np.linalg.eigvals(w[i:i + 8])).max() for i in range(0, 24, 8))
    assert p.spectral_radius == pytest.approx(expect, rel=1e-9)


def test_recipe_helpers():
    raw = {"optimizer": {"lr": 0.1}, "regularization": {"early_stopping": {"patience": None}}}
    assert flat_recipe(raw) == {"optimizer.lr": 0.1, "regularization.early_stopping.patience": None}
    out = with_sets(raw, {"optimizer.lr": 0.01, "regularization.early_stopping.patience": 3, "clip.name": "x"})
    assert out == {"optimizer": {"lr": 0.01}, "regularization": {"early_stopping": {"patience": 3}},
                   "clip": {"name": "x"}}
    assert raw["optimizer"]["lr"] == 0.1  # not modified
    # another component: the old one's fields go (std is not a he_normal field)
    assert with_sets({"init": {"name": "normal", "std": 1.0}}, {"init.name": "he_normal", "init.bias": 0.0}) == \
        {"init": {"name": "he_normal", "bias": 0.0}}
    assert [toml_value(v) for v in ("a", 1e-5, 0.25, [4, 8], True)] == ['"a"', "1.0e-05", "0.25", "[4, 8]", "true"]


def test_run_doctor_prints_the_diagnosis(tmp_path, capsys):
    assert main(["run", "--doctor", "--quiet", "--out", str(tmp_path / "b"), "--set", "train.epochs=3",
                 "--set", "train.threads=1", "--set", "train.device=\"cpu\"", "--set", "model.widths=[32]",
                 "--set", "optimizer.lr=1e-6"]) == 0
    out = capsys.readouterr().out
    assert "nnopt doctor:" in out and "! lr too low" in out and "--set optimizer.lr=" in out


class Recorder(Callback):
    """An independent record of each step's gradient norms and update norms."""

    def __init__(self):
        self.grads, self.updates, self.prev = {}, {}, None

    def on_fit_start(self, trainer):
        self.prev = {n: p.detach().clone() for n, p in trainer.setup.model.named_parameters()}

    def on_step_end(self, trainer, step, metrics):
        params = dict(trainer.setup.model.named_parameters())
        self.grads[step] = {n: float(p.grad.norm()) for n, p in params.items()}
        self.updates[step] = {n: float((p.detach() - self.prev[n]).norm()) for n, p in params.items()}
        self.prev = {n: p.detach().clone() for n, p in params.items()}


@pytest.mark.parametrize("log_every", [1, 3])
def test_layer_statistics_equal_a_recomputation(tmp_path, log_every):
    recipe = Recipe(BASE).override({"train.epochs": 1, "train.log_every": log_every, "data.n_train": 300})
    rec = Recorder()
    Trainer(build(recipe), tmp_path, quiet=True, callbacks=[rec]).fit()
    lines = [json.loads(x) for x in (tmp_path / "layers.jsonl").read_text().splitlines()]
    steps = [x for x in lines if x["kind"] == "step"]
    assert [x["step"] for x in steps] == [s for s in rec.grads if s % log_every == 0]
    for line in steps:
        for name, stats in line["layers"].items():
            assert stats["grad"] == pytest.approx(rec.grads[line["step"]][name], rel=1e-5)
            assert stats["update"] == pytest.approx(rec.updates[line["step"]][name], rel=1e-4, abs=1e-9)
    assert [x["epoch"] for x in lines if x["kind"] == "units"] == [1]


def test_dead_units_by_hand():
    layer = nn.Linear(2, 4)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]))
        layer.bias.copy_(torch.tensor([0.0, 0.0, -1.0, -10.0]))  # unit 2: always −1; unit 3: x₁+x₂−10 < 0
    model = nn.Sequential(layer, nn.ReLU())
    x = torch.tensor([[1.0, -1.0], [-1.0, 2.0], [3.0, 3.0]])
    assert dead_units(model, x) == {"1": 0.5}


def test_layers_jsonl_of_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    recipe = Recipe(BASE).override({"train.epochs": 3, "train.checkpoint": True, "data.n_train": 300,
                                    "train.log_every": 4})
    Trainer(build(recipe), tmp_path / "whole", quiet=True).fit()
    stop_after_2 = LambdaCallback(on_epoch_end=lambda tr, epoch, record: tr.request_stop("test") if epoch == 2 else None)
    Trainer(build(recipe), tmp_path / "cut", quiet=True, callbacks=[stop_after_2]).fit()
    cut = (tmp_path / "cut" / "layers.jsonl").read_text()
    whole = (tmp_path / "whole" / "layers.jsonl").read_text()
    assert whole.startswith(cut) and len(whole) > len(cut)
    # a process killed after its last checkpoint leaves lines beyond it: the resumed run drops them
    (tmp_path / "cut" / "layers.jsonl").write_text(whole)
    Trainer(build(recipe), tmp_path / "cut", quiet=True).fit(resume=True)
    assert (tmp_path / "cut" / "layers.jsonl").read_text() == whole
