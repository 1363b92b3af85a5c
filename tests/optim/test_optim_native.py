"""The native path (torch's fused kernels on nnopt's state) against the transforms (the
definition) and against torch's fused optimizers; mixed step counts, skipped steps, lr changes,
param groups, and switching paths mid-run through state_dict. Cache blocking of the eager path
against the unblocked one."""
import copy

import pytest
import torch
from conftest import X, Y, rel_err, runs_native, small_cnn
from torch.nn import functional as F

import nnopt.optim as O
from nnopt.optim import native
from nnopt.optim.hyper import Hyper

# name → (nnopt hyperparameters, torch class, torch hyperparameters); weight decay > 0 and
# no_decay_1d=True give two param groups with different settings. Torch runs fused (the
# very kernel nnopt's default runs), RMSprop (no torch kernel) foreach.
FUSED = {"fused": True}
CASES = {
    "sgd": (dict(lr=0.05, weight_decay=1e-3), torch.optim.SGD, FUSED),
    "momentum": (dict(lr=0.05, momentum=0.8, dampening=0.1, weight_decay=1e-3), torch.optim.SGD, FUSED),
    "nesterov": (dict(lr=0.05, momentum=0.9, weight_decay=1e-3), torch.optim.SGD,
                 {"nesterov": True, **FUSED}),
    "adagrad": (dict(lr=0.05, lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1),
                torch.optim.Adagrad, FUSED),
    "rmsprop": (dict(lr=1e-3, alpha=0.9), torch.optim.RMSprop, {"foreach": True}),
    "adam": (dict(lr=3e-3, weight_decay=1e-2, amsgrad=True), torch.optim.Adam, FUSED),
    "adamw": (dict(lr=3e-3, weight_decay=0.1, betas=(0.8, 0.99)), torch.optim.AdamW, FUSED),
}


def _run(model, opt, steps, start=0):
    """Mini-batch steps with a decaying lr; the first parameter has no gradient on steps 3–5
    (its step count lags), and every 7th step is skipped as a GradScaler skips an inf step."""
    first = next(model.parameters())
    x, y = X.to(first.device), Y.to(first.device)
    for t in range(start, start + steps):
        for g in opt.param_groups:
            g["lr"] = g.setdefault("base_lr", g["lr"]) / (1 + 0.05 * t)
        opt.zero_grad()
        i = (t % 3) * 32
        F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
        if 3 <= t <= 5:
            first.grad = None
        if t % 7 != 6:
            opt.step()


def _torch_groups(model, wd):
    """torch's param groups matching nnopt's no_decay_1d split."""
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim > 1]},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}] if wd else params


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", CASES)
def test_native_equals_transforms_and_torch_fused(name, device, monkeypatch):
    hyper, torch_cls, extra = CASES[name]
    if device == "cuda":
        monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)  # same gradients in a, b, c
        if name == "adagrad":
            extra = {}  # torch has no CUDA kernel: nnopt runs the transforms, torch its foreach
    a, b, c = small_cnn().to(device), small_cnn().to(device), small_cnn().to(device)
    ours = O.create(name, a.named_parameters(), no_decay_1d=True, **hyper)                # fused=None: native
    eager = O.create(name, b.named_parameters(), no_decay_1d=True, fused=False, **hyper)  # the transforms
    theirs = torch_cls(_torch_groups(c, hyper.get("weight_decay")), **hyper, **extra)
    assert runs_native(ours) == (device == "cpu" or name != "adagrad") and not runs_native(eager)
    for model, opt in ((a, ours), (b, eager), (c, theirs)):
        _run(model, opt, 50)
    assert rel_err(a, c) <= (0 if extra.get("fused") else 1e-6), "torch"  # 0: the very kernel torch runs
    assert rel_err(a, b) <= 1e-6, "transforms"  # the definition
    sa, sb = ours.state_dict(), eager.state_dict()
    assert [{**g, "fused": None} for g in sa["param_groups"]] == [{**g, "fused": None} for g in sb["param_groups"]]
    for i in sb["state"]:
        assert sa["state"][i].keys() == sb["state"][i].keys()
        for k, v in sb["state"][i].items():
            assert float((sa["state"][i][k] - v).norm()) <= 1e-4 * float(v.norm()), (i, k)


@pytest.mark.parametrize("name", ["nesterov", "adam"])
def test_switching_paths_mid_run_through_state_dict(name):
    hyper = CASES[name][0]
    a, b = small_cnn(), small_cnn()
    native_opt = O.create(name, a.parameters(), **hyper)
    assert runs_native(native_opt)
    _run(a, native_opt, 20)
    b.load_state_dict(a.state_dict())
    eager = O.create(name, b.parameters(), fused=False, **hyper)
    eager.load_state_dict(copy.deepcopy(native_opt.state_dict()))  # torch would share the tensors
    _run(a, native_opt, 20, start=20)
    _run(b, eager, 20, start=20)
    assert rel_err(a, b) <= 1e-6


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_changing_one_groups_hyperparameters_mid_run(name):
    """Two groups with equal settings; then one group's weight decay changes: each group keeps
    its own, on the native path as on the transforms."""
    models = small_cnn(), small_cnn()
    opts = []
    for model, fused in zip(models, (None, False)):
        params = list(model.parameters())
        opts.append(O.create(name, [{"params": params[:3]}, {"params": params[3:]}], lr=0.01,
                             weight_decay=1e-3, no_decay_1d=False, fused=fused))
    assert runs_native(opts[0]) and not runs_native(opts[1])
    for model, opt in zip(models, opts):
        _run(model, opt, 10)
        opt.param_groups[0]["weight_decay"] = 0.1
        _run(model, opt, 10, start=10)
    assert rel_err(*models) <= 1e-6


def test_native_only_for_torch_forms():
    sgd = dict(maximize=False, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0, form="torch")
    assert native.sgd_kernel(Hyper(sgd)) is not None
    assert native.sgd_kernel(Hyper({**sgd, "form": "book"})) is None
    assert native.sgd_kernel(Hyper({**sgd, "momentum": 0.0, "form": "book"})) is not None  # plain SGD
    adam = dict(maximize=False, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, bias_correction=True,
                eps_inside_sqrt=False)
    assert native.adam_kernel(Hyper(adam)) is not None and native.adamw_kernel(Hyper(adam)) is not None
    assert native.adam_kernel(Hyper({**adam, "bias_correction": False})) is None
    assert native.adamw_kernel(Hyper({**adam, "eps_inside_sqrt": True})) is None
    assert native.adagrad_kernel(Hyper(dict(lr_decay=0.0, weight_decay=0.0, eps=1e-10, eps_inside_sqrt=True))) is None
    update = native.adam_kernel(Hyper(adam))
    assert native.applicable(update, [torch.zeros(2), torch.zeros(3)])
    assert not native.applicable(update, [torch.zeros(2), torch.zeros(2, dtype=torch.float64)])
    assert not native.applicable(update, [torch.zeros(2, dtype=torch.int64)])
    adagrad = native.adagrad_kernel(Hyper(dict(lr_decay=0.0, weight_decay=0.0, eps=1e-10, eps_inside_sqrt=False)))
    assert native.applicable(adagrad, [torch.zeros(2)]) and "cuda" not in adagrad.devices


def test_rmsprop_kernel_leaves_the_gradient_as_it_was():
    """The Adam kernel writes its m (β₁ = 0) into the gradient: m = 0·g + 1·g = g, bit for bit."""
    m = small_cnn()
    opt = O.create("rmsprop", m.parameters())
    F.cross_entropy(m(X[:32]), Y[:32]).backward()
    before = [p.grad.clone() for p in m.parameters()]
    opt.step()
    assert all(torch.equal(b, p.grad) for b, p in zip(before, m.parameters()))
    assert native.rmsprop_kernel(Hyper(dict(momentum=0.0, centered=False, weight_decay=0.0, alpha=0.99,
                                            eps=1e-8, eps_inside_sqrt=False, maximize=False))) is not None
    for other in (dict(momentum=0.5), dict(centered=True), dict(weight_decay=1e-4)):
        assert native.rmsprop_kernel(Hyper(dict(dict(momentum=0.0, centered=False, weight_decay=0.0,
                                                     eps_inside_sqrt=False, maximize=False), **other))) is None


BLOCKED = [("rmsprop", dict(momentum=0.9, centered=True, weight_decay=1e-3)), ("adadelta", dict(weight_decay=1e-3)),
           ("adadelta", dict(eps_inside_sqrt=False)), ("adam", dict(amsgrad=True, eps_inside_sqrt=True)),
           ("adamw", {}), ("momentum", dict(form="book")), ("nesterov", dict(form="book")), ("adagrad", {}),
           ("nadam", dict(weight_decay=1e-3)), ("nadam", dict(decoupled_weight_decay=True, weight_decay=1e-2)),
           ("adamax", dict(weight_decay=1e-3))]


@pytest.mark.parametrize("name,hyper", BLOCKED)
def test_cache_blocking_gives_the_same_numbers(name, hyper, monkeypatch):
    """Cut into blocks of 100 elements (large tensors into flat pieces, small ones grouped), the
    eager update gives bit for bit the unblocked trajectory (NAdam: its per-tensor Π_t, passed
    with every piece, advanced once per step — the first parameter's step lags, see `_run`)."""
    from nnopt.optim import blocks

    a, b = small_cnn(), small_cnn()
    unblocked = O.create(name, a.parameters(), fused=False, **hyper)
    _run(a, unblocked, 12)
    monkeypatch.setattr(blocks, "BLOCK", 100)
    cut = O.create(name, b.parameters(), fused=False, **hyper)
    pieces = list(blocks.blocks(cut.transform_for(cut.param_groups[0]), list(b.parameters()),
                                [torch.zeros_like(p) for p in b.parameters()], {}))
    assert len(pieces) > 5 and max(sum(p.numel() for p in ps) for ps, _, _ in pieces) < 200
    _run(b, cut, 12)
    assert rel_err(a, b) == 0


TENSORWISE = [("lars", dict(weight_decay=1e-3, nesterov=True)), ("lars", {}),
              ("lamb", dict(weight_decay=1e-2)), ("adafactor", dict(weight_decay=1e-2))]


@pytest.mark.parametrize("name,hyper", TENSORWISE)
def test_tensorwise_grouping_gives_the_same_numbers(name, hyper, monkeypatch):
    """A tensorwise chain (per-tensor norms) runs on groups of whole tensors of about BLOCK
    elements: bit for bit the ungrouped trajectory."""
    from nnopt.optim import blocks

    a, b = small_cnn(), small_cnn()
    _run(a, O.create(name, a.parameters(), **hyper), 12)
    monkeypatch.setattr(blocks, "BLOCK", 100)
    grouped = O.create(name, b.parameters(), **hyper)
    params = list(b.parameters())
    pieces = list(blocks.blocks(grouped.transform_for(grouped.param_groups[0]), params,
                                [torch.zeros_like(p) for p in params], {}))
    assert len(pieces) > 2 and sorted(id(p) for ps, _, _ in pieces for p in ps) == sorted(map(id, params))
    _run(b, grouped, 12)
    assert rel_err(a, b) == 0


def test_scratch_keeps_one_buffer_per_dtype_and_gives_fresh_tensors_past_its_limit():
    """`transforms.Scratch` (Adamax's |g| on the CPU): the same lists of shapes get the same views;
    other shapes, views of the same buffer; past `limit`, fresh tensors, so the buffer stays small."""
    from nnopt.optim.transforms import Scratch

    s = Scratch()
    a = s.like([torch.zeros(3, 4), torch.zeros(5)])
    assert [t.shape for t in a] == [(3, 4), (5,)] and a[1].data_ptr() == a[0].data_ptr() + 12 * 4
    assert all(x is y for x, y in zip(a, s.like([torch.ones(3, 4), torch.ones(5)])))
    assert s.like([torch.zeros(7)])[0].data_ptr() == a[0].data_ptr()
    big = s.like([torch.zeros(Scratch.limit + 1)])[0]
    assert big.shape == (Scratch.limit + 1,) and big.data_ptr() != a[0].data_ptr()
    assert s.like([torch.zeros(2, dtype=torch.float64)])[0].dtype == torch.float64
