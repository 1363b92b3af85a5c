"""nnopt doctor: each pathology, made on purpose, is found; a healthy run gets no warning; the
per-layer statistics equal an independent recomputation."""
import json

import pytest
import torch
from torch import nn

from nnopt import Recipe
from nnopt.cli import main
from nnopt.doctor import diagnose, format_diagnosis
from nnopt.errors import DivergedError
from nnopt.train import Callback, LambdaCallback, Trainer, build
from nnopt.train.layer_stats import dead_units

BASE = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [64]},
        "train": {"batch_size": 32, "epochs": 6, "threads": 1, "device": "cpu", "checkpoint": False,
                  "log_layers": True}}


def run(tmp_path, **overrides):
    recipe = Recipe(BASE).override(overrides)
    try:
        Trainer(build(recipe), tmp_path, quiet=True).fit()
    except DivergedError:
        pass
    return tmp_path


def names(run_dir):
    return [p.name for p in diagnose(run_dir)]


def test_healthy_run_gets_no_warning(tmp_path):
    d = run(tmp_path)
    assert (d / "layers.jsonl").is_file()
    assert diagnose(d) == []
    assert "no problem found" in format_diagnosis(d)


def test_diverging_loss(tmp_path):
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 50.0})
    problems = {p.name: p for p in diagnose(d)}
    assert "diverging" in problems and "lower optimizer.lr (it is 50" in problems["diverging"].remedy


def test_non_finite_loss_is_diverging(tmp_path):
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e8})
    assert json.loads((d / "summary.json").read_text())["status"] == "diverged"
    (problem,) = [p for p in diagnose(d) if p.name == "diverging"]
    assert "non-finite at step" in problem.evidence


def test_oscillating_loss(tmp_path):
    d = run(tmp_path, **{"model.activation": "tanh", "optimizer.name": "momentum", "optimizer.lr": 0.3,
                         "optimizer.momentum": 0.95, "train.epochs": 8})
    assert "oscillating" in names(d)


def test_plateau_from_the_start(tmp_path):
    d = run(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e-5})
    (problem,) = [p for p in diagnose(d) if p.name == "plateau"]
    assert problem.remedy.startswith("stuck from the start: raise optimizer.lr")


def test_vanishing_gradients(tmp_path):
    d = run(tmp_path, **{"model.widths": [32] * 6, "model.activation": "logistic", "init.name": "normal",
                         "init.std": 0.01, "optimizer.name": "sgd", "optimizer.lr": 0.1, "train.epochs": 2})
    (problem,) = [p for p in diagnose(d) if p.name == "vanishing gradients"]
    assert "× the last layer's" in problem.evidence and "xavier_normal" in problem.remedy


def test_exploding_gradients(tmp_path):
    # tanh in the chaotic regime (σ_w·√fan_in = 16): backward gradients grow through the layers
    d = run(tmp_path, **{"model.widths": [64] * 10, "model.activation": "tanh", "init.name": "normal",
                         "init.std": 2.0, "optimizer.name": "sgd", "optimizer.lr": 1e-6, "train.epochs": 2})
    assert "exploding gradients" in names(d)


def test_dead_relu_units(tmp_path):
    d = run(tmp_path, **{"model.widths": [64, 64], "optimizer.name": "adam", "optimizer.lr": 0.05})
    (problem,) = [p for p in diagnose(d) if p.name == "dead ReLU units"]
    assert "output 0 on every probe sample" in problem.evidence


def test_overfitting(tmp_path):
    d = run(tmp_path, **{"data.n_train": 100, "model.widths": [256, 256], "train.epochs": 60})
    (problem,) = [p for p in diagnose(d) if p.name == "overfitting"]
    assert "early stopping" in problem.remedy


def test_underfitting(tmp_path):
    d = run(tmp_path, **{"model.widths": [2], "model.activation": "tanh"})
    assert "underfitting" in names(d)


class Recorder(Callback):
    """An independent record of each step's gradient norms and update norms."""

    def __init__(self):
        self.grads, self.updates, self.prev = {}, {}, None

    def on_fit_start(self, trainer):
        self.prev = {n: p.detach().clone() for n, p in trainer.s.model.named_parameters()}

    def on_step_end(self, trainer, step, metrics):
        params = dict(trainer.s.model.named_parameters())
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


def test_cli_doctor_and_run_doctor(tmp_path, capsys):
    d = run(tmp_path / "a", **{"optimizer.name": "sgd", "optimizer.lr": 1e-5})
    assert main(["doctor", str(d)]) == 0
    out = capsys.readouterr().out
    assert "! plateau:" in out and "remedy:" in out
    assert main(["doctor", str(tmp_path / "nothing")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["run", "--doctor", "--quiet", "--out", str(tmp_path / "b"), "--set", "train.epochs=2",
                 "--set", "train.threads=1", "--set", "train.device=\"cpu\"", "--set", "model.widths=[2]",
                 "--set", "model.activation=\"tanh\""]) == 0
    out = capsys.readouterr().out
    assert "nnopt doctor:" in out and "! underfitting:" in out


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
