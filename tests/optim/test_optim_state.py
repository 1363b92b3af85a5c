"""state_dict round trip and resume, GradScaler skipped steps, schedulers, missing gradients,
the compiled path."""
import copy
import io

import pytest
import torch
from conftest import X, Y, compiled_exactly, rel_err, small_cnn, train
from torch.nn import functional as F

import nnopt.optim as O
from nnopt.optim.compiled import COMPILE_AFTER, COMPILE_MIN_NUMEL, CompiledRule


def test_state_dict_resume_gives_same_trajectory():
    for name, kw in (("adam", dict(amsgrad=True, weight_decay=0.01)), ("momentum", {}), ("rmsprop", dict(centered=True)),
                     ("adadelta", {}), ("adagrad", dict(lr_decay=0.01))):
        a = small_cnn()
        opt = O.create(name, a.parameters(), **kw)
        train(a, opt, 10)
        buf = io.BytesIO()
        torch.save({"model": a.state_dict(), "opt": opt.state_dict()}, buf)
        train(a, opt, 10, start=10)

        buf.seek(0)
        saved = torch.load(buf)
        b = small_cnn(seed=1)
        b.load_state_dict(saved["model"])
        opt_b = O.create(name, b.parameters(), **kw)
        opt_b.load_state_dict(saved["opt"])
        train(b, opt_b, 10, start=10)
        assert rel_err(a, b) == 0, name
        assert opt_b.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_grad_scaler_skipped_step_leaves_state_untouched():
    m = small_cnn()
    opt = O.create("adam", m.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)

    def step(poison):
        opt.zero_grad()
        scaler.scale(F.cross_entropy(m(X[:32]), Y[:32])).backward()
        if poison:
            next(m.parameters()).grad[0] = float("inf")
        scaler.step(opt)
        scaler.update()

    step(False)
    params, state = copy.deepcopy(list(m.parameters())), copy.deepcopy(opt.state_dict()["state"])
    step(True)
    assert scaler.get_scale() == 2.0 ** 7
    assert all(torch.equal(a, b) for a, b in zip(params, m.parameters()))
    after = opt.state_dict()["state"]
    assert all(torch.equal(state[i][k], after[i][k]) for i in state for k in state[i])
    step(False)
    assert float(opt.state_dict()["state"][0]["step"]) == 2


def test_lr_readable_and_driven_by_torch_scheduler():
    m = small_cnn()
    opt = O.create("sgd", m.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        train(m, opt, 1)
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen == [0.1, 0.05, 0.05, 0.025, 0.025]


def _steps_with_missing_gradients(model, opt, steps, start=0):
    """The first parameter has no gradient on steps 0–3 (it lags), the last never (frozen)."""
    params = list(model.parameters())
    for t in range(start, start + steps):
        opt.zero_grad()
        F.cross_entropy(model(X[:32]), Y[:32]).backward()
        if t < 4:
            params[0].grad = None
        params[-1].grad = None
        opt.step()


def test_missing_gradients_match_torch():
    """A parameter without a gradient is skipped and its step lags behind, as in torch (Adam's
    bias correction uses each parameter's own step); a frozen one has no state. The host counts
    come out as torch's step tensors, and a state with mixed counts loads both ways and trains on
    identically."""
    a, b = small_cnn(), small_cnn()
    oa, ob = O.create("adam", a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    for model, opt in ((a, oa), (b, ob)):
        _steps_with_missing_gradients(model, opt, 12)
    assert rel_err(a, b) <= 1e-6
    ours, theirs = oa.state_dict()["state"], ob.state_dict()["state"]
    assert {i: float(st["step"]) for i, st in ours.items()} == {i: float(st["step"]) for i, st in theirs.items()}
    assert float(ours[0]["step"]) == 8 and float(ours[1]["step"]) == 12 and len(ours) == len(list(a.parameters())) - 1
    oa2, ob2 = torch.optim.Adam(a.parameters()), O.create("adam", b.parameters())
    oa2.load_state_dict(oa.state_dict())
    ob2.load_state_dict(ob.state_dict())
    for model, opt in ((a, oa2), (b, ob2)):
        _steps_with_missing_gradients(model, opt, 6, start=12)
    assert rel_err(a, b) <= 1e-6
    assert float(ob2.state_dict()["state"][0]["step"]) == 14


@pytest.mark.slow
def test_compiled_matches_eager():
    """compile=True (torch.compile of the whole update, for chains torch has no kernel for)
    follows the eager trajectory, lr changes included, with one compile per optimizer."""
    lr = lambda t: 0.01 / (1 + t)  # noqa: E731
    for name, kw in (("nesterov", dict(form="book")), ("rmsprop", dict(momentum=0.9, centered=True))):
        a, b = small_cnn(), small_cnn()
        compiled = O.create(name, a.parameters(), lr=0.01, weight_decay=1e-3, no_decay_1d=False, compile=True, **kw)
        with compiled_exactly(1):
            train(a, compiled, 20, lr=lr)
        assert not compiled._rule.failed and len(compiled._rule.kernels) == 1
        train(b, O.create(name, b.parameters(), lr=0.01, weight_decay=1e-3, no_decay_1d=False, compile=False, **kw),
              20, lr=lr)
        assert rel_err(a, b) <= 1e-6, name


@pytest.mark.slow
def test_one_cycle_momentum_on_the_compiled_path_compiles_once():
    """1,000 steps of one-cycle with cycle_momentum (β₁ changes every step) through the compiled
    Adam update: one chain, one compile, and torch's Adam under the same schedule as oracle."""
    from nnopt.schedules import ScheduleLR, create

    gen = torch.Generator().manual_seed(0)
    shapes = [(16, 8), (8,)]
    ours, theirs = ([torch.nn.Parameter(torch.randn(s, generator=torch.Generator().manual_seed(1))) for s in shapes]
                    for _ in range(2))
    opts = (O.create("adam", ours, lr=0.01, compile=True), torch.optim.Adam(theirs, lr=0.01, foreach=True))
    scheds = [ScheduleLR(o, create("one_cycle", lr=0.01, total_steps=1000, cycle_momentum=True)) for o in opts]
    with compiled_exactly(1):
        for _ in range(1000):
            grads = [torch.randn(s, generator=gen) for s in shapes]
            for params, opt, sched in zip((ours, theirs), opts, scheds):
                for p, g in zip(params, grads):
                    p.grad = g.clone()
                opt.step()
                sched.step()
    assert len(opts[0]._chains) == 1 and len(opts[0]._rule.kernels) == 1
    for p, q in zip(ours, theirs):
        assert float((p - q).detach().norm() / q.detach().norm()) <= 1e-5


def test_compile_default_rule():
    rule = CompiledRule()
    assert not rule.use(None, COMPILE_AFTER - 1, COMPILE_MIN_NUMEL)
    assert rule.use(None, COMPILE_AFTER, COMPILE_MIN_NUMEL)
    assert not rule.use(None, 10 * COMPILE_AFTER, COMPILE_MIN_NUMEL - 1)
    assert rule.use(True, 1, 1) and not rule.use(True, 0, 1) and not rule.use(False, 10 ** 9, 10 ** 9)
