"""The lab's claims 9–17: each experiment with --fast reaches the verdict asserted here, plus oracle
tests of the measurements the experiments compute themselves."""
import pytest
import torch

from nnopt.lab import HOLDS, run_experiment
from nnopt.lab.experiments import c13_zero_init

VERDICTS = {"zero_init": HOLDS}


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
