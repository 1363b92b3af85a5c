"""The lab's claims 9–17: each experiment with --fast reaches the verdict asserted here, plus oracle
tests of the measurements the experiments compute themselves."""
import pytest
import torch

from nnopt.lab import DOES_NOT_HOLD, HOLDS, run_experiment
from nnopt.lab.experiments import c13_zero_init, c14_init_depth, c15_preprocessing

VERDICTS = {"zero_init": HOLDS, "init_depth": DOES_NOT_HOLD, "preprocessing": HOLDS}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_fast_verdict(name, tmp_path):
    record = run_experiment(name, tmp_path, seeds=3, fast=True)
    assert record["verdict"] == VERDICTS[name], record["measured"]
    assert record["figures"] and all((tmp_path / f).stat().st_size > 10_000 for f in record["figures"])
    assert record["table"]["rows"]


def test_pairwise_differences_against_a_loop():
    w = torch.randn(5, 7)
    loop = torch.tensor([[max(abs(a - b) for a, b in zip(w[i].tolist(), w[j].tolist())) for j in range(5)]
                         for i in range(5)])
    assert torch.allclose(c13_zero_init.pairwise_differences(w), loop)
    state = {"1.weight": torch.ones(4, 3), "2.weight": w, "3.weight": torch.randn(2, 5)}
    assert c13_zero_init.unit_spread(state)[0] == pytest.approx(float(loop.max()))
    assert c13_zero_init.unit_spread({"1.weight": torch.ones(4, 3), "3.weight": w})[0] == 0.0


def test_init_overrides_make_the_recipe_of_the_diagnose_string():
    from nnopt import Recipe

    overrides = c14_init_depth.init_overrides("xavier_normal:activation=logistic")
    assert overrides == {"init.name": "xavier_normal", "init.activation": "logistic"}
    assert Recipe({}).override(overrides).init["activation"] == "logistic"
    assert c14_init_depth.init_overrides("he_normal") == {"init.name": "he_normal"}


def test_condition_number_against_numpy():
    import numpy as np

    x = torch.randn(50, 4, dtype=torch.float64) * torch.tensor([1.0, 10.0, 100.0, 0.1], dtype=torch.float64)
    xt = np.hstack([x.numpy(), np.ones((50, 1))])
    assert c15_preprocessing.condition_number(x) == pytest.approx(np.linalg.cond(xt.T @ xt / 50), rel=1e-9)
    # centred, uncorrelated, unit-variance columns: E[x̃x̃ᵀ] = I, κ = 1
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert c15_preprocessing.condition_number(z) == pytest.approx(1.0, abs=1e-12)


def test_steps_to_target():
    assert c15_preprocessing.steps_to_target([1.0, 0.5, c15_preprocessing.TARGET]) == 3
    assert c15_preprocessing.steps_to_target([1.0, 0.5]) == float("inf")
