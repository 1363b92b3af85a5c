"""Monte-Carlo dropout against the exact mask-ensemble average, enumerated by hand."""
import itertools

import pytest
import torch
from torch import nn

from nnopt.nn.mc_dropout import mc_dropout_predict, mc_dropout_samples


def test_matches_the_enumerated_ensemble():
    torch.manual_seed(0)
    p = 0.5
    head = nn.Linear(3, 2)
    model = nn.Sequential(nn.Dropout(p), head)
    x = torch.tensor([[1.0, -2.0, 0.5]])
    # exact: the 8 masks are equally likely (keep prob 1/2); kept units are scaled by 1/(1 − p)
    exact = torch.zeros(2)
    with torch.no_grad():
        for mask in itertools.product([0.0, 1.0], repeat=3):
            exact += torch.softmax(head(x * torch.tensor(mask) / (1 - p)), -1)[0] / 8
    estimate = mc_dropout_predict(model, x, samples=20000)[0]
    assert torch.allclose(estimate, exact, atol=0.01)
    # and it differs from weight scaling (eval mode) here, which is not the ensemble average
    scaled = torch.softmax(model.eval()(x), -1)[0]
    assert (scaled - exact).abs().max() > 0.02


def test_other_layers_stay_in_eval_and_modes_are_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
    model.train()
    before = model[1].running_mean.clone()
    out = mc_dropout_samples(model, torch.randn(16, 4), samples=5)
    assert out.shape == (5, 16, 3) and torch.allclose(out.sum(-1), torch.ones(5, 16))
    assert torch.equal(model[1].running_mean, before)  # batch norm did not update: it ran in eval mode
    assert all(m.training for m in model.modules())
    assert not torch.allclose(out[0], out[1])  # different masks


def test_without_dropout_is_an_error():
    with pytest.raises(ValueError, match="no dropout"):
        mc_dropout_predict(nn.Linear(2, 2), torch.zeros(1, 2), 3)
