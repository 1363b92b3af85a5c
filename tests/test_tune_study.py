"""nnopt tune end to end on the digits MLP: every method, pruning, best.toml, reruns, workers."""
import json
import os
import signal
import subprocess

import optuna
import pytest
from optuna.trial import TrialState

from nnopt import Recipe
from nnopt.errors import ConfigError, Interrupted
from nnopt.train import Trainer, build
from nnopt.tune import parse_space, tune
from nnopt.tune.storage import fail_dead_workers, open_storage, worker_id

SPACE = """
[optimizer]
name = ["sgd", "adam"]
lr = { low = 1e-3, high = 0.3, log = true }
[model]
widths = { depth = [1, 2], width = [8, 16] }
"""
GRID = """
[optimizer]
name = ["sgd", "momentum"]
lr = [0.05, 0.2]
momentum = { choices = [0.5, 0.9], when = { name = "momentum" } }
"""


def tiny(epochs=3):
    return Recipe({"data": {"n_train": 300}, "model": {"widths": [16]},
                   "train": {"epochs": epochs, "batch_size": 64, "threads": 1, "device": "cpu",
                             "checkpoint": False}})


def states(result):
    return [t.state for t in result["trials"]]


@pytest.mark.parametrize("method,model", [("random", "tpe"), ("bayes", "tpe"), ("bayes", "gp")])
def test_sampling_methods_run_trials(tmp_path, method, model):
    recipe = tiny()
    result = tune(recipe, parse_space(SPACE, recipe), method=method, model=model, trials=6,
                  out=tmp_path, quiet=True)
    assert states(result) == [TrialState.COMPLETE] * 6
    assert sorted(t.number for t in result["trials"]) == list(range(6))
    assert all(len(t.intermediate_values) == 3 for t in result["trials"])  # one report per epoch
    for name in ("trials.csv", "best.toml", "history.png", "importance.png", "recipe.toml", "space.toml"):
        assert (tmp_path / name).exists(), name
    assert len((tmp_path / "trials.csv").read_text().splitlines()) == 7


def test_grid_runs_each_distinct_configuration_once(tmp_path):
    recipe = tiny(epochs=2)
    result = tune(recipe, parse_space(GRID, recipe), method="grid", out=tmp_path, quiet=True)
    seen = [tuple(sorted(t.user_attrs["assigned"].items())) for t in result["trials"]]
    assert len(seen) == 2 + 2 * 2 and len(set(seen)) == len(seen)


def test_grid_refuses_continuous_space_before_any_trial(tmp_path):
    recipe = tiny()
    with pytest.raises(ConfigError, match="continuous range"):
        tune(recipe, parse_space(SPACE, recipe), method="grid", out=tmp_path / "s", quiet=True)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("method", ["hyperband", "asha"])
def test_pruning_stops_trials_early(tmp_path, method):
    recipe = tiny(epochs=9)
    result = tune(recipe, parse_space(SPACE, recipe), method=method, trials=10, out=tmp_path, quiet=True,
                  seed=1)
    pruned = [t for t in result["trials"] if t.state == TrialState.PRUNED]
    assert pruned and any(t.state == TrialState.COMPLETE for t in result["trials"])
    for t in pruned:
        epochs = len(t.intermediate_values)
        assert epochs < 9
        # the Trainer really stopped: its metrics hold exactly the reported epochs
        lines = (tmp_path / "trials" / f"{t.number:05d}" / "metrics.jsonl").read_text().splitlines()
        assert sum(json.loads(x)["kind"] == "epoch" for x in lines) == epochs
    assert sum(len(t.intermediate_values) for t in result["trials"]) < 9 * len(result["trials"])


def test_resource_method_refuses_searching_epochs(tmp_path):
    recipe = tiny()
    with pytest.raises(ConfigError, match="train.epochs is the resource hyperband allocates"):
        tune(recipe, parse_space("[train]\nepochs = [2, 4]", recipe), method="hyperband", trials=2,
             out=tmp_path, quiet=True)


def test_best_toml_reproduces_best_value(tmp_path):
    recipe = tiny()
    result = tune(recipe, parse_space(SPACE, recipe), method="random", trials=4, out=tmp_path, quiet=True)
    best = Recipe.load(tmp_path / "best.toml")
    summary = Trainer(build(best), tmp_path / "rerun", quiet=True).fit()
    assert summary["best_val_acc"] == result["best"].value
    assert result["best"].value == max(t.value for t in result["trials"])


def test_rerun_continues_the_study_and_keeps_completed_trials(tmp_path):
    recipe = tiny(epochs=2)
    space = parse_space(SPACE, recipe)
    first = tune(recipe, space, method="random", trials=3, out=tmp_path, quiet=True)
    values = [t.value for t in first["trials"]]
    second = tune(recipe, space, method="random", trials=5, out=tmp_path, quiet=True)
    assert [t.number for t in second["trials"]] == list(range(5))
    assert [t.value for t in second["trials"][:3]] == values
    with pytest.raises(ConfigError, match="different space"):
        tune(recipe, parse_space(GRID, recipe), method="random", trials=6, out=tmp_path, quiet=True)


@pytest.mark.slow
def test_workers_share_a_journal_file(tmp_path):
    recipe = tiny(epochs=2)
    result = tune(recipe, parse_space(SPACE, recipe), method="random", trials=6, workers=2, out=tmp_path,
                  quiet=True)
    assert result["storage"].endswith("journal.log")
    numbers = sorted(t.number for t in result["trials"])
    assert numbers == list(range(6))
    assert all(t.state == TrialState.COMPLETE for t in result["trials"])
    assert len({t.user_attrs["worker"] for t in result["trials"]}) == 2


def test_journal_trials_of_dead_workers_are_failed(tmp_path):
    storage = open_storage(str(tmp_path / "journal.log"))
    study = optuna.create_study(storage=storage, study_name="s")
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive, orphan = study.ask(), study.ask()
    alive.set_user_attr("worker", worker_id())
    orphan.set_user_attr("worker", worker_id().rsplit(":", 1)[0] + f":{dead.pid}")
    assert fail_dead_workers(study) == [orphan.number]
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING, TrialState.FAIL]


def test_sqlite_with_several_workers_is_refused(tmp_path):
    recipe = tiny()
    with pytest.raises(ConfigError, match="SQLite locks"):
        tune(recipe, parse_space(SPACE, recipe), trials=2, workers=2, storage=f"sqlite:///{tmp_path}/x.db",
             out=tmp_path, quiet=True)


def test_command_line(tmp_path, capsys):
    from nnopt.tune.command import main

    space = tmp_path / "space.toml"
    space.write_text(GRID)
    code = main(["--space", str(space), "--method", "grid", "--out", str(tmp_path / "s"), "--quiet",
                 "--set", "data.n_train=200", "--set", "train.epochs=1", "--set", "train.threads=1",
                 "--set", "train.checkpoint=false", "--set", "model.widths=[8]"])
    out = capsys.readouterr()
    assert code == 0 and "6 complete, 0 pruned, 0 failed" in out.out
    assert main(["--space", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert os.path.exists(tmp_path / "s" / "study.db")


def test_a_failed_trial_shows_its_reason_in_its_progress_line(tmp_path):
    """Optuna's own log (a traceback per failed trial) is off in the workers, so the progress line
    carries the reason the trial job gave."""
    from nnopt.tune.objective import Objective
    from nnopt.tune.report import trial_line

    class RefusingJob:
        def run(self, trial, recipe, run_dir):
            raise ConfigError("train.batch_size = 1 — too small for 2 ranks")

    recipe = tiny()
    study = optuna.create_study()
    study.optimize(Objective(parse_space(SPACE, recipe), tmp_path, RefusingJob()), n_trials=1, catch=(ConfigError,))
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    line = trial_line(trial, None, 0, 1)
    assert line.endswith("ConfigError: train.batch_size = 1 — too small for 2 ranks"), line


@pytest.mark.parametrize("raised, code, text", [
    (lambda: Interrupted(signal.SIGTERM), 143, ""),
    (lambda: ConfigError("train.epochs = 0 — must be >= 1"), 2, "error: train.epochs = 0 — must be >= 1"),
])
def test_a_spawned_worker_exits_with_nnopt_codes_not_a_traceback(monkeypatch, capsys, raised, code, text):
    """``--workers K`` runs `worker_process` in each spawned process: a Ctrl-C / SIGTERM there or a
    bad value ends it with the exit code and message of a command (multiprocessing would print the
    exception's traceback)."""
    import nnopt.tune.study as study_module

    def run_worker(job):
        raise raised()

    monkeypatch.setattr(study_module, "run_worker", run_worker)
    with pytest.raises(SystemExit) as exit_:
        study_module.worker_process(None)
    assert exit_.value.code == code
    assert capsys.readouterr().err.strip() == text
