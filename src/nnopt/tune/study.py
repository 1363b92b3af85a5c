"""`tune()`: create or continue a study, run K workers on it, write the study directory.

    from nnopt import Recipe
    from nnopt.tune import load_space, tune
    recipe = Recipe.load("recipe.toml")
    result = tune(recipe, load_space("space.toml", recipe), method="hyperband", trials=30, out="runs/hb")

``trials`` counts complete + pruned (+ running) trials of the whole study, over all workers and
reruns, exactly (storage.limit_trials): a rerun after a crash runs only what is missing. Failed
trials do not count, so a trial whose worker died is retried: a worker that finds the study full
but some trial still running waits (checking for dead workers every heartbeat) until every trial
has finished, and takes the slot a dead worker's trial frees. With ``nproc`` > 1 each trial is a
data-parallel job of that many processes (ddp.py), as ``nnopt run --nproc N`` trains.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ..errors import ConfigError
from ..paths import check_output
from ..process import exit_code
from ..recipe import MONITORS, Recipe
from ..tasks import DEFAULT_MONITOR, METRICS, check_metric, direction
from ..user_code import load_imports
from .ddp import TrialJob, TrialJobFailed
from .objective import Objective
from .report import best_trial, metric_of, trial_line, write_report
from .sampler import METHODS, RESOURCE_METHODS, ConfigGridSampler, make_pruner, make_sampler
from .space import Space, parse_space
from .storage import StudyFull, fail_dead_workers, limit_trials, open_storage, storage_url


@dataclass(frozen=True)
class Job:
    """Everything a worker process needs (picklable)."""

    recipe: dict
    space: str
    method: str
    model: str
    trials: int
    storage: str
    study: str
    study_dir: str
    seed: int
    heartbeat: float
    deadline: float | None
    quiet: bool
    nproc: int = 1  # processes per trial (a data-parallel job when > 1)
    worker: int = 0
    tag: str = ""  # progress-line prefix


def default_study_dir(study: str) -> Path:
    """Where a study lives when no --out is given: runs/tune-<study>."""
    return Path("runs") / f"tune-{study}"


def tune(recipe: Recipe, space: Space, method: str = "random", trials: int | None = None, workers: int = 1,
         storage: str | None = None, study: str = "nnopt", timeout: float | None = None,
         out: str | Path | None = None, seed: int = 0, model: str = "tpe", heartbeat: float = 10.0,
         quiet: bool = False, report: bool = True, nproc: int = 1, metric: str | None = None) -> dict:
    """Run (or continue) the study; returns write_report's dict plus ``storage`` and ``study_dir``
    (``report=False``: only ``trials``, ``storage`` and ``study_dir`` — no files or figures).
    `metric`: what the trials are judged by (their train.monitor; default the recipe's), maximized
    or minimized by its direction (nnopt.tasks.METRICS)."""
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} — must be one of {', '.join(METHODS)}")
    if workers < 1:
        raise ConfigError(f"--workers = {workers} — must be >= 1")
    if nproc < 1:
        raise ConfigError(f"--nproc = {nproc} — must be >= 1 (processes per trial)")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout = {timeout} — must be > 0 seconds")
    make_sampler(method, space, seed, model)  # a bad --method / --model fails before anything is written
    metric = study_metric(recipe, metric)
    recipe = recipe.override({"train.monitor": metric})
    if method in RESOURCE_METHODS and any(k.key == "train.epochs" for k in space.searched()):
        raise ConfigError(f"train.epochs is the resource {method} allocates — fix it (to the most epochs "
                          "a trial may get) instead of searching it")
    if method == "grid":
        size = len(space.grid())
        trials = min(trials or size, size)
    if trials is None or trials < 1:
        raise ConfigError(f"--trials = {trials} — must be >= 1 (only grid search may leave it out)")
    if workers * nproc > 1 and recipe.train["threads"] == 0:  # the cores shared by K workers × N ranks
        recipe = recipe.override({"train.threads": max(1, (os.cpu_count() or 1) // (workers * nproc))})
        space = parse_space(space.text, recipe)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_dir = check_output("--out", out or default_study_dir(study))
    study_dir.mkdir(parents=True, exist_ok=True)
    url = storage_url(storage, study_dir, workers)
    handle = optuna.create_study(storage=open_storage(url, heartbeat), study_name=study,
                                 direction="maximize" if direction(metric) == "max" else "minimize",
                                 load_if_exists=True)
    _check_same_study(handle, {"space": space.text, "method": method, "recipe": recipe.to_toml(),
                               "metric": metric}, url)
    (study_dir / "space.toml").write_text(space.text)
    recipe.save(study_dir / "recipe.toml")
    job = Job(recipe.raw, space.text, method, model, trials, url, study, str(study_dir), seed, heartbeat,
              time.time() + timeout if timeout else None, quiet, nproc)
    if workers == 1:
        run_worker(job)
    else:
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=worker_process, args=(Job(**{**job.__dict__, "worker": i, "tag": f"[w{i}] "}),))
                 for i in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        bad = [f"worker {i} exit code {p.exitcode}" for i, p in enumerate(procs) if p.exitcode]
        if bad:
            print(f"warning: {', '.join(bad)}; rerun the same command to continue the study", file=sys.stderr)
    final = optuna.load_study(study_name=study, storage=open_storage(url, heartbeat))
    if not report:
        return {"trials": final.get_trials(), "storage": url, "study_dir": study_dir}
    return {**write_report(final, study_dir, method, url), "storage": url, "study_dir": study_dir}


def study_metric(recipe: Recipe, metric: str | None) -> str:
    """The metric a study of `recipe` is judged by: `metric`, else the recipe's train.monitor ("auto":
    the data set's task's default); ConfigError when the data set's task does not report it."""
    from ..data import load

    metric = metric or recipe.train["monitor"]
    if metric != "auto" and metric not in METRICS:
        raise ConfigError(f"--metric = {metric!r} — must be one of {', '.join(MONITORS)}")
    task = load(recipe.data["name"], **recipe.params("data")).task
    if metric == "auto":
        return DEFAULT_MONITOR[task]
    try:
        return check_metric(metric, task, "--metric")
    except ValueError as exc:
        raise ConfigError(str(exc), field="--metric") from None


def _check_same_study(study: optuna.Study, fingerprint: dict, url: str) -> None:
    """A rerun continues a study only with the same space, method and base recipe."""
    old = study.user_attrs.get("nnopt")
    if old is None:
        study.set_user_attr("nnopt", fingerprint)
        return
    changed = [k for k in fingerprint if old.get(k) != fingerprint[k]]
    if changed:
        raise ConfigError(f"study {study.study_name!r} in {url} was started with a different "
                          f"{' and '.join(changed)}; give another --study or --out to start a new one")


def worker_process(job: Job) -> None:
    """A spawned worker (``--workers K``): `run_worker` with nnopt's exit codes and one-line
    messages, as a command has (multiprocessing would print a traceback for a Ctrl-C)."""
    sys.exit(exit_code(lambda: load_imports() or run_worker(job)))  # --import's modules: NNOPT_IMPORT


def run_worker(job: Job) -> None:
    """One worker: start trials until the study holds `job.trials` counted trials (or the deadline).
    Optuna's own log is off (a failed trial would print a traceback): each trial's progress line
    says what became of it, with the reason of a failure."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    base = Recipe(job.recipe)
    space = parse_space(job.space, base)
    storage = open_storage(job.storage, job.heartbeat)
    study = optuna.load_study(study_name=job.study, storage=storage)
    dead = fail_dead_workers(study)
    if dead and not job.quiet:
        print(f"{job.tag}marked FAIL the trials of dead workers: {dead}", file=sys.stderr)
    worker_seed = job.seed + 7919 * job.worker + len(study.get_trials(deepcopy=False))
    sampler = make_sampler(job.method, space, worker_seed, job.model)
    study = limit_trials(optuna.load_study(study_name=job.study, storage=storage, sampler=sampler,
                                           pruner=make_pruner(job.method, base.train["epochs"])),
                         job.storage, job.trials)
    trial_job = None if job.nproc == 1 else TrialJob(job.nproc, job.storage, job.study, job.method,
                                                      base.train["epochs"], job.heartbeat)
    objective = Objective(space, job.study_dir, trial_job)

    failures = [0]

    def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        failures[0] += trial.state == TrialState.FAIL
        if not job.quiet:
            done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
            print(job.tag + trial_line(trial, best_trial(study), done, job.trials, metric_of(study)),
                  file=sys.stderr, flush=True)

    while job.deadline is None or time.time() < job.deadline:
        if isinstance(sampler, ConfigGridSampler) and not sampler.unvisited(study):
            break
        try:
            study.optimize(objective, n_trials=1, catch=(ConfigError, TrialJobFailed), callbacks=[progress],
                           gc_after_trial=False)
        except KeyboardInterrupt:  # Ctrl-C / SIGTERM: the running trial is marked FAIL; the study stays
            print(f"{job.tag}stopped: the interrupted trial counts as failed; run the same command again to "
                  "continue the study", file=sys.stderr)
            raise
        except StudyFull:
            if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                break
            time.sleep(min(job.heartbeat, 1.0))  # other workers' trials run: one may die and free its slot
            dead = fail_dead_workers(study)
            if dead and not job.quiet:
                print(f"{job.tag}marked FAIL the trials of dead workers: {dead}", file=sys.stderr)
            continue
        if failures[0] >= max(3, job.trials):
            print(f"{job.tag}stopping: {failures[0]} trials failed", file=sys.stderr)
            break
