"""HPO at scale: BOHB (TPE + Hyperband), an exact --trials N under racing workers, and four workers
on one PostgreSQL study started as two separate commands (as on two machines), one of them killed.

PostgreSQL tests need NNOPT_TEST_POSTGRES_URL (scripts/test.sh starts a server); the racing test
also runs on a journal file.
"""
import os
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from nnopt import Recipe
from nnopt.errors import ConfigError
from nnopt.tune import parse_space, tune
from nnopt.tune.sampler import make_pruner, make_sampler
from nnopt.tune.storage import open_storage

PG = os.environ.get("NNOPT_TEST_POSTGRES_URL")
SPACE = '[optimizer]\nname = ["sgd", "adam"]\nlr = { low = 1e-3, high = 0.3, log = true }\n'
needs_pg = pytest.mark.skipif(not PG, reason="NNOPT_TEST_POSTGRES_URL is not set (scripts/postgres.sh start)")


def tiny(epochs):
    return Recipe({"data": {"n_train": 300}, "model": {"widths": [16]},
                   "train": {"epochs": epochs, "batch_size": 64, "threads": 1, "device": "cpu",
                             "checkpoint": False}})


def test_bohb_is_tpe_sampling_with_hyperband_pruning(tmp_path):
    recipe = tiny(epochs=9)
    space = parse_space(SPACE, recipe)
    sampler, pruner = make_sampler("bohb", space, 0), make_pruner("bohb", 9)
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (1, 9, 3)
    result = tune(recipe, space, method="bohb", trials=12, out=tmp_path, quiet=True, seed=1)
    trials = result["trials"]
    assert len(trials) == 12 and {t.state for t in trials} == {TrialState.COMPLETE, TrialState.PRUNED}
    # Hyperband's rungs over 9 epochs with η = 3: a pruned trial stopped after epoch 1 or 3
    assert {len(t.intermediate_values) for t in trials if t.state == TrialState.PRUNED} <= {1, 3}
    assert all(len(t.intermediate_values) == 9 for t in trials if t.state == TrialState.COMPLETE)


def test_bohb_refuses_gp_and_searching_its_resource(tmp_path):
    recipe = tiny(epochs=3)
    with pytest.raises(ConfigError, match="bohb samples with TPE"):
        tune(recipe, parse_space(SPACE, recipe), method="bohb", model="gp", trials=2, out=tmp_path / "a",
             quiet=True)
    with pytest.raises(ConfigError, match="train.epochs is the resource bohb allocates"):
        tune(recipe, parse_space("[train]\nepochs = [2, 4]", recipe), method="bohb", trials=2,
             out=tmp_path / "b", quiet=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


RACER = """
import sys
import optuna
from nnopt.tune.storage import StudyFull, limit_trials, open_storage
url, name, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
study = limit_trials(optuna.load_study(study_name=name, storage=open_storage(url)), url, limit)
print("ready", flush=True)
sys.stdin.readline()  # every racer asks at the same moment: when all of them are ready
created = 0
try:
    while True:
        study.ask()
        created += 1
except StudyFull:
    print(created)
"""


@pytest.mark.parametrize("backend", ["journal", "postgres"])
def test_racing_workers_create_exactly_the_limit(tmp_path, backend):
    if backend == "postgres" and not PG:
        pytest.skip("NNOPT_TEST_POSTGRES_URL is not set")
    url = PG if backend == "postgres" else str(tmp_path / "journal.log")
    name = f"race-{uuid.uuid4().hex[:8]}"
    optuna.create_study(storage=open_storage(url), study_name=name)
    racers = [subprocess.Popen([sys.executable, "-c", RACER, url, name, "12"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True) for _ in range(4)]
    assert [r.stdout.readline() for r in racers] == ["ready\n"] * 4  # imported, study loaded
    for r in racers:
        r.stdin.write("go\n")
        r.stdin.flush()
    created = [int(r.communicate(timeout=120)[0]) for r in racers]
    trials = optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()
    assert sum(created) == 12 and len(trials) == 12  # RUNNING trials count: nobody overshoots
    assert sorted(t.number for t in trials) == list(range(12))


def tune_command(tmp_path, study, out, trials, workers, *extra):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    return [sys.executable, "-m", "nnopt.tune", "--space", str(space), "--method", "random",
            "--trials", str(trials), "--workers", str(workers), "--storage", PG, "--study", study,
            "--out", str(tmp_path / out), "--heartbeat", "1", "--set", "model.widths=[16]",
            "--set", "train.threads=1", "--set", "train.checkpoint=false", "--set", "train.batch_size=4",
            "--set", "data.n_train=300", "--set", "train.epochs=10", *extra]


@needs_pg
@pytest.mark.slow
def test_four_workers_from_two_commands_share_a_postgres_study_and_retry_a_killed_trial(tmp_path):
    study = f"four-{uuid.uuid4().hex[:8]}"
    machines = [subprocess.Popen(tune_command(tmp_path, study, f"machine{i}", 8, 2), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for i in range(2)]
    storage = open_storage(PG)
    victim, deadline = None, time.time() + 120
    while victim is None and time.time() < deadline:  # SIGKILL one worker in the middle of a trial
        try:
            trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
        except KeyError:  # study not created yet
            trials = []
        running = [t for t in trials if t.state == TrialState.RUNNING and len(t.intermediate_values) >= 2
                   and "worker" in t.user_attrs]
        if running:
            victim = running[0]
            os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
        time.sleep(0.05)
    outs = [m.communicate(timeout=300) for m in machines]
    assert victim is not None, outs
    assert [m.returncode for m in machines] == [0, 0], outs
    final = optuna.load_study(study_name=study, storage=storage).get_trials()
    assert sorted(t.number for t in final) == list(range(9))  # no duplicated or missing numbers
    by_state = {s: [t.number for t in final if t.state == s] for s in TrialState}
    assert by_state[TrialState.FAIL] == [victim.number]  # the killed worker's trial, failed ...
    assert len(by_state[TrialState.COMPLETE]) == 8  # ... and retried: exactly 8 complete
    assert len({t.user_attrs["worker"] for t in final}) == 4  # all four workers took trials
    # each machine's study directory holds the run directories of the trials its workers ran
    ran = sorted(int(p.name) for i in range(2) for p in (tmp_path / f"machine{i}" / "trials").iterdir())
    assert ran == list(range(9))
