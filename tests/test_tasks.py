"""Tasks, losses and metrics: the [loss] registry against torch.nn.functional, the metric sums
against scikit-learn, and regression / binary runs through the Trainer."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as skm

import nnopt
from nnopt import ConfigError, Recipe
from nnopt.registry import LOSSES
from nnopt.tasks import METRICS, batch_sums, direction, metrics, queue_sums
from nnopt.train import LambdaCallback, Trainer, build, train

pytestmark = pytest.mark.usefixtures("one_thread")


def recipe(data="diabetes", **sections):
    raw = {"data": {"name": data}, "model": {"widths": [16]},
           "train": {"epochs": 3, "batch_size": 32, "threads": 1, "device": "cpu", "checkpoint": False}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return Recipe(raw)


def epochs_of(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()
            if json.loads(x)["kind"] == "epoch"]


# -- losses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_and_bce_equal_torch(eps):
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(7, 4, generator=g), torch.randint(0, 4, (7,), generator=g)
    assert LOSSES.create("cross_entropy", label_smoothing=eps)(z, y) == F.cross_entropy(z, y, label_smoothing=eps)
    z1, y2 = torch.randn(7, 1, generator=g), torch.randint(0, 2, (7,), generator=g)
    bce = LOSSES.create("bce", label_smoothing=eps)(z1, y2)
    # the 2-class cross-entropy of logits (0, z) with torch's smoothing ε is the same number
    two_class = F.cross_entropy(torch.cat((torch.zeros_like(z1), z1), 1), y2, label_smoothing=eps)
    torch.testing.assert_close(bce, two_class)
    if eps == 0:
        torch.testing.assert_close(bce, F.binary_cross_entropy_with_logits(z1[:, 0], y2.float()))


@pytest.mark.parametrize("name, kwargs, oracle", [
    ("mse", {}, F.mse_loss), ("l1", {}, F.l1_loss),
    ("huber", {"delta": 0.5}, lambda a, b: F.huber_loss(a, b, delta=0.5))])
def test_regression_losses_equal_torch(name, kwargs, oracle):
    g = torch.Generator().manual_seed(1)
    out, y = torch.randn(9, 3, generator=g), torch.randn(9, 3, generator=g)
    torch.testing.assert_close(LOSSES.create(name, **kwargs)(out, y), oracle(out, y))


# -- metrics --------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3])
def test_regression_metrics_from_batch_sums_equal_sklearn(k):
    """Sums added over uneven batches give sklearn's RMSE, MAE and R² (uniform average over outputs)."""
    g = torch.Generator().manual_seed(k)
    y = torch.randn(50, k, generator=g) * 3 + 5
    out = y + torch.randn(50, k, generator=g)
    sums = sum(batch_sums("regression", out[a:b], y[a:b]) for a, b in ((0, 7), (7, 32), (32, 50)))
    got = metrics("regression", sums.tolist(), 50, "val")
    yn, pn = y.numpy().astype(np.float64), out.numpy().astype(np.float64)
    assert got["val_rmse"] == pytest.approx(skm.root_mean_squared_error(yn, pn), rel=1e-9)
    assert got["val_mae"] == pytest.approx(skm.mean_absolute_error(yn, pn), rel=1e-9)
    assert got["val_r2"] == pytest.approx(skm.r2_score(yn, pn), rel=1e-9)
    # one row per step, each the sums of its own slice: the same numbers in any grouping
    rows = queue_sums("regression", out, y, [7, 25, 18])
    torch.testing.assert_close(rows[1], batch_sums("regression", out[7:32], y[7:32]))


def test_constant_target_r2_follows_sklearn():
    y = torch.full((4, 1), 2.0)
    for out in (y.clone(), y + 1):
        got = metrics("regression", batch_sums("regression", out, y).tolist(), 4, "val")["val_r2"]
        assert got == skm.r2_score(y.numpy(), out.numpy())


def test_classification_accuracy_and_top5_equal_sklearn():
    g = torch.Generator().manual_seed(2)
    z, y = torch.randn(40, 8, generator=g), torch.randint(0, 8, (40,), generator=g)
    got = metrics("classification", batch_sums("classification", z, y, top_k=True).tolist(), 40, "val")
    assert got["val_acc"] == skm.accuracy_score(y, z.argmax(1))
    assert got["val_top5"] == pytest.approx(skm.top_k_accuracy_score(y, z, k=5, labels=range(8)))
    # one output: class 1 when the logit is > 0
    z1 = torch.randn(40, 1, generator=g)
    yb = torch.randint(0, 2, (40,), generator=g)
    one = metrics("classification", batch_sums("classification", z1, yb).tolist(), 40, "val")
    assert one["val_acc"] == skm.accuracy_score(yb, (z1[:, 0] > 0).long())


def test_every_metric_has_a_direction_by_its_name():
    assert direction("val_r2") == "max" and direction("val_rmse") == "min" and direction("train_loss") == "min"
    assert {m.direction for m in METRICS.values()} == {"max", "min"}
    with pytest.raises(ValueError, match="'lr' is not a metric"):
        direction("lr")


# -- runs -----------------------------------------------------------------------------------------
def predict_split(run_dir, setup, split):
    setup.model.load_state_dict(torch.load(run_dir / "model.pt"))
    setup.model.eval()
    with torch.no_grad():
        return setup.model(split.x).double().numpy()


def test_regression_run_reports_sklearns_metrics_of_its_model(tmp_path):
    """Oracle: the last epoch's val_* and the summary's test_* equal sklearn on model.pt's predictions."""
    r = recipe()
    s = train(r, tmp_path, quiet=True)
    setup = build(r)
    last = epochs_of(tmp_path)[-1]
    assert s["task"] == "regression" and s["monitor"] == "val_loss" and "val_acc" not in last
    for split, rec in ((setup.data.val, {k[4:]: v for k, v in last.items() if k.startswith("val_")}),
                       (setup.data.test, {k[5:]: v for k, v in s.items() if k.startswith("test_")})):
        pred, y = predict_split(tmp_path, setup, split), split.y.double().numpy()
        assert rec["loss"] == pytest.approx(skm.mean_squared_error(y, pred[:, 0]), rel=1e-5)
        assert rec["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred[:, 0]), rel=1e-6)
        assert rec["mae"] == pytest.approx(skm.mean_absolute_error(y, pred[:, 0]), rel=1e-6)
        assert rec["r2"] == pytest.approx(skm.r2_score(y, pred[:, 0]), rel=1e-6)
    assert s["best_val_loss"] == min(e["val_loss"] for e in epochs_of(tmp_path))


def test_regression_train_metrics_equal_an_evaluation_when_nothing_moves(tmp_path):
    """With lr = 0 the per-step sums added on the host equal one evaluation of the training split."""
    r = recipe(optimizer={"name": "sgd", "lr": 0.0}, train={"epochs": 1})
    setup = build(r)
    ev = nnopt.train.trainer.evaluate(setup.model, setup.data.train, 4096, setup.task, setup.eval_loss, "train")
    train(r, tmp_path, quiet=True)
    (e,) = epochs_of(tmp_path)
    for key in ("train_loss", "train_rmse", "train_mae", "train_r2"):
        assert e[key] == pytest.approx(ev[key], rel=1e-6), key


def test_regression_resume_mid_epoch_is_bit_identical(tmp_path):
    """A stop after step 5 (its sums read mid-epoch), then resume: metrics.jsonl equals an
    uninterrupted run's, float for float (the sums are per step, whatever the read grouping)."""
    r = recipe(train={"checkpoint": True, "epochs": 2})

    def stop_at_5(trainer, step, m):
        if step == 5:
            trainer.request_stop("test")

    train(r, tmp_path / "a", quiet=True, callbacks=[LambdaCallback(on_step_end=stop_at_5)])
    Trainer(build(r), tmp_path / "a", quiet=True).fit(resume=True)
    train(r, tmp_path / "b", quiet=True)
    strip = lambda rows: [{k: v for k, v in e.items() if k != "time"} for e in rows]  # noqa: E731
    assert strip(epochs_of(tmp_path / "a")) == strip(epochs_of(tmp_path / "b"))


def test_bce_gives_a_binary_problem_one_output(tmp_path):
    r = recipe("breast_cancer", loss={"name": "bce"}, preprocess={"name": "standardize"})
    setup = build(r)
    assert setup.model(setup.data.train.x[:3]).shape == (3, 1)
    s = train(r, tmp_path, quiet=True)
    pred = predict_split(tmp_path, build(r), build(r).data.test)
    assert s["test_acc"] == pytest.approx(skm.accuracy_score(build(r).data.test.y, pred[:, 0] > 0))
    assert s["monitor"] == "val_acc" and s["best_val_acc"] == max(e["val_acc"] for e in epochs_of(tmp_path))


def test_monitor_picks_the_best_epoch_and_drives_early_stopping(tmp_path):
    r = recipe(train={"monitor": "val_r2", "epochs": 4},
               regularization={"early_stopping": {"patience": 1, "restore_best_weights": True}})
    s = train(r, tmp_path, quiet=True)
    es = epochs_of(tmp_path)
    best = max(es, key=lambda e: e["val_r2"])
    assert s["monitor"] == "val_r2" and s["best_val_r2"] == best["val_r2"] and s["best_epoch"] == best["epoch"]
    assert s["early_stopping_best_epoch"] == best["epoch"]


@pytest.mark.parametrize("data, sections, match", [
    ("digits", {"loss": {"name": "mse"}},
     r"loss.name = 'mse' — a regression loss, but data set 'digits' is a classification task; use one of auto, "
     r"cross_entropy, bce"),
    ("diabetes", {"loss": {"name": "cross_entropy"}}, r"a classification loss.*regression task; use one of auto, .*mse"),
    ("wine", {"loss": {"name": "bce"}}, r"loss.name = 'bce' — binary only .* 3 classes"),
    ("diabetes", {"train": {"monitor": "val_acc"}}, r"train.monitor = 'val_acc' — a regression run reports .*val_rmse"),
    ("diabetes", {"regularization": {"early_stopping": {"monitor": "val_acc"}}},
     r"regularization.early_stopping.monitor = 'val_acc'"),
    ("diabetes", {"regularization": {"label_smoothing": 0.1}}, r"label_smoothing = 0.1 — loss 'mse' takes no label"),
    ("digits", {"loss": {"name": "label_smoothing"}, "regularization": {"label_smoothing": 0.1}},
     r"loss 'label_smoothing' takes no label smoothing from \[regularization\] \(it has its own: set loss.eps\)"),
    ("wine", {"train": {"monitor": "val_top5"}}, r"train.monitor = 'val_top5' — top-5 accuracy needs more than 5 "
                                                 r"classes; data set 'wine' has 3"),
])
def test_a_loss_or_metric_that_does_not_fit_the_task_is_refused(data, sections, match):
    with pytest.raises(ConfigError, match=match):
        build(recipe(data, **sections))


def test_a_registered_loss_is_a_recipe_choice_and_a_bad_one_is_named():
    @LOSSES.register("test_task_cubic", task="regression")
    def cubic(power: float = 3.0):
        """|ŷ − y|^power, averaged."""
        return lambda out, y: (out - y).abs().pow(power).mean()

    @LOSSES.register("test_task_per_sample")
    def per_sample():
        """Forgets to average."""
        return lambda out, y: (out - y).abs()

    setup = build(recipe(loss={"name": "test_task_cubic", "power": 2.0}))
    out, y = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])
    assert float(setup.loss(out, y)) == 5.0
    with pytest.raises(ConfigError, match=r"loss.name = 'test_task_per_sample' returns \(2, 1\) — must return"):
        build(recipe(loss={"name": "test_task_per_sample"}))


def test_compare_tabulates_the_monitored_metric(tmp_path):
    from nnopt.compare import compare

    r = recipe(train={"epochs": 2, "monitor": "val_r2"})
    out = compare(r, {"optimizer.lr": [0.001, 0.01]}, seeds=1, out_dir=tmp_path, quiet=True, log=lambda *_: None)
    header = out["table"].splitlines()[0]
    assert "final val r2" in header and "best val r2" in header and "test r2" in header and "acc" not in header
    first = out["results"]["lr=0.001"][0]
    assert first["best_val_r2"] == max(e["val_r2"] for e in epochs_of(tmp_path / "000"))
    assert f"{first['test_r2']:.4f}" in out["table"]
