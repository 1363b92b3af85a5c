"""nnopt tune --nproc N: each trial a data-parallel job of N gloo processes (nnopt.tune.ddp).

Oracle: ``nnopt run RECIPE --nproc 2`` — the run command, not the tune code — trained on the best
trial's recipe gives that trial's value, its per-epoch val_acc and its parameters (to 1e-6).
Pruning: a study whose earlier trials reached val_acc 0.999 at ASHA's first rung makes the next
trial's pruner say "prune" after epoch 1 (ASHA keeps the top third); rank 0 alone reports, and
both ranks must stop there for the job to end normally.
"""
import json
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from nnopt import Recipe
from nnopt.errors import ConfigError
from nnopt.tune import parse_space, tune
from nnopt.tune.ddp import TrialJob
from nnopt.tune.sampler import make_pruner
from nnopt.tune.storage import open_storage

SPACE = '[optimizer]\nname = ["sgd", "adam"]\nlr = { low = 1e-2, high = 0.3, log = true }\n'
TINY = {"data.n_train": 300, "model.widths": [16], "train.epochs": 2, "train.batch_size": 64,
        "train.threads": 1, "train.checkpoint": False}


def sets(fields: dict) -> list[str]:
    return [x for k, v in fields.items() for x in ("--set", f"{k}={json.dumps(v)}")]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def val_accs(run_dir: Path) -> list[float]:
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [x["val_acc"] for x in lines if "val_acc" in x]


@pytest.mark.slow
def test_a_trial_is_a_two_process_job_with_the_numbers_of_nnopt_run(tmp_path, monkeypatch, capsys):
    """Both commands run in this process (their launcher is this process; the ranks are its
    children): `nnopt tune` and `nnopt run` as their main() runs them, without two more imports of torch."""
    from nnopt.cli import main

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launcher would set it in this process
    (tmp_path / "space.toml").write_text(SPACE)
    study_dir = tmp_path / "study"
    assert main(["tune", "--space", str(tmp_path / "space.toml"), "--method", "random", "--trials", "2",
                 "--nproc", "2", "--out", str(study_dir), "--quiet", *sets(TINY)]) == 0, capsys.readouterr().err
    trials = optuna.load_study(study_name="default-space-random",
                               storage=open_storage(f"sqlite:///{study_dir / 'study.db'}")).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    for t in trials:
        run = study_dir / "trials" / f"{t.number:05d}"
        assert summary(run)["processes"] == 2
        assert list(t.intermediate_values.values()) == val_accs(run)  # rank 0 reported every epoch
    best = max(trials, key=lambda t: t.value)
    assert (study_dir / "best.toml").read_text() == best.user_attrs["recipe"]

    oracle = tmp_path / "oracle"
    assert main(["run", str(study_dir / "best.toml"), "--nproc", "2", "--out", str(oracle), "--quiet"]) == 0, \
        capsys.readouterr().err
    assert summary(oracle)["processes"] == 2
    assert summary(oracle)["best_val_acc"] == pytest.approx(best.value, abs=1e-6)
    assert val_accs(oracle) == pytest.approx(list(best.intermediate_values.values()), abs=1e-6)
    mine = torch.load(study_dir / "trials" / f"{best.number:05d}" / "model.pt")
    theirs = torch.load(oracle / "model.pt")
    assert max((mine[k] - theirs[k]).abs().max().item() for k in mine) <= 1e-6


def prefill(url: str, name: str, n: int, epochs: int, recipe: Recipe) -> None:
    """`n` finished trials that reached val_acc 0.999 at epoch 1, recorded by ASHA's own pruner."""
    study = optuna.create_study(storage=url, study_name=name, direction="maximize",
                                pruner=make_pruner("asha", epochs))
    for _ in range(n):
        trial = study.ask()
        trial.set_user_attr("recipe", recipe.to_toml())
        trial.report(0.999, 1)
        assert not trial.should_prune()  # each ties the best so far: promoted
        study.tell(trial, 0.999)


@pytest.mark.slow
def test_a_pruned_trial_stops_both_ranks_after_the_same_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launcher would set it in this process
    recipe = Recipe().override({**TINY, "train.epochs": 3})
    url = f"sqlite:///{tmp_path / 'study.db'}"
    prefill(url, "pruned", 3, 3, recipe)
    result = tune(recipe, parse_space(SPACE, recipe), method="asha", trials=4, nproc=2, storage=url,
                  study="pruned", out=tmp_path, quiet=True, report=False)
    assert len(result["trials"]) == 4  # --trials counts the 3 earlier ones
    trial = result["trials"][3]
    # PRUNED, not FAIL: the job exited 0, so rank 1 left with rank 0 (a rank still training would
    # have met a collective without its peer and failed the job)
    assert trial.state == TrialState.PRUNED and list(trial.intermediate_values) == [1]
    assert trial.value == trial.intermediate_values[1]  # the worker saw rank 0's report
    run = tmp_path / "trials" / "00003"
    done = summary(run)
    assert done["status"] == "stopped" and done["stop_reason"] == "pruned after epoch 1"
    assert done["epochs"] == 1 and done["processes"] == 2  # rank 1 stopped with rank 0: the job ended
    assert val_accs(run) == [trial.intermediate_values[1]]


def test_nproc_below_one_is_refused_before_anything_is_written(tmp_path):
    recipe = Recipe().override(TINY)
    with pytest.raises(ConfigError, match=r"--nproc = 0 — must be >= 1"):
        tune(recipe, parse_space(SPACE, recipe), trials=1, nproc=0, out=tmp_path / "s", quiet=True)
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_an_error_in_the_trial_job_fails_the_trial_with_the_message_once(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="bad")
    trial = study.ask()
    recipe = Recipe().override({**TINY, "train.batch_size": 1, "data.n_train": 101})  # 0 samples for rank 1
    job = TrialJob(nproc=2, storage=url, study="bad", method="random", epochs=2, heartbeat=10.0)
    with pytest.raises(ConfigError, match=r"trial 0: its 2-process job stopped with the error above"):
        job.run(trial, recipe, tmp_path / "trials" / "00000")
    err = capfd.readouterr().err
    assert err.count("error: train.batch_size = 1 — with 2 processes every rank needs") == 1, err
