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
