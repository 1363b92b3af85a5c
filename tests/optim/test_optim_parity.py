"""Drop-in parity with torch.optim for SGD, Adam, AdamW, Adagrad, RMSprop and Adadelta: maximize,
a tensor lr, foreach, state dicts loading both ways; capturable/differentiable and impossible
fused requests refused with a reason; the default step reads nothing from the device."""
import copy

import pytest
import torch
from conftest import X, Y, rel_err, runs_native, small_cnn, train
from torch.nn import functional as F

import nnopt.optim as O
from nnopt.errors import ConfigError
from nnopt.registry import OPTIMIZERS

# name → hyperparameters both take (non-default structure: momentum, amsgrad, centered, ...)
SIX = {
    "sgd": dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-3),
    "adam": dict(lr=1e-2, weight_decay=1e-3, amsgrad=True),
    "adamw": dict(lr=1e-2, betas=(0.8, 0.99)),
    "adagrad": dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
    "rmsprop": dict(lr=1e-3, momentum=0.5, centered=True, weight_decay=1e-3),
    "adadelta": dict(lr=1.0, rho=0.8, weight_decay=1e-3),
}
PATHS = [{}, {"fused": False}]  # the default (torch's fused kernel where there is one) and the transforms


def _pair(name, ours_kw, theirs_kw):
    a, b = small_cnn(), small_cnn()
    ours = O.create(name, a.parameters(), no_decay_1d=False, **{**SIX[name], **ours_kw})
    theirs = OPTIMIZERS.get(name).meta["torch_class"](b.parameters(), **SIX[name], **theirs_kw)
    return a, ours, b, theirs


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", SIX)
def test_maximize_matches_torch(name, path):
    a, ours, b, theirs = _pair(name, dict(maximize=True, **path), dict(maximize=True, foreach=True))
    train(a, ours, 15)
    train(b, theirs, 15)
    assert rel_err(a, b) <= 1e-6


@pytest.mark.parametrize("name, path", [(n, p) for n in ("sgd", "adam", "rmsprop", "adadelta") for p in PATHS]
                         + [pytest.param("adadelta", {"compile": True}, marks=pytest.mark.slow)])
def test_tensor_lr_matches_torch(name, path):
    """lr as a 0-d tensor, changed in place between steps, against torch with the same lr as floats."""
    lr = torch.tensor(SIX[name]["lr"])
    a, ours, b, theirs = _pair(name, dict(path, lr=lr), dict(foreach=True))
    assert ours.param_groups[0]["lr"] is lr
    schedule = lambda t: SIX[name]["lr"] / (1 + 0.1 * t)  # noqa: E731
    for t in range(8):
        lr.fill_(schedule(t))
        train(a, ours, 1, start=t)
        train(b, theirs, 1, start=t, lr=schedule)
    assert rel_err(a, b) <= 1e-6


@pytest.mark.parametrize("name", SIX)
def test_foreach_false_is_torchs_for_loop(name):
    a, ours, b, theirs = _pair(name, dict(foreach=False), dict(foreach=False))
    train(a, ours, 15)
    train(b, theirs, 15)
    assert rel_err(a, b) <= 1e-6


@pytest.mark.parametrize("name", SIX)
def test_state_dict_nnopt_to_torch_and_back(name):
    """Either optimizer's state dict loads into the other and training continues identically."""
    cls = OPTIMIZERS.get(name).meta["torch_class"]
    for first_nnopt in (True, False):
        a = small_cnn()
        first = (O.create(name, a.parameters(), no_decay_1d=False, **SIX[name]) if first_nnopt
                 else cls(a.parameters(), **SIX[name]))
        train(a, first, 10)
        b = copy.deepcopy(a)
        second = (cls(b.parameters(), **SIX[name]) if first_nnopt
                  else O.create(name, b.parameters(), no_decay_1d=False, lr=0.5))
        second.load_state_dict(copy.deepcopy(first.state_dict()))
        assert second.param_groups[0]["lr"] == SIX[name]["lr"]
        train(a, first, 10, start=10)
        train(b, second, 10, start=10)
        assert rel_err(a, b) <= 1e-6, ("nnopt → torch" if first_nnopt else "torch → nnopt")


@pytest.mark.parametrize("option, why", [("capturable", "CUDA graph"), ("differentiable", "not differentiable")])
def test_capturable_and_differentiable_are_refused_with_a_reason(option, why):
    with pytest.raises(ConfigError, match=rf"{option} = true — not supported: .*{why}.*use torch.optim"):
        O.create("adam", small_cnn().parameters(), **{option: True})


@pytest.mark.parametrize("name, kw", [("adadelta", {}), ("rmsprop", {"centered": True}),
                                      ("adam", {"eps_inside_sqrt": True}), ("momentum", {"form": "book"})])
def test_fused_true_without_a_torch_kernel_names_the_alternatives(name, kw):
    with pytest.raises(ConfigError, match=r"fused = true — torch has no fused kernel .*compile = true.*fused = none"):
        O.create(name, small_cnn().parameters(), fused=True, **kw)
    O.create(name, small_cnn().parameters(), compile=True, **kw)  # the compiled update is the alternative


def test_fused_true_with_compile_or_foreach_is_refused():
    for other in ("compile", "foreach"):
        with pytest.raises(ConfigError, match=rf"fused = true — cannot be combined with {other} = true"):
            O.create("adam", small_cnn().parameters(), fused=True, **{other: True})


HOST_READS = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy")


@pytest.mark.parametrize("name, kw", [(name, kw) for name in O.available() for kw in ({}, {"nonfinite": "skip"})]
                         + [pytest.param("adam", {"nonfinite": "raise"}, marks=pytest.mark.xfail(strict=True))])
def test_default_step_reads_nothing_from_the_device(name, kw, monkeypatch):
    """Counts every way Python can read a tensor's value (item, bool, float, int, ...) during
    three steps, the first included (state created): none in the default step; with the
    device-side screen nonfinite="skip", none where torch's fused kernel runs and, where the
    transforms run on the CPU, exactly one per step — the non-finite flag, in host memory there
    (on CUDA the select happens on the device: the CUDA test below). (nonfinite="raise" reads
    the device every step: the count sees it.)"""
    model = small_cnn()
    opt = O.create(name, model.named_parameters(), **kw)
    batches = []
    for t in range(3):
        model.zero_grad()
        F.cross_entropy(model(X[:32]), Y[:32]).backward()
        batches.append([p.grad.clone() for p in model.parameters()])
    reads = []
    for attr in HOST_READS:
        original = getattr(torch.Tensor, attr)
        monkeypatch.setattr(torch.Tensor, attr, lambda self, *a, _o=original, _n=attr, **k: (reads.append(_n), _o(self, *a, **k))[1])
    for grads in batches:
        for p, g in zip(model.parameters(), grads):
            p.grad = g
        opt.step(lambda: None) if name in ("sam", "asam") else opt.step()
    monkeypatch.undo()
    stepping = getattr(opt, "base", opt)  # SAM steps its base optimizer
    expected = ["__bool__"] * 3 if kw and not runs_native(stepping) else []
    assert reads == expected, f"{name}: {reads}"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("nonfinite", ["ignore", "skip"])
@pytest.mark.parametrize("name", O.available())
def test_default_step_has_no_sync_on_cuda(name, nonfinite):
    """Three steps of every registered optimizer, the default and the device-side screen, under
    torch.cuda.set_sync_debug_mode("error")."""
    model = small_cnn().cuda()
    opt = O.create(name, model.named_parameters(), nonfinite=nonfinite)
    x, y = X[:32].cuda(), Y[:32].cuda()
    for _ in range(3):
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        torch.cuda.set_sync_debug_mode("error")
        try:
            opt.step(lambda: None) if name in ("sam", "asam") else opt.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    assert all(torch.isfinite(p).all() for p in model.parameters())
