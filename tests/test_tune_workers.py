"""Worker processes against a real database: two workers on PostgreSQL share one study, and a
worker killed with SIGKILL mid-trial leaves its trial FAILED (heartbeat) while a rerun continues.

PostgreSQL tests need NNOPT_TEST_POSTGRES_URL (CI: ``eval "$(bash scripts/postgres.sh start)"``);
without it the kill test runs on SQLite, which has the same heartbeat.
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

from nnopt.tune.storage import open_storage

PG = os.environ.get("NNOPT_TEST_POSTGRES_URL")
SPACE = '[optimizer]\nname = ["sgd", "adam"]\nlr = { low = 1e-3, high = 0.3, log = true }\n'
BASE_SET = ["--set", "model.widths=[16]", "--set", "train.threads=1", "--set", "train.checkpoint=false",
            "--set", "train.batch_size=64"]


def command(tmp_path, storage, study, trials, *extra):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    return [sys.executable, "-m", "nnopt.tune", "--space", str(space), "--method", "random",
            "--trials", str(trials), "--storage", storage, "--study", study, "--out", str(tmp_path / "study"),
            "--heartbeat", "1", *BASE_SET, *extra]


def trials_of(storage, study):
    return optuna.load_study(study_name=study, storage=open_storage(storage)).get_trials()


@pytest.mark.skipif(not PG, reason="NNOPT_TEST_POSTGRES_URL is not set (scripts/postgres.sh start)")
def test_two_worker_processes_share_a_postgres_study(tmp_path):
    study = f"two-{uuid.uuid4().hex[:8]}"
    cmd = command(tmp_path, PG, study, 8, "--set", "train.epochs=2", "--set", "data.n_train=300", "--quiet")
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs
    trials = trials_of(PG, study)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(numbers)))  # no duplicated or missing numbers
    assert len(trials) == 8  # exact: racing for the last slot does not overshoot
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both did work


def start_and_wait_for_second_trial(tmp_path, storage, study, *extra):
    """A worker asked for many trials (a trial that ends between two polls just lets the next one
    be caught), once one trial has completed and another is running with an epoch reported:
    (the worker process, the running trial's number)."""
    worker = subprocess.Popen(command(tmp_path, storage, study, 100, *SLOW, *extra), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and worker.poll() is None:
        try:
            trials = trials_of(storage, study)
        except KeyError:  # study not created yet
            trials = []
        running = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
        if any(t.state == TrialState.COMPLETE for t in trials) and running:
            return worker, running[0].number
        time.sleep(0.05)
    worker.kill()
    raise AssertionError(worker.communicate()[1])


# a trial of 2,000 steps: the trial caught RUNNING is still running when the kill or signal lands
SLOW = ["--set", "train.epochs=20", "--set", "data.n_train=400", "--set", "train.batch_size=4"]


@pytest.mark.slow
def test_killed_worker_trial_fails_and_rerun_continues(tmp_path):
    storage = PG or f"sqlite:///{tmp_path}/kill.db"
    study = f"kill-{uuid.uuid4().hex[:8]}"
    worker, victim = start_and_wait_for_second_trial(tmp_path, storage, study)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    before = trials_of(storage, study)
    assert [t.number for t in before] == list(range(victim + 1))  # one worker: the victim is the last
    kept = {t.number: (t.state, t.value) for t in before if t.number != victim}
    time.sleep(3.5)  # past the grace period (3 heartbeats of 1 s)
    rerun = subprocess.run(command(tmp_path, storage, study, len(kept) + 1, *SLOW), capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"marked FAIL the trials of dead workers: [{victim}]" in rerun.stderr
    final = trials_of(storage, study)
    assert [t.number for t in final] == list(range(victim + 2))  # the rerun added exactly one trial
    assert final[victim].state == TrialState.FAIL
    assert final[-1].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert {t.number: (t.state, t.value) for t in final[:victim]} == kept  # nothing lost


@pytest.mark.slow
def test_a_stopped_worker_fails_its_trial_and_says_how_to_continue(tmp_path, sig=signal.SIGINT):
    """Ctrl-C mid-trial (SIGTERM takes the same path, exit 143): the trial is FAIL at once (no
    heartbeat to wait for), with the reason; the worker says to rerun the command, prints no
    traceback (optuna's log of the failed trial is off) and exits 128 + signum."""
    storage = f"sqlite:///{tmp_path}/stop.db"
    worker, victim = start_and_wait_for_second_trial(tmp_path, storage, "stop")
    worker.send_signal(sig)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 128 + sig, err
    assert "Traceback" not in err and "nnopt run --resume" not in err, err
    assert "stopped: the interrupted trial counts as failed; run the same command again" in err
    trials = trials_of(storage, "stop")
    assert trials[victim].state == TrialState.FAIL
    assert trials[victim].user_attrs["fail_reason"] == f"Interrupted: {signal.Signals(sig).name}"
