"""A trial as a data-parallel job: ``nnopt tune ... --nproc N``.

The worker that holds the Optuna trial writes the trial's recipe into its run directory and starts
N ranks through torch's launcher — the function ``nnopt run --nproc N`` uses
(``train.distributed.launch_module``) — running ``python -m nnopt.tune.ddp JOB TRIAL_ID RUN_DIR``.
Every rank trains the recipe as ``nnopt run --nproc N`` would (same shards, same numbers); rank 0
alone opens the study, reports each epoch's metric (the trial's train.monitor) to the trial and
asks the pruner. A prune is
rank 0's ``trainer.request_stop``, which the ranks agree on at the epoch end (distributed
``agree_stop``), so all of them stop after the same epoch and the job exits normally. The worker
reads the run's summary.json: its best value of the metric is the trial's value, status "stopped" by the
pruner makes the trial pruned. The worker's Optuna heartbeat keeps the trial alive meanwhile.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna

from ..errors import ConfigError, Interrupted
from ..process import EXIT_CONFIG, exit_code
from ..recipe import Recipe
from ..user_code import load_imports
from ..train import distributed
from ..train.rundir import RunDir
from .objective import train_trial
from .sampler import make_pruner
from .storage import open_storage


class TrialJobFailed(RuntimeError):
    """A trial's job ended without a result (a rank killed or crashed): the trial fails, the study goes on."""


@dataclass(frozen=True)
class TrialJob:
    """How a worker runs its trials as `nproc`-process jobs; rank 0 reaches the trial through
    `storage` / `study` with the pruner of `method` over `epochs`."""

    nproc: int
    storage: str
    study: str
    method: str
    epochs: int
    heartbeat: float

    def run(self, trial: optuna.Trial, recipe: Recipe, run_dir: Path) -> dict:
        """Train the trial's recipe as an N-process job; returns the run's summary."""
        run_dir.mkdir(parents=True, exist_ok=True)
        recipe.save(run_dir / "recipe.toml")
        code = distributed.launch_module(["nnopt.tune.ddp", json.dumps(asdict(self)), str(trial._trial_id),
                                          str(run_dir)], self.nproc, after_kill="The trial failed.")
        interrupted = Interrupted.from_exit_code(code)
        if interrupted is not None:
            raise interrupted
        if code == EXIT_CONFIG:
            raise ConfigError(f"trial {trial.number}: its {self.nproc}-process job stopped with the error above")
        summary = RunDir(run_dir).summary()
        if code != 0 or not summary:
            raise TrialJobFailed(f"trial {trial.number}: its {self.nproc}-process job failed (exit code {code})")
        return summary


def rank_main(job: TrialJob, trial_id: int, run_dir: Path) -> None:
    """One rank of a trial's job: train the recipe in `run_dir`; rank 0 reports to the trial."""
    ctx = distributed.init()
    trial = None
    if ctx.is_writer:
        study = optuna.load_study(study_name=job.study, storage=open_storage(job.storage, job.heartbeat),
                                  sampler=optuna.samplers.RandomSampler(),  # sampling is the worker's
                                  pruner=make_pruner(job.method, job.epochs))
        trial = optuna.Trial(study, trial_id)
    train_trial(trial, Recipe.load(run_dir / "recipe.toml"), run_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m nnopt.tune.ddp JOB_JSON TRIAL_ID RUN_DIR`` (started by TrialJob.run under torchrun)."""
    job, trial_id, run_dir = argv if argv is not None else sys.argv[1:]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return exit_code(lambda: load_imports() or rank_main(TrialJob(**json.loads(job)), int(trial_id), Path(run_dir)))


if __name__ == "__main__":
    sys.exit(main())
