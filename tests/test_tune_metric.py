"""nnopt tune --metric: the study follows the metric's direction; regression studies minimize."""
import optuna
import pytest
from optuna.study import StudyDirection

from nnopt import ConfigError, Recipe
from nnopt.train import Trainer, build
from nnopt.tune import parse_space, tune
from nnopt.tune.report import trial_line
from nnopt.tune.storage import open_storage

SPACE = """
[optimizer]
lr = { low = 1e-3, high = 0.1, log = true }
"""


def regression(epochs=2):
    return Recipe({"data": {"name": "diabetes"}, "model": {"widths": [8]}, "preprocess": {"name": "standardize"},
                   "train": {"epochs": epochs, "batch_size": 64, "threads": 1, "device": "cpu", "checkpoint": False}})


def test_a_regression_study_minimizes_its_metric_and_best_toml_reproduces_it(tmp_path):
    recipe = regression()
    result = tune(recipe, parse_space(SPACE, recipe), method="random", trials=3, out=tmp_path, quiet=True,
                  metric="val_rmse")
    values = [t.value for t in result["trials"]]
    assert result["best"].value == min(values) and "best val rmse" in result["table"]
    assert result["trials"][0].intermediate_values  # each epoch's val_rmse reported
    best = Recipe.load(tmp_path / "best.toml")
    assert best.train["monitor"] == "val_rmse"
    assert Trainer(build(best), tmp_path / "rerun", quiet=True).fit()["best_val_rmse"] == result["best"].value
    study = optuna.load_study(study_name="nnopt", storage=open_storage(result["storage"], 10.0))
    assert study.direction == StudyDirection.MINIMIZE
    assert " val_rmse " in trial_line(result["trials"][0], result["best"], 1, 3, "val_rmse")


def test_the_default_metric_is_the_tasks_monitor(tmp_path):
    recipe = regression(epochs=1)
    result = tune(recipe, parse_space(SPACE, recipe), method="random", trials=1, out=tmp_path, quiet=True)
    assert Recipe.load(tmp_path / "best.toml").train["monitor"] == "val_loss"
    assert "best val loss" in result["table"]


@pytest.mark.parametrize("metric, match", [("val_acc", "--metric = 'val_acc' — a regression run reports"),
                                           ("val_f1", "--metric = 'val_f1' — must be one of")])
def test_a_metric_the_task_does_not_report_is_refused_before_any_trial(tmp_path, metric, match):
    recipe = regression()
    with pytest.raises(ConfigError, match=match):
        tune(recipe, parse_space(SPACE, recipe), method="random", trials=1, out=tmp_path / "s", metric=metric)
    assert not (tmp_path / "s").exists()
