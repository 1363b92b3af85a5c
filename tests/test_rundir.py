"""The run directory's one reader/writer: what a run writes reads back; old and damaged files."""
import json

import pytest
import torch

from nnopt import ConfigError, Recipe
from nnopt.train import train
from nnopt.train.rundir import FORMAT, RunDir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rundir") / "run"
    recipe = Recipe({"model": {"widths": [16]}, "train": {"epochs": 2, "batch_size": 128, "threads": 1,
                                                          "device": "cpu", "log_layers": True}})
    return out, train(recipe, out, quiet=True)


def test_a_run_reads_back(run):
    out, summary = run
    rd = RunDir(out).check()
    on_disk = rd.summary()
    assert on_disk["format"] == FORMAT and {k: on_disk[k] for k in summary} == summary
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert rd.metrics() == lines and [e["epoch"] for e in rd.epochs()] == [1, 2]
    assert rd.steps() == [m for m in lines if m["kind"] == "step"]
    assert rd.recipe()["model"]["widths"] == [16] and rd.layers()[0]["kind"] == "step"
    state = rd.model_state()
    assert set(state) == set(torch.load(out / "model.pt"))


def test_recipe_reads_raw_without_validating_component_names(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("")
    (tmp_path / "recipe.toml").write_text('[data]\nname = "only_registered_elsewhere"\n')
    assert RunDir(tmp_path).recipe() == {"data": {"name": "only_registered_elsewhere"}}


def test_a_version_1_summary_reads_as_a_val_acc_classification(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"status": "completed", "best_val_acc": 0.9}))
    s = RunDir(tmp_path).summary()
    assert (s["format"], s["task"], s["monitor"], s["best_val_acc"]) == (1, "classification", "val_acc", 0.9)


@pytest.mark.parametrize("text, match", [
    ('{"kind": "epoch"}\n{"kind": "ste', r"metrics.jsonl:2 — not a JSON line"),
    ('{"kind": "epoch"}\n\n[1, 2]\n', r"metrics.jsonl:3 — a record must be a JSON object with a \"kind\""),
    ('{"epoch": 1}\n', r"metrics.jsonl:1 — a record must be a JSON object with a \"kind\""),
    ('{"kind": 3}\n', r"metrics.jsonl:1 — a record must be a JSON object with a \"kind\""),
    ('{"kind": "epoch", "val_loss": 1.5}\n{"kind": "epoch", "val_loss": "high"}\n',
     r'metrics.jsonl:2 — val_loss = "high" — must be a number'),
    ('{"kind": "step", "loss": true}\n', r"metrics.jsonl:1 — loss = true — must be a number"),
    ('{"kind": "step", "lr": [' + "1, " * 40 + '1]}\n', r"metrics.jsonl:1 — lr = \[1, 1, .*\.\.\. — must be a number"),
    ('{"kind": "step", "loss": ' + "[" * 200_000 + "]" * 200_000 + '}\n', r"metrics.jsonl:1 — JSON nested too deeply"),
    (b'\xff\xfe', r"metrics.jsonl is not UTF-8"),
])
def test_damaged_metrics_name_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=match):
        RunDir(tmp_path).metrics()


def test_null_and_non_finite_metrics_read_back(tmp_path):
    """A diverged run writes NaN (json.dumps' NaN / Infinity) and a tracked loop may log None."""
    (tmp_path / "metrics.jsonl").write_text('{"kind": "step", "loss": NaN, "grad_norm": null, "lr": Infinity}\n')
    (line,) = RunDir(tmp_path).metrics()
    assert line["loss"] != line["loss"] and line["grad_norm"] is None and line["lr"] == float("inf")


def test_layers_lines_may_nest(run):
    """Only metrics.jsonl is held to numbers: layers.jsonl's records hold per-layer objects."""
    out, _ = run
    assert isinstance(RunDir(out).layers()[0]["layers"], dict)


@pytest.mark.parametrize("name, text, reader, match", [
    ("summary.json", "[1]", "summary", r"summary.json holds a JSON list — must be an object \{...\}"),
    ("summary.json", "null", "summary", r"summary.json holds a JSON null — must be an object"),
    ("summary.json", '{\n  "status": "completed",\n  "best', "summary", "summary.json:3 — not valid JSON"),
    ("summary.json", "[" * 200_000, "summary", "summary.json:1 — JSON nested too deeply"),
    ("recipe.toml", "[data", "recipe", "recipe.toml is not valid TOML"),
    ("model.pt", "not a zip", "model_state", "model.pt is not a model state dict"),
])
def test_damaged_files_are_one_line_errors(tmp_path, name, text, reader, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        getattr(RunDir(tmp_path), reader)()
    assert "\n" not in str(info.value)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(ConfigError, match="is not a run directory"):
        RunDir(tmp_path).check()
    with pytest.raises(ConfigError, match="does not exist"):
        RunDir(tmp_path / "nope").check()


def test_tensorboard_logger_writes_the_same_metrics(tmp_path):
    """Oracle: tensorboard's own EventAccumulator reads back metrics.jsonl's values (float32), and a
    run stopped mid-way and resumed has each step once."""
    pytest.importorskip("tensorboard", reason="the optional tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from nnopt.train import LambdaCallback, Trainer, build

    recipe = Recipe({"model": {"widths": [16]}, "train": {"epochs": 2, "batch_size": 128, "threads": 1,
                                                          "device": "cpu", "loggers": ["tensorboard"]}})
    stop = LambdaCallback(on_epoch_end=lambda tr, e, r: tr.request_stop("half") if e == 1 else None)
    train(recipe, tmp_path, quiet=True, callbacks=[stop])
    Trainer(build(recipe), tmp_path, quiet=True).fit(resume=True)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    rd = RunDir(tmp_path)
    val = events.Scalars("epoch/val_acc")
    assert [e.step for e in val] == [r["step"] for r in rd.epochs()]
    assert [e.value for e in val] == pytest.approx([r["val_acc"] for r in rd.epochs()], rel=1e-6)
    loss = events.Scalars("step/loss")
    assert [e.step for e in loss] == [m["step"] for m in rd.steps()]
    assert [e.value for e in loss] == pytest.approx([m["loss"] for m in rd.steps()], rel=1e-6)


def test_a_missing_logger_package_is_a_config_error(monkeypatch):
    import builtins

    from nnopt.train import build

    real = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "tensorboard" else real(name, *a, **k))
    with pytest.raises(ConfigError, match=r'train.loggers = \["tensorboard"\] — needs the tensorboard package'):
        build(Recipe({"train": {"loggers": ["tensorboard"], "device": "cpu"}}))
