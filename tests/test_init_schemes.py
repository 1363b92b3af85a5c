"""Init schemes: sample moments vs the formulas, equality with torch.nn.init, orthogonality, fans."""
import math
import warnings

import pytest
import torch
from scipy import stats
from torch import nn

from nnopt import ConfigError, Recipe, init
from nnopt.init.layers import weight_blocks
from nnopt.nn.weightnorm import weight_norm

FAN_IN, FAN_OUT = 1000, 1500  # 1.5e6 samples: a 6-sigma band on the sample variance is < 0.5 %


def big_linear():
    return nn.Linear(FAN_IN, FAN_OUT)


def check_variance(w: torch.Tensor, var: float, kurtosis: float, mean: float = 0.0):
    """Sample variance within 6 standard errors: sd(s²)/σ² ≈ √((κ − 1)/n)."""
    n = w.numel()
    sample = w.double().var().item()
    assert abs(sample - var) <= 6 * var * math.sqrt((kurtosis - 1) / n), (sample, var)
    assert abs(w.double().mean().item() - mean) <= 6 * math.sqrt(var / n)


def check_uniform(w: torch.Tensor, r: float):
    check_variance(w, r * r / 3, kurtosis=1.8)
    assert w.abs().max().item() <= r * (1 + 1e-6)
    assert w.max().item() >= r * (1 - 1e-3) and w.min().item() <= -r * (1 - 1e-3)


@pytest.mark.parametrize("activation, gain", [("tanh", 1.0), ("logistic", 4.0), ("relu", math.sqrt(2))])
def test_xavier_uniform_range_and_variance(activation, gain):
    torch.manual_seed(0)
    m = init.apply(big_linear(), "xavier_uniform", activation=activation)
    check_uniform(m.weight, gain * math.sqrt(6 / (FAN_IN + FAN_OUT)))


def test_xavier_normal_logistic_variance_is_16_times():
    torch.manual_seed(1)
    m = init.apply(big_linear(), "xavier_normal", activation="logistic")
    check_variance(m.weight, 16 * 2 / (FAN_IN + FAN_OUT), kurtosis=3)


@pytest.mark.parametrize("mode, fan", [("fan_in", FAN_IN), ("fan_out", FAN_OUT)])
def test_he_variance_by_mode(mode, fan):
    torch.manual_seed(2)
    check_variance(init.apply(big_linear(), "he_normal", mode=mode).weight, 2 / fan, kurtosis=3)
    check_uniform(init.apply(big_linear(), "he_uniform", mode=mode).weight, math.sqrt(6 / fan))


def test_normal_and_uniform_parameters():
    torch.manual_seed(3)
    check_variance(init.apply(big_linear(), "normal", mean=0.5, std=0.2).weight, 0.04, 3, mean=0.5)
    check_uniform(init.apply(big_linear(), "uniform", r=0.3).weight, 0.3)


@pytest.mark.parametrize("scheme, kw, reference", [
    ("xavier_uniform", {"activation": "tanh"}, lambda w: nn.init.xavier_uniform_(w)),
    ("xavier_normal", {"gain": 5 / 3}, lambda w: nn.init.xavier_normal_(w, nn.init.calculate_gain("tanh"))),
    ("he_uniform", {"activation": "leaky_relu", "negative_slope": 0.2, "mode": "fan_out"},
     lambda w: nn.init.kaiming_uniform_(w, a=0.2, mode="fan_out", nonlinearity="leaky_relu")),
    ("he_normal", {}, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
    ("orthogonal", {"method": "qr", "gain": 2.0}, lambda w: nn.init.orthogonal_(w, 2.0)),
])
@pytest.mark.parametrize("layer", [lambda: nn.Linear(30, 20), lambda: nn.Conv2d(3, 8, (3, 5))])
def test_same_draws_as_torch_with_the_same_seed(scheme, kw, reference, layer):
    ours, theirs = layer(), layer().weight
    torch.manual_seed(4)
    init.apply(ours, scheme, **kw)
    ours = ours.weight
    torch.manual_seed(4)
    with torch.no_grad():
        reference(theirs)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(50, 80), (80, 50), (16, 3, 3, 3), (64, 64)])
@pytest.mark.parametrize("method", ["svd", "qr"])
def test_orthogonal_rows_or_columns(shape, method):
    torch.manual_seed(5)
    layer = nn.Linear(shape[1], shape[0]) if len(shape) == 2 else nn.Conv2d(shape[1], shape[0], shape[2])
    w = init.apply(layer, "orthogonal", method=method, gain=1.5).weight.detach().reshape(shape[0], -1).double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    torch.testing.assert_close(gram, 2.25 * torch.eye(gram.shape[0], dtype=torch.float64), atol=1e-5, rtol=0)


def test_orthogonal_svd_and_qr_entries_equal_in_distribution():
    """Both are Haar-distributed: the entries of n×n matrices follow the same law (two-sample KS)."""
    def entries(method, seed):
        torch.manual_seed(seed)
        return torch.cat([init.apply(nn.Linear(48, 48), "orthogonal", method=method).weight.detach().flatten()
                          for _ in range(12)])
    assert stats.ks_2samp(entries("svd", 6).numpy(), entries("qr", 7).numpy()).pvalue > 1e-3
    check_variance(entries("svd", 8), 1 / 48, kurtosis=3)


def test_recurrent_weights_per_gate_block():
    """Each of the 4 LSTM gate blocks gets its own fans: identical to torch's init applied per chunk."""
    lstm, ref = nn.LSTM(30, 50), nn.LSTM(30, 50)
    torch.manual_seed(9)
    init.apply(lstm, "xavier_uniform")
    torch.manual_seed(9)
    with torch.no_grad():
        for w in (ref.weight_ih_l0, ref.weight_hh_l0):
            for chunk in w.chunk(4):
                nn.init.xavier_uniform_(chunk)
    torch.testing.assert_close(lstm.weight_ih_l0, ref.weight_ih_l0, rtol=0, atol=0)
    torch.testing.assert_close(lstm.weight_hh_l0, ref.weight_hh_l0, rtol=0, atol=0)
    assert lstm.bias_ih_l0.abs().max() == 0 and lstm.bias_hh_l0.abs().max() == 0
    blocks = {b.name: (b.fan_in, b.fan_out) for b in weight_blocks(nn.GRU(7, 11, bidirectional=True))}
    assert blocks["weight_ih_l0_reverse[2]"] == (7, 11) and blocks["weight_hh_l0[0]"] == (11, 11)
    assert len(blocks) == 12


def test_conv_fans_include_the_receptive_field():
    [block] = weight_blocks(nn.Conv2d(3, 8, (3, 5), groups=1))
    assert (block.fan_in, block.fan_out) == (3 * 15, 8 * 15)


def test_biases_norms_and_the_default_scheme():
    torch.manual_seed(10)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Linear(6, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(2, 3)
    before = model[0].weight.clone()
    init.apply(model, "default")
    assert torch.equal(model[0].weight, before)
    init.apply(model, "he_normal", bias=0.5)
    assert torch.all(model[0].bias == 0.5) and torch.all(model[2].bias == 0.5)
    assert torch.all(model[1].weight == 1) and torch.all(model[1].bias == 0)
    kept = model[0].bias.clone()
    init.apply(model, "he_normal", bias=None)
    assert torch.equal(model[0].bias, kept)
    init.apply(model, "xavier_normal")
    assert torch.all(model[0].bias == 0)


def test_per_layer_type_override_reads_shared_parameters():
    torch.manual_seed(11)
    model = nn.ModuleDict({"rnn": nn.GRU(8, 16), "head": nn.Linear(1000, 1500)})
    init.apply(model, "he_normal", mode="fan_out", recurrent="orthogonal")
    check_variance(model["head"].weight, 2 / 1500, kurtosis=3)
    for chunk in model["rnn"].weight_hh_l0.detach().chunk(3):  # orthogonal with relu's gain √2
        torch.testing.assert_close(chunk @ chunk.T, 2 * torch.eye(16), atol=1e-5, rtol=0)
    head = model["head"].weight.clone()
    init.apply(model, "default", recurrent="xavier_uniform")
    assert torch.equal(model["head"].weight, head)
    assert model["rnn"].weight_ih_l0.abs().max() <= math.sqrt(6 / 24) + 1e-6


def test_weight_normed_layer_gets_the_scheme_through_its_parametrization():
    torch.manual_seed(12)
    layer = init.apply(weight_norm(nn.Linear(40, 30)), "orthogonal")
    w = layer.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(30), atol=1e-5, rtol=0)


def test_constant_init_warns_and_units_stay_identical_after_training():
    torch.manual_seed(13)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    with pytest.warns(UserWarning, match="symmetry"):
        init.apply(model, "constant", value=0.1)
    start = model[0].weight.clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert not torch.equal(model[0].weight, start)
    for layer in (model[0], model[2]):
        w = layer.weight.detach()
        torch.testing.assert_close(w, w[:1].expand_as(w), rtol=0, atol=1e-6)
    with pytest.warns(UserWarning, match="symmetry"):
        init.apply(model, "zeros")
    assert model[2].weight.abs().max() == 0


def test_random_schemes_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.apply(nn.Linear(3, 3), "xavier_uniform")


@pytest.mark.parametrize("scheme, kw, message", [
    ("he_norml", {}, "did you mean 'he_normal'"),
    ("normal", {"std": -1.0}, "init.std = -1.0"),
    ("he_normal", {"activation": "tanh"}, "init.activation = 'tanh'"),
    ("he_normal", {"recurrent": "pretrained"}, "init.recurrent = 'pretrained'"),
    ("xavier_uniform", {"mode": "fan_in"}, "init.mode is not a known field"),
])
def test_bad_arguments_name_the_field(scheme, kw, message):
    with pytest.raises(ConfigError, match=message):
        init.apply(nn.Linear(2, 2), scheme, **kw)


def test_recipe_section_uses_name_and_flat_overrides():
    recipe = Recipe().override(["init.name=he_uniform", "init.mode=fan_out", "init.recurrent=orthogonal",
                                "init.bias=0.1"])
    assert recipe.init == {"name": "he_uniform", "bias": 0.1, "linear": None, "conv": None,
                           "recurrent": "orthogonal", "activation": "relu", "mode": "fan_out",
                           "negative_slope": 0.01, "data_dependent": False}
    with pytest.raises(ConfigError, match="init.conv = 'bogus'"):
        Recipe().override(["init.name=normal", "init.conv=bogus"])
    assert set(init.available()) >= {"default", "zeros", "constant", "normal", "uniform", "xavier_uniform",
                                     "xavier_normal", "he_uniform", "he_normal", "orthogonal", "pretrained"}
