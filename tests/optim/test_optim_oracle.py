"""Every optimizer torch has, against torch.optim: 50 steps on a small CNN, hypothesis-generated
hyperparameters and param groups, parameters equal to ≤ 1e-6 relative. The transforms
(fused=False) against torch's foreach implementation; nnopt's default path as well: where torch
has a fused kernel (which the default runs on nnopt's state) against torch's fused=True, RMSprop
(Adam's kernel with β₁ = 0) against torch's foreach."""
import inspect

import torch
from conftest import rel_err, small_cnn, train
from hypothesis import given, settings, strategies as st

import nnopt.optim as O
from nnopt.optim import named
from nnopt.registry import OPTIMIZERS

lrs = st.floats(1e-4, 3e-2)
wds = st.sampled_from([0.0, 1e-4, 1e-2])
unit = st.floats(0.0, 0.99)
eps = st.sampled_from([1e-10, 1e-8, 1e-6, 1e-3])

# name → strategy of hyperparameters nnopt and its registered torch class share
CASES = {
    "sgd": st.fixed_dictionaries({"lr": lrs, "weight_decay": wds}),
    "momentum": st.fixed_dictionaries(
        {"lr": lrs, "momentum": unit, "dampening": st.floats(0, 0.5), "weight_decay": wds}),
    "nesterov": st.fixed_dictionaries(
        {"lr": lrs, "momentum": st.floats(0.05, 0.99), "weight_decay": wds}),
    "adagrad": st.fixed_dictionaries(
        {"lr": lrs, "lr_decay": st.sampled_from([0.0, 1e-3, 0.1]), "weight_decay": wds,
         "initial_accumulator_value": st.sampled_from([0.0, 0.1]), "eps": eps}),
    "rmsprop": st.fixed_dictionaries(
        {"lr": st.floats(1e-4, 3e-3), "alpha": st.floats(0.5, 0.999), "eps": eps, "weight_decay": wds,
         "momentum": st.sampled_from([0.0, 0.5, 0.9]), "centered": st.booleans()}),
    "adadelta": st.fixed_dictionaries(
        {"lr": st.floats(0.1, 1.0), "rho": st.floats(0.5, 0.99), "eps": eps, "weight_decay": wds}),
    "adam": st.fixed_dictionaries(
        {"lr": lrs, "betas": st.tuples(st.floats(0, 0.95), st.floats(0.9, 0.9999)), "eps": eps,
         "weight_decay": wds, "amsgrad": st.booleans()}),
    "adamw": st.fixed_dictionaries(
        {"lr": lrs, "betas": st.tuples(st.floats(0, 0.95), st.floats(0.9, 0.9999)), "eps": eps,
         "weight_decay": st.sampled_from([0.0, 1e-2, 0.1]), "amsgrad": st.booleans()}),
}
TORCH_EXTRA = {"nesterov": {"nesterov": True}}
# where torch has a fused kernel (its class takes fused=): nnopt's default path runs it on nnopt's state
NATIVE = tuple(e.name for e in OPTIMIZERS
               if "fused" in inspect.signature(e.meta.get("torch_class") or object).parameters)
DEFAULT_ORACLE = {**{name: {"fused": True} for name in NATIVE}, "rmsprop": {"foreach": True}}


def _groups(model, split, scale):
    """All parameters in one list, or two groups: the first `split` tensors at lr × scale."""
    params = list(model.parameters())
    if split == 0:
        return params
    return [{"params": params[:split]}, {"params": params[split:], "lr_scale": scale}]


def _check(name, hyper, split, scale):
    torch_cls = OPTIMIZERS.get(name).meta["torch_class"]
    paths = [(False, {"foreach": True})] + ([(None, DEFAULT_ORACLE[name])] if name in DEFAULT_ORACLE else [])
    for fused, impl in paths:
        a, b = small_cnn(), small_cnn()
        ga, gb = _groups(a, split, scale), _groups(b, split, scale)
        for groups in (ga, gb):
            if split:
                groups[1]["lr"] = hyper["lr"] * groups[1].pop("lr_scale")
        ours = O.create(name, ga, no_decay_1d=False, fused=fused, **hyper)
        theirs = torch_cls(gb, **hyper, **TORCH_EXTRA.get(name, {}), **impl)
        train(a, ours, 50)
        train(b, theirs, 50)
        assert all(torch.isfinite(p).all() for p in b.parameters())
        assert rel_err(a, b) <= 1e-6, impl


def _test(name):
    @settings(max_examples=6, deadline=None, derandomize=True)
    @given(hyper=CASES[name], split=st.sampled_from([0, 2, 5]), scale=st.floats(0.1, 2.0))
    def test(hyper, split, scale):
        _check(name, hyper, split, scale)
    test.__name__ = f"test_{name}_matches_torch"
    return test


for _name in CASES:
    globals()[f"test_{_name}_matches_torch"] = _test(_name)


def test_defaults_equal_torch():
    """With no hyperparameters at all, the trajectory is torch's with its defaults; in float64, so
    that the default path (a fused kernel, rounding unlike torch's foreach) is held to 1e-9."""
    for name in CASES:
        torch_cls = OPTIMIZERS.get(name).meta["torch_class"]
        if name in ("momentum", "nesterov"):
            continue
        a, b = small_cnn().double(), small_cnn().double()
        train(a, O.create(name, a.parameters(), no_decay_1d=False), 20)
        train(b, torch_cls(b.parameters(), **DEFAULT_ORACLE.get(name, {})), 20)
        assert rel_err(a, b) <= 1e-9, name


def test_scheduled_lr_matches_torch():
    """A changing lr (set on the groups each step) is read at every step, as torch does."""
    for name in ("momentum", "adam", "rmsprop"):
        torch_cls = OPTIMIZERS.get(name).meta["torch_class"]
        kw = {"momentum": {"lr": 0.01, "momentum": 0.9}}.get(name, {"lr": 0.01})
        a, b = small_cnn(), small_cnn()
        fused = {"fused": True} if name in NATIVE else {}
        train(a, O.create(name, a.parameters(), **kw), 30, lr=lambda t: 0.01 / (1 + t))
        train(b, torch_cls(b.parameters(), **kw, **fused), 30, lr=lambda t: 0.01 / (1 + t))
        assert rel_err(a, b) <= 1e-6, name


def test_every_chapter_optimizer_has_an_oracle_case():
    assert list(CASES) == named.__all__
