"""Search methods as Optuna samplers and pruners.

    grid       every distinct configuration of a discrete space (conditional knobs multiply only
               where active); refuses continuous ranges
    random     independent uniform / log-uniform draws
    bayes      TPE (multivariate, grouped for conditional spaces); ``model="gp"``: Gaussian process
    hyperband  random draws + Hyperband over epochs (η = 3, brackets of successive halving)
    asha       random draws + asynchronous successive halving over epochs: at rung r (epoch η^r) a
               trial continues only if its val_acc is in the top 1/η of those that reached the rung
    bohb       TPE draws + Hyperband (BOHB, Falkner et al. 2018): Optuna's Hyperband shows the sampler
               only the trials of the new trial's bracket, and TPE ranks a pruned trial by the
               furthest epoch it reached, then its val_acc there — a model fitted on the largest
               budgets observed, as BOHB's is, with random draws until a bracket holds 5 trials
"""
from __future__ import annotations

import warnings

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

from ..errors import ConfigError
from .space import Space

METHODS = ("grid", "random", "bayes", "hyperband", "asha", "bohb")
RESOURCE_METHODS = ("hyperband", "asha", "bohb")  # epochs are the resource they allocate
MODELS = ("tpe", "gp")
REDUCTION = 3  # η of Hyperband / successive halving
STARTUP = 5  # bayes / bohb: random draws before the model is fitted


def make_sampler(method: str, space: Space, seed: int, model: str = "tpe", startup: int = STARTUP) -> BaseSampler:
    """The sampler of `method`; bayes / bohb draw `startup` random trials before fitting their model
    (`startup` ≥ the study's trials makes TPE a random search: the lab's control of claim 18)."""
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} — must be one of {', '.join(METHODS)}")
    if method == "grid":
        return ConfigGridSampler([params for params, _ in space.grid()], seed)
    if method in ("bayes", "bohb"):
        if model not in MODELS:
            raise ConfigError(f"--model {model!r} — must be one of {', '.join(MODELS)}")
        if model == "gp" and method == "bohb":
            raise ConfigError("--model 'gp' — bohb samples with TPE; use --model tpe, or --method bayes for a GP")
        if model == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
        with warnings.catch_warnings():  # multivariate/group are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, n_startup_trials=startup)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(method: str, epochs: int) -> optuna.pruners.BasePruner:
    """Hyperband / ASHA with epochs as the resource (1 … train.epochs); no pruning otherwise."""
    if method in ("hyperband", "bohb"):
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=REDUCTION)
    if method == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=REDUCTION)
    return optuna.pruners.NopPruner()


class ConfigGridSampler(BaseSampler):
    """Runs each of a list of configurations (optuna param name → value) once.

    Unlike Optuna's GridSampler (a product of independent axes) the list may come from a
    conditional space, so no two configurations differ only in an inactive knob. Each trial claims
    a configuration no finished or running trial holds (a random one, to keep concurrent workers
    apart); the study stops when every configuration has finished.
    """

    ATTR = "nnopt_grid_id"

    def __init__(self, configs: list[dict], seed: int = 0):
        self.configs = configs
        self.rng = np.random.default_rng(seed)

    def size(self) -> int:
        return len(self.configs)

    def unvisited(self, study) -> list[int]:
        taken, finished = set(), set()
        for t in study._storage.get_all_trials(study._study_id, deepcopy=False):
            if self.ATTR in t.system_attrs and t.state != TrialState.FAIL:
                (finished if t.state.is_finished() else taken).add(t.system_attrs[self.ATTR])
        free = [i for i in range(len(self.configs)) if i not in finished | taken]
        return free or [i for i in range(len(self.configs)) if i not in finished]

    def before_trial(self, study, trial) -> None:
        free = self.unvisited(study) or list(range(len(self.configs)))
        study._storage.set_trial_system_attr(trial._trial_id, self.ATTR, int(self.rng.choice(free)))

    def infer_relative_search_space(self, study, trial) -> dict:
        return {}

    def sample_relative(self, study, trial, search_space) -> dict:
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.configs[trial.system_attrs[self.ATTR]][param_name]

    def after_trial(self, study, trial, state, values) -> None:
        if not self.unvisited(study):
            study.stop()
