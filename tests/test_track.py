"""nnopt.track: a plain PyTorch loop writes a run directory that nnopt's readers take."""
import json

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import nnopt
from nnopt import ConfigError, Recipe
from nnopt.cli import main
from nnopt.train import Trainer, build, train
from nnopt.train.rundir import FORMAT, RunDir

pytestmark = pytest.mark.usefixtures("one_thread")


def plain_loop(path, epochs=2, **kw):
    """A torch loop of its own (digits, an MLP, SGD), tracked in three lines."""
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    with nnopt.track.Run(path, {"optimizer": {"name": "sgd", "lr": 0.1}}, model=model, optimizer=opt,
                         log_every=5, **kw) as run:
        for _ in range(epochs):
            for i in range(0, 1500, 50):
                loss = nn.functional.cross_entropy(model(x[i:i + 50]), y[i:i + 50])
                opt.zero_grad()
                loss.backward()
                opt.step()
                run.step(loss=loss)
                losses.append(loss.item())
            with torch.no_grad():
                out = model(x[1500:])
            run.epoch(train_loss=sum(losses[-30:]) / 30, val_loss=float(nn.functional.cross_entropy(out, y[1500:])),
                      val_acc=float((out.argmax(1) == y[1500:]).float().mean()))
    return model, losses


def test_a_tracked_loop_reads_back(tmp_path):
    model, losses = plain_loop(tmp_path / "run", layers=True, probe=torch.zeros(4, 64))
    rd = RunDir(tmp_path / "run").check()
    s, epochs, steps = rd.summary(), rd.epochs(), rd.steps()
    assert s["format"] == FORMAT and s["status"] == "completed" and s["monitor"] == "val_acc"
    assert s["epochs"] == 2 and s["steps"] == 60 and s["best_val_acc"] == max(e["val_acc"] for e in epochs)
    assert [m["step"] for m in steps] == list(range(5, 61, 5))
    assert [m["loss"] for m in steps] == pytest.approx([losses[t - 1] for t in range(5, 61, 5)])
    assert all(m["lr"] == 0.1 and m["grad_norm"] > 0 for m in steps)
    assert rd.recipe() == {"optimizer": {"name": "sgd", "lr": 0.1}}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in rd.model_state().items())
    kinds = [line["kind"] for line in rd.layers()]
    assert kinds.count("step") == 12 and kinds.count("units") == 2


def test_the_logged_grad_norm_is_the_global_norm(tmp_path):
    model = nn.Linear(3, 2)
    model.weight.grad, model.bias.grad = torch.full((2, 3), 1.0), torch.full((2,), 2.0)
    with nnopt.track.Run(tmp_path, model=model, log_every=1) as run:
        run.step(loss=1.0)
    (line,) = RunDir(tmp_path).steps()
    assert line["grad_norm"] == pytest.approx((6 * 1 + 2 * 4) ** 0.5)


def test_doctor_and_report_read_a_tracked_run(tmp_path, capsys):
    plain_loop(tmp_path / "run")
    assert main(["doctor", str(tmp_path / "run")]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "report.html")]) == 0
    assert (tmp_path / "report.html").read_text().count("val_acc") >= 1


def test_regression_metrics_make_a_regression_run(tmp_path):
    with nnopt.track.Run(tmp_path) as run:
        for rmse in (2.0, 1.0, 1.5):
            run.epoch(val_loss=rmse ** 2, val_rmse=rmse)
    s = RunDir(tmp_path).summary()
    assert (s["task"], s["monitor"], s["best_val_loss"], s["best_epoch"]) == ("regression", "val_loss", 1.0, 2)


def test_an_exception_in_the_loop_marks_the_run_failed(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with nnopt.track.Run(tmp_path) as run:
            run.step(loss=1.0)
            1 / 0
    s = RunDir(tmp_path).summary()
    assert s["status"] == "failed" and "ZeroDivisionError" in s["error"]


@pytest.mark.parametrize("kw, match", [
    ({"task": "ranking"}, "task = 'ranking' — must be one of classification, regression"),
    ({"monitor": "val_f1"}, "monitor = 'val_f1' — must be a metric nnopt reports"),
    ({"log_every": 0}, "log_every = 0 — must be an integer >= 1"),
    ({"layers": True}, "layers = True needs model="),
    ({"recipe": [1]}, "recipe = list — must be an nnopt Recipe, a dict of sections"),
])
def test_bad_arguments_are_one_line_errors_and_write_nothing(tmp_path, kw, match):
    recipe = kw.pop("recipe", None)
    with pytest.raises(ConfigError, match=match):
        with nnopt.track.Run(tmp_path / "r", recipe, **kw):
            pass
    assert not (tmp_path / "r").exists()


def test_a_bad_value_names_it(tmp_path):
    with nnopt.track.Run(tmp_path) as run:
        with pytest.raises(ConfigError, match=r"loss = a tensor of shape \(2,\) — must be one number"):
            run.step(loss=torch.ones(2))
        with pytest.raises(ConfigError, match="val_acc = 'high' — must be a number"):
            run.epoch(val_acc="high")


def test_an_existing_run_is_not_overwritten_unless_asked(tmp_path, small_recipe):
    """Library overwrite safety: train(), Trainer.fit() and track.Run refuse a directory holding a
    run; overwrite=True replaces it (its old records gone)."""
    recipe = small_recipe.override({"train.epochs": 1})
    train(recipe, tmp_path, quiet=True)
    (tmp_path / "layers.jsonl").write_text("{}\n")  # a stale record of the old run
    for attempt in (lambda: train(recipe, tmp_path, quiet=True),
                    lambda: Trainer(build(recipe), tmp_path, quiet=True).fit(),
                    lambda: nnopt.track.Run(tmp_path)):
        with pytest.raises(ConfigError, match="already holds a run .*overwrite=True"):
            attempt()
    s = train(recipe.override({"train.epochs": 2}), tmp_path, quiet=True, overwrite=True)
    assert s["epochs"] == 2 and not (tmp_path / "layers.jsonl").exists()
    assert [e["epoch"] for e in RunDir(tmp_path).epochs()] == [1, 2]
    assert Recipe.load(tmp_path / "recipe.toml").train["epochs"] == 2
