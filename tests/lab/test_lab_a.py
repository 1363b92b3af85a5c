"""Claims 18 (hpo_search) and 26 (lamb_large_batch): the verdict each reaches per part under --fast, every
negative control failing, and their components against hand computations and Optuna's own samplers."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from nnopt.lab import run_experiment
from nnopt.lab.experiments.c18_hpo_search import SIGMA, Surface, best_at, level, search, space_text, surface, unit
from nnopt.lab.experiments.c26_lamb_large_batch import LRS, inside, pick, scaled
from nnopt.recipe import Recipe

from fast_checks import check_fast_finding


def verdicts(record) -> dict:
    return {p["name"]: p["verdict"] for p in record["parts"]}


# -- claim 18 ---------------------------------------------------------------------------------------
def test_hpo_search(tmp_path):
    r = run_experiment("hpo_search", tmp_path, seeds=3, fast=True)
    check_fast_finding(r, tmp_path, "HOLDS IN PART")
    n = r["numbers"]
    assert n["repeats"] == 21 and n["budget"] == 16  # 7 searches per seed; 4 knobs, a grid of 2⁴
    # (1) and (2) hold over 21 paired searches and their controls do not; (3) needs more than 72 epochs
    assert verdicts(r) == {"(1) random search beats grid search when few knobs matter": "HOLDS",
                           "(2) TPE beats random search at the same number of trials": "HOLDS",
                           "(3) Hyperband finds a better best than random search in the same epochs": "DOES NOT HOLD"}
    best = n["best"]
    # a grid that knows which knobs matter (4 × 4 on lr × λ) beats random search: its loss is the wasted knobs
    assert best["grid on lr × λ only"]["mean"] > best["random"]["mean"] > best["grid"]["mean"]
    # random search never stops a trial: on the learning curves it ends where the plain search does
    assert best["random, curves"] == best["random"]


def test_grid_levels_are_the_centres_of_equal_parts_of_the_range():
    assert level(1e-4, 1.0, True, False, 0.25) == pytest.approx(1e-3)
    assert level(256, 2048, False, True, 0.75) == 1600
    text = space_text(2, {0: 4})  # lr at 4 levels (quantiles 1/8, 3/8, 5/8, 7/8 of 4 decades), λ fixed at its centre
    assert "lr = [0.0003162, 0.003162, 0.03162, 0.3162]" in text and "coef = [0.0003162]" in text
    assert space_text(6).count("log = true") == 3 and space_text(6).count("[optimizer]") == 1


def test_unit_is_the_place_in_the_log_or_linear_range():
    assigned = {"optimizer.lr": 1e-2, "penalty.coef": 1e-6, "optimizer.eps": 1e-7, "clip.max_norm": 65.0,
                "train.eval_batch_size": 2048, "train.log_every": 100}
    assert unit(assigned, 6) == pytest.approx([0.5, 0.0, 1.0, 0.25, 1.0, 0.0])


def test_surface_and_learning_curves_by_hand():
    f = Surface(np.array([0.5, 0.5, 0.5]), np.array([1.0, 1.0, 0.01]), early=np.array([0.0, 0.0, 0.0]))
    z = np.array([0.5 + SIGMA, 0.5, 0.5 + 10 * SIGMA])
    assert f.score(np.array([0.5, 0.5, 0.5])) == 1.0
    assert f.score(z) == pytest.approx(math.exp(-0.5 * (1 + 0.01 * 100)))
    rho = 0.5 * math.exp(2 * SIGMA)
    assert f.curve(z, 9, 9) == pytest.approx(f.score(z))  # the last epoch scores f
    early = f.score(z, at=np.zeros(3)) * 0.5 / (1 - 0.5 * math.exp(-rho * 8))
    assert f.curve(z, 1, 9) == pytest.approx(early)  # the first: half, around the other optimum
    assert surface(3, 6).u.tolist() == surface(3, 6, every_knob=True).u.tolist()  # one optimum per repeat
    assert surface(3, 6, every_knob=True).w.tolist() == [1.0] * 6


def test_searches_go_through_nnopt_tune_samplers():
    import optuna

    f = surface(0, 2)
    grid = search(space_text(2, {0: 2, 1: 2}), f, "grid", 99, seed=0)
    assert len(grid) == 4 and len({tuple(z) for _, _, z in grid}) == 4  # the whole grid, once each
    # TPE with every trial a startup trial is Optuna's RandomSampler with the same seed (the control of (2))
    ranges = space_text(2)
    control = [z for _, _, z in search(ranges, f, "bayes", 8, seed=5, startup=8)]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    study.optimize(lambda t: t.suggest_float("optimizer.lr", 1e-4, 1.0, log=True)
                   + t.suggest_float("penalty.coef", 1e-6, 0.1, log=True), n_trials=8)
    assert [z[0] for z in control] == pytest.approx([unit({"optimizer.lr": t.params["optimizer.lr"],
                                                           "penalty.coef": 1e-6}, 2)[0] for t in study.trials])
    # the log: epochs spent and best complete score after each trial; Hyperband stops trials early
    hb = search(ranges, f, "hyperband", 40, seed=0, epochs=9)
    assert hb[-1][0] < 40 * 9 and [e for e, _, _ in hb] == sorted(e for e, _, _ in hb)
    assert best_at(hb, hb[-1][0]) == hb[-1][1] and best_at(hb, 0) == 0.0
    budgeted = search(ranges, f, "random", 40, seed=0, epochs=9, epoch_budget=50)
    assert [e for e, _, _ in budgeted] == [9, 18, 27, 36, 45, 54]  # stops once 50 epochs are spent


# -- claim 26 ---------------------------------------------------------------------------------------
def test_lamb_large_batch(tmp_path):
    r = run_experiment("lamb_large_batch", tmp_path, seeds=3, fast=True)
    # 2 epochs: LAMB is far behind Adam at batch 32, so neither regime can be judged (the precondition)
    check_fast_finding(r, tmp_path, "INCONCLUSIVE")
    assert list(verdicts(r).values()) == ["INCONCLUSIVE", "INCONCLUSIVE"]
    n = r["numbers"]
    assert n["lr_grid"] == [1e-3, 1e-2, 1e-1]
    for name in ("adam", "lamb"):  # the whole grid at every batch on every seed, lr × √(B/32)
        for base in n["lr_grid"]:
            for s in (0, 1, 2):
                big = Recipe.load(tmp_path / "recipes" / f"{name}-b1257-lr{scaled(base, 1257):.3g}-s{s}.toml").resolved
                assert big["optimizer"]["lr"] == pytest.approx(base * math.sqrt(1257 / 32))
                assert big["train"]["batch_size"] == 1257 and big["schedule"]["warmup_steps"] == 1
        # the choice is the best mean validation accuracy over the seeds
        means = {lr: n["val_acc"][f"{name}/32/{lr:g}"]["mean"] for lr in n["lr_grid"]}
        assert means[n["lr"][f"{name}/32"]] == max(means.values())


def run_with(val_acc, val_loss=0.1):
    return SimpleNamespace(final_val_acc=lambda: val_acc, diverged=False, epochs=[{"val_loss": val_loss}])


def test_pick_is_the_best_mean_validation_accuracy_ties_to_the_lower_loss():
    runs = {0.1: [run_with(0.875, 0.4), run_with(0.625, 0.4)], 0.2: [run_with(0.75, 0.3), run_with(0.75, 0.3)],
            0.3: [run_with(0.5, 0.2), run_with(1.0, 0.2)]}
    assert pick([0.1, 0.2, 0.3], runs.get) == 0.3  # mean accuracies all 0.75: the lowest mean loss
    assert pick([0.1, 0.2], runs.get) == 0.2
    assert pick([0.1, 0.2, 0.3], lambda lr: runs[lr][:1]) == 0.1  # seed 0 alone chooses otherwise


def test_an_lr_at_the_grid_edge_fails_the_precondition():
    assert inside(LRS, {("adam", 32): 1e-2, ("lamb", 32): 3e-2}, "choice").met
    edge = inside(LRS, {("adam", 1257): 1e-3, ("lamb", 32): 1e-2}, "choice")
    assert not edge.met and "Adam at batch 1257: 0.001" in edge.measured
