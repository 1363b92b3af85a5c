import pytest
import torch
from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm

from nnopt.nn.layernorm import LayerNorm
from nnopt.nn.weightnorm import weight_norm


@pytest.mark.parametrize("shape,normalized", [((4, 6), 6), ((3, 5, 6), 6), ((2, 3, 4, 5), (4, 5))])
def test_layer_norm_matches_torch(shape, normalized):
    torch.manual_seed(0)
    ref = torch.nn.LayerNorm(normalized)
    with torch.no_grad():
        ref.weight.normal_()
        ref.bias.normal_()
    ours = LayerNorm(normalized)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(*shape) * 4 + 2
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.testing.assert_close(ours(xo), ref(xr), atol=1e-5, rtol=1e-5)
    ref(xr).pow(3).sum().backward()
    ours(xo).pow(3).sum().backward()
    torch.testing.assert_close(xo.grad, xr.grad, atol=1e-4, rtol=1e-4)


def test_layer_norm_hand_values_and_shape_error():
    y = LayerNorm(2, eps=0.0)(torch.tensor([[1.0, 3.0]]))
    torch.testing.assert_close(y, torch.tensor([[-1.0, 1.0]]))
    with pytest.raises(ValueError, match="last 1 axes must be"):
        LayerNorm(3)(torch.randn(2, 4))


@pytest.mark.parametrize("make,dim", [(lambda: torch.nn.Linear(5, 3), 0),
                                      (lambda: torch.nn.Conv2d(2, 4, 3), 0),
                                      (lambda: torch.nn.Linear(5, 3), 1)])
def test_weight_norm_matches_torch_parametrization(make, dim):
    torch.manual_seed(0)
    ref = torch_weight_norm(make(), dim=dim)
    torch.manual_seed(0)
    ours = weight_norm(make(), dim=dim)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[k], v)
    with torch.no_grad():  # move g away from ‖v‖ so the magnitude matters
        for m in (ref, ours):
            m.parametrizations.weight.original0.mul_(torch.linspace(0.5, 2, m.parametrizations.weight.original0.numel()).view_as(m.parametrizations.weight.original0))
    x = torch.randn(2, 5) if isinstance(ref, torch.nn.Linear) else torch.randn(2, 2, 6, 6)
    torch.testing.assert_close(ours(x), ref(x))
    ours(x).square().sum().backward()
    ref(x).square().sum().backward()
    for (name, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def test_weight_norm_rows_have_length_g():
    layer = weight_norm(torch.nn.Linear(4, 3))
    with torch.no_grad():
        layer.parametrizations.weight.original0.copy_(torch.tensor([[1.0], [2.0], [3.0]]))
    torch.testing.assert_close(layer.weight.norm(dim=1), torch.tensor([1.0, 2.0, 3.0]))


def test_weight_norm_needs_a_weight():
    with pytest.raises(ValueError, match="no tensor 'weight'"):
        weight_norm(torch.nn.ReLU())


def _hand_preactivations(model, x):
    """Each weight-normed Linear's pre-activation x·wᵀ + b, w = g·v/‖v‖ computed here from (g, v), ReLU between."""
    out, h = [], x.flatten(1)
    for layer in [m for m in model if isinstance(m, torch.nn.Linear)]:
        wn = layer.parametrizations.weight
        g, v = wn.original0, wn.original1
        w = g * v / v.pow(2).sum(1, keepdim=True).sqrt()
        out.append(h @ w.T + layer.bias)
        h = torch.relu(out[-1])
    return out


def test_data_dependent_init_gives_zero_mean_unit_std_preactivations():
    from nnopt.nn.weightnorm import data_dependent_init

    torch.manual_seed(0)
    model = torch.nn.Sequential(weight_norm(torch.nn.Linear(6, 5)), torch.nn.ReLU(), weight_norm(torch.nn.Linear(5, 4)),
                                torch.nn.ReLU(), weight_norm(torch.nn.Linear(4, 3)))
    x = torch.randn(200, 6, dtype=torch.float64) * 3 + 1
    model.double()
    before = [t.std(0) for t in _hand_preactivations(model, x)]
    data_dependent_init(model, x, generator=torch.Generator().manual_seed(1))
    for t, b in zip(_hand_preactivations(model, x), before):
        torch.testing.assert_close(t.mean(0), torch.zeros(t.shape[1], dtype=t.dtype), atol=1e-9, rtol=0)
        torch.testing.assert_close(t.std(0, unbiased=False), torch.ones(t.shape[1], dtype=t.dtype), atol=1e-6, rtol=0)
        assert (b - 1).abs().max() > 0.1  # the default init did not already give unit std
    first = model[0].parametrizations.weight
    assert 0.5 < first.original1.std().item() / 0.05 < 1.5  # v drawn from N(0, 0.05²)
    # torch's own weight_norm parametrization with the same (g, v) gives the same w
    ref = torch_weight_norm(torch.nn.Linear(6, 5).double())
    with torch.no_grad():
        ref.parametrizations.weight.original0.copy_(first.original0)
        ref.parametrizations.weight.original1.copy_(first.original1)
    torch.testing.assert_close(ref.weight, model[0].weight)


def test_data_dependent_init_on_conv_per_channel_and_keeps_v():
    from nnopt.nn.weightnorm import data_dependent_init

    torch.manual_seed(0)
    conv = weight_norm(torch.nn.Conv2d(3, 4, 3))
    v = conv.parametrizations.weight.original1.detach().clone()
    x = torch.randn(16, 3, 8, 8) * 2 - 1
    data_dependent_init(torch.nn.Sequential(conv), x, v_std=None)
    torch.testing.assert_close(conv.parametrizations.weight.original1, v)  # v_std=None: v unchanged
    y = torch.nn.functional.conv2d(x, conv.weight, conv.bias)  # per channel over batch and positions
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var((0, 2, 3), unbiased=False), torch.ones(4), atol=1e-4, rtol=0)
    assert conv.training


def test_data_dependent_init_refusals():
    from nnopt.nn.weightnorm import data_dependent_init

    with pytest.raises(ValueError, match="no weight-normed layer"):
        data_dependent_init(torch.nn.Linear(3, 2), torch.randn(4, 3))
    with pytest.raises(ValueError, match="at least 2"):
        data_dependent_init(weight_norm(torch.nn.Linear(3, 2)), torch.randn(1, 3))
    with pytest.raises(ValueError, match="not used by the model's forward"):
        data_dependent_init(OneOfTwo(), torch.randn(4, 3))
    with pytest.raises(ValueError, match="dim 0 only"):
        data_dependent_init(weight_norm(torch.nn.Linear(3, 2), dim=1), torch.randn(4, 3))


class OneOfTwo(torch.nn.Module):
    """Two weight-normed layers, one never called."""

    def __init__(self):
        super().__init__()
        self.used, self.unused = weight_norm(torch.nn.Linear(3, 2)), weight_norm(torch.nn.Linear(3, 2))

    def forward(self, x):
        return self.used(x)


def test_recipe_knob_initializes_from_a_training_batch_and_refuses_without_weight_norm():
    from nnopt import Recipe
    from nnopt.errors import ConfigError
    from nnopt.train import build

    base = {"data": {"name": "digits"}, "model": {"name": "mlp", "widths": [16]}, "train": {"batch_size": 400}}
    setup = build(Recipe({**base, "model": {**base["model"], "norm": "weight"}, "init": {"data_dependent": True}}))
    first = next(m for m in setup.model.modules() if isinstance(m, torch.nn.Linear))
    t = first(setup.data.train.x.flatten(1))  # on all 1257 training images; the init batch was 400 of them
    assert t.mean(0).abs().mean() < 0.2 and 0.8 < t.std(0).mean() < 1.2
    plain = build(Recipe({**base, "model": {**base["model"], "norm": "weight"}}))
    first = next(m for m in plain.model.modules() if isinstance(m, torch.nn.Linear))
    assert abs(first(plain.data.train.x.flatten(1)).std(0).mean().item() - 1) > 0.2
    with pytest.raises(ConfigError, match=r"init.data_dependent = true — needs weight-normed layers .*'none'"):
        build(Recipe({**base, "init": {"data_dependent": True}}))
    with pytest.raises(ConfigError, match=r"train.batch_size = 1 — init.data_dependent"):
        build(Recipe({**base, "model": {**base["model"], "norm": "weight"}, "init": {"data_dependent": True},
                      "train": {"batch_size": 1}}))
