"""Bad hyperparameters name the field and the allowed range; non-finite gradients name the
parameter (raise) or leave everything untouched (skip)."""
import copy

import pytest
import torch
from conftest import small_cnn, train

import nnopt.optim as O
from nnopt.errors import ConfigError, DivergedError, NonFiniteGradientError
from nnopt.recipe import Recipe


@pytest.mark.parametrize("name, kw, message", [
    ("adam", dict(lr=-1), "optimizer.lr = -1 — must be >= 0"),
    ("adam", dict(betas=(0.9, 1.2)), "optimizer.betas[1] = 1.2 — must be in [0, 1)"),
    ("adamw", dict(betas=(-0.1, 0.9)), "optimizer.betas[0] = -0.1 — must be in [0, 1)"),
    ("rmsprop", dict(eps=0), "optimizer.eps = 0 — must be > 0"),
    ("momentum", dict(momentum=-0.5), "optimizer.momentum = -0.5 — must be in [0, 1)"),
    ("momentum", dict(momentum=1.0), "optimizer.momentum = 1.0 — must be in [0, 1)"),
    ("nesterov", dict(momentum=0), "optimizer.momentum = 0 — must be in (0, 1)"),
    ("sgd", dict(nesterov=True), "nesterov needs momentum > 0"),
    ("rmsprop", dict(alpha=1.0), "optimizer.alpha = 1.0 — must be in [0, 1)"),
    ("adadelta", dict(rho=1.5), "optimizer.rho = 1.5 — must be in [0, 1)"),
    ("adam", dict(nonfinite="warn"), "optimizer.nonfinite = 'warn' — must be one of"),
    ("adam", dict(beta=(0.9, 0.99)), "did you mean 'betas'"),
    ("adamm", {}, "did you mean 'adam'"),
])
def test_bad_input_names_field_and_range(name, kw, message):
    with pytest.raises(ConfigError) as err:
        O.create(name, small_cnn().parameters(), **kw)
    assert message in str(err.value)


def test_recipe_validates_optimizer_fields():
    recipe = Recipe({"optimizer": {"name": "nesterov", "lr": 0.05, "form": "book"}})
    assert recipe.optimizer["momentum"] == 0.9
    with pytest.raises(ConfigError, match=r"optimizer.betas\[1\] = 1.5"):
        Recipe({"optimizer": {"name": "adam", "betas": [0.9, 1.5]}})


@pytest.mark.parametrize("section, fixed, message", [
    ({"name": "sgd", "nesterov": True}, {"momentum": 0.9},
     r"optimizer \(sgd\): nesterov needs momentum > 0 and dampening = 0"),
    ({"name": "lars", "momentum": 0.0, "nesterov": True}, {"momentum": 0.9},
     r"optimizer \(lars\): nesterov needs momentum > 0"),
    ({"name": "adafactor", "eps": [None, None]}, {"eps": [None, 1e-3]},
     r"optimizer \(adafactor\): eps = \(None, None\) — ε₂"),
])
def test_a_rule_across_fields_refuses_the_recipe_when_it_is_read(section, fixed, message):
    """An optimizer's cross-field rule (``check=`` on its registration) runs when the recipe is
    read, as the per-field ranges do — not first when the optimizer is built; fixed, it passes."""
    with pytest.raises(ConfigError, match=message) as err:
        Recipe({"optimizer": section})
    assert err.value.field == "optimizer"
    assert Recipe({"optimizer": {**section, **fixed}}).optimizer["name"] == section["name"]


def _poisoned(names: bool, nonfinite: str, name: str = "adam", **kw):
    m = small_cnn()
    params = m.named_parameters() if names else m.parameters()
    opt = O.create(name, params, nonfinite=nonfinite, no_decay_1d=False, **kw)
    train(m, opt, 2)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(m(torch.zeros(2, 1, 8, 8)), torch.tensor([0, 1])).backward()
    m[4].weight.grad[1, 2] = float("nan")
    return m, opt


def test_nonfinite_gradient_raises_with_parameter_name():
    m, opt = _poisoned(True, "raise")
    with pytest.raises(NonFiniteGradientError, match=r"gradient of '4.weight' is not finite \(1 NaN, 0 inf") as err:
        opt.step()
    assert isinstance(err.value, DivergedError) and isinstance(err.value, ValueError)
    m, opt = _poisoned(False, "raise")
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[2\]"):
        opt.step()


@pytest.mark.parametrize("name, kw", [("adam", {}), ("adam", {"fused": False}), ("adam", {"compile": True}),
                                      ("adadelta", {}), ("momentum", {"form": "book"})])
def test_nonfinite_gradient_skip_leaves_everything(name, kw):
    """nonfinite="skip": the step is skipped on the device (torch's fused kernel, the eager and the
    compiled update); buffers and parameters keep their values, skipped_steps counts it; the
    step counter counts the call (the host cannot know without a sync)."""
    m, opt = _poisoned(True, "skip", name, **kw)
    params, state = copy.deepcopy(list(m.parameters())), copy.deepcopy(opt.state_dict())
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(params, m.parameters()))
    after = opt.state_dict()["state"]
    assert all(torch.equal(v, after[i][k]) for i, s in state["state"].items() for k, v in s.items() if k != "step")
    assert float(opt.skipped_steps) == 1 and float(after[0]["step"]) == float(state["state"][0]["step"]) + 1
    opt.zero_grad()
    train(m, opt, 1)
    assert float(opt.skipped_steps) == 1 and not all(torch.equal(a, b) for a, b in zip(params, m.parameters()))


def test_the_default_is_torchs_behaviour_no_screen():
    """Oracle: torch.optim.Adam on a copy, the same poisoned gradient: the same NaN parameters."""
    m, opt = _poisoned(False, "ignore")
    assert O.create("adam", small_cnn().parameters()).nonfinite == "ignore"
    twin = copy.deepcopy(m)
    for a, b in zip(m.parameters(), twin.parameters()):
        b.grad = a.grad.clone()
    reference = torch.optim.Adam(twin.parameters(), lr=opt.param_groups[0]["lr"])
    reference.load_state_dict(copy.deepcopy(opt.state_dict()))  # (torch would share the buffers)
    opt.step()
    reference.step()
    assert torch.isnan(m[4].weight).any()
    for a, b in zip(m.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_chain_optimizer_rejects_bad_arguments():
    p = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="lr = -0.1"):
        O.ChainOptimizer(p, O.transforms.scale_by_lr(), lr=-0.1)
    with pytest.raises(ValueError, match="fused = 'yes'"):
        O.ChainOptimizer(p, O.transforms.scale_by_lr(), fused="yes")
    with pytest.raises(ValueError, match="params is empty"):
        O.create("sgd", [])


def test_huge_but_finite_gradients_are_not_reported():
    """Squares of |g| = 1e30 overflow float32, yet every value is finite: no error, the step runs."""
    from nnopt.optim.nonfinite import check_finite

    grads = [torch.full((3,), 1e30), torch.ones(2)]
    assert check_finite(grads, lambda k: f"p{k}") is None
    grads[1][0] = float("nan")
    assert "gradient of 'p1' is not finite (1 NaN, 0 inf of 2 values)" in check_finite(grads, lambda k: f"p{k}")


@pytest.mark.parametrize("name, kw", [("adadelta", {}), ("adam", {"amsgrad": True}), ("momentum", {"form": "book"})])
def test_device_side_select_of_apply_update(name, kw):
    """The select CUDA's eager path uses (here on CPU tensors): flag 0 updates exactly as without
    a flag, flag 1 leaves parameters and every buffer as they were, even with a NaN gradient."""
    from nnopt.optim.compiled import apply_update, hyper_values

    opt = O.create(name, small_cnn().parameters(), no_decay_1d=False, **kw)
    group = opt.param_groups[0]
    transform, _, refs = opt._rules_for(group)
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen)]
    grads = [torch.randn_like(p) for p in params]
    state = transform.init(params)
    for t in (1, 2):  # buffers become non-zero
        apply_update(transform, params, grads, state, hyper_values(group, refs), t, t == 1)
    reference = [[t.clone() for t in ts] for ts in ([params] + list(state.values()))]
    apply_update(transform, *(reference[0], grads, dict(zip(state, reference[1:]))), hyper_values(group, refs), 3, False)
    live = [params] + list(state.values())
    apply_update(transform, params, grads, state, hyper_values(group, refs), 3, False, torch.tensor(0.0))
    assert all(torch.equal(a, b) for xs, ys in zip(live, reference) for a, b in zip(xs, ys))
    grads[0][0, 0] = float("nan")
    before = [[t.clone() for t in ts] for ts in live]
    apply_update(transform, params, grads, state, hyper_values(group, refs), 4, False, torch.tensor(1.0))
    assert all(torch.equal(a, b) for xs, ys in zip(live, before) for a, b in zip(xs, ys))
