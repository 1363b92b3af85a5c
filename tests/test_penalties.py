import pytest
import torch

from nnopt.errors import ConfigError
from nnopt.nn.norms import place_norm
from nnopt.regularize import elastic_net, l1, l2, none, select, weights
from nnopt.registry import PENALTIES


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        *place_norm(torch.nn.Linear(3, 4), 4, "dense", "weight"),
        torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.LayerNorm(5),
        torch.nn.Conv1d(5, 2, 1), torch.nn.Linear(2, 2, bias=False))


def test_selection_weights_only_by_default():
    m = _model()
    ids = {id(p) for p in weights(m)}
    assert ids == {id(m[0].parametrizations.weight.original1), id(m[1].weight), id(m[4].weight), id(m[5].weight)}
    assert ids == {id(p) for p in select(m)}
    with_biases = {id(p) for p in select(m, "weights_and_biases")}
    assert with_biases == ids | {id(m[0].bias), id(m[1].bias), id(m[4].bias)}
    assert {id(p) for p in select(m, "all")} == {id(p) for p in m.parameters()}
    with pytest.raises(ValueError, match="which = 'biases'"):
        select(m, "biases")


def test_frozen_parameters_are_not_penalized():
    m = torch.nn.Linear(2, 2)
    m.weight.requires_grad_(False)
    assert select(m) == []


def test_hand_values():
    a, b = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0], [3.0]])
    assert l1([a, b]).item() == pytest.approx(6.0)
    assert l2([a, b]).item() == pytest.approx(0.5 * 14)
    assert l1([a, b], coef=0.5).item() == pytest.approx(3.0)
    assert l2([a, b], coef=0.1).item() == pytest.approx(0.1 * 0.5 * 14)
    assert l1([a, b], coef=0.0) is None and l2([a, b], coef=0.0) is None and none([a, b]) is None
    assert elastic_net([a, b], l1_coef=0.1, l2_coef=0.01).item() == pytest.approx(0.6 + 0.07)
    assert elastic_net([a, b]) is None
    eps = 0.25  # Σ(√(θ²+ε) − √ε)
    smooth = sum((t * t + eps) ** 0.5 - eps ** 0.5 for t in (1.0, -2.0, 0.0, 3.0))
    assert l1([a, b], smooth=eps).item() == pytest.approx(smooth)
    assert elastic_net([a, b], l1_coef=2.0, l1_smooth=eps).item() == pytest.approx(2 * smooth)
    assert l1([a, b], coef=2.0, smooth=eps).item() == pytest.approx(2 * smooth)
    assert l1([]).item() == 0.0 and l2([]).item() == 0.0


def test_gradients_sign_weight_and_smooth_surrogate():
    w = torch.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    elastic_net([w], l1_coef=0.3, l2_coef=0.1).backward()
    torch.testing.assert_close(w.grad, 0.3 * torch.sign(w.detach()) + 0.1 * w.detach())
    w.grad = None
    eps = 1e-2
    l1([w], smooth=eps).backward()
    torch.testing.assert_close(w.grad, w.detach() / torch.sqrt(w.detach() ** 2 + eps))
    # the surrogate approaches |θ| as ε → 0
    assert l1([w.detach()], smooth=1e-10).item() == pytest.approx(l1([w.detach()]).item(), abs=1e-4)


@pytest.mark.parametrize("fn,kw,field", [(elastic_net, {"l1_coef": -0.1}, "l1_coef"),
                                         (elastic_net, {"l2_coef": -1.0}, "l2_coef"),
                                         (l1, {"coef": -1.0}, "coef"), (l2, {"coef": -2.0}, "coef")])
def test_negative_coefficients_are_errors(fn, kw, field):
    with pytest.raises(ValueError, match=f"{field} = -.* must be >= 0"):
        fn([torch.ones(2, 2)], **kw)
    with pytest.raises(ValueError, match="smooth = -1"):
        l1([torch.ones(2, 2)], smooth=-1.0)


def test_registered_with_validated_parameters():
    assert {"none", "l1", "l2", "elastic_net"} <= set(PENALTIES.names())
    w = [torch.ones(2, 2)]
    assert PENALTIES.create("elastic_net", w, l1_coef=1.0, l2_coef=2.0).item() == pytest.approx(4 + 4)
    assert PENALTIES.create("l2", w, coef=3.0).item() == pytest.approx(3 * 0.5 * 4)
    with pytest.raises(ConfigError, match=r"penalty.l1_coef = -1.0 — must be >= 0"):
        PENALTIES.create("elastic_net", w, field="penalty", l1_coef=-1.0)
    # l1 and l2 have no natural strength: the recipe must say how much
    with pytest.raises(ConfigError, match=r"penalty.coef is required"):
        PENALTIES.create("l1", w, field="penalty")
