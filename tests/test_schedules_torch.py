"""Every schedule that torch has equals torch's scheduler at every step (≤ 1e-9)."""
import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as L

from nnopt import schedules

LR = 0.1


def torch_lrs(make, steps, lr=LR, momentum=0.9):
    """lr after 0, 1, ..., steps−1 calls of torch scheduler.step() (its t = last_epoch)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=momentum)
    sched = make(opt)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            out.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
    return out


def assert_same(ours, theirs):
    for t, (a, b) in enumerate(zip(ours, theirs)):
        assert abs(a - b) <= 1e-9, (t, a, b)


CASES = [
    (lambda o: L.StepLR(o, step_size=7, gamma=0.5), "step", {"step_size": 7, "rate": 0.5}),
    (lambda o: L.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3), "piecewise",
     {"milestones": [5, 12, 30], "rate": 0.3}),
    (lambda o: L.ExponentialLR(o, gamma=0.95), "exponential", {"rate": 0.95}),
    (lambda o: L.CosineAnnealingLR(o, T_max=50, eta_min=0.001), "cosine", {"total_steps": 50, "min_lr": 0.001}),
    (lambda o: L.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=40), "linear",
     {"total_steps": 40, "min_lr": 0.005}),
    (lambda o: L.PolynomialLR(o, total_iters=40, power=2.0), "polynomial", {"total_steps": 40, "power": 2.0}),
    (lambda o: L.PolynomialLR(o, total_iters=40, power=0.5), "polynomial", {"total_steps": 40, "power": 0.5}),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=1, eta_min=0.01), "cosine_restarts",
     {"cycle_steps": 10, "min_lr": 0.01}),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.0), "cosine_restarts",
     {"cycle_steps": 3, "cycle_mult": 2}),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=3), "cosine_restarts",
     {"cycle_steps": 2, "cycle_mult": 3}),
]


@pytest.mark.parametrize("make, name, params", CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_equals_torch_scheduler(make, name, params):
    # torch's CosineAnnealingLR keeps oscillating after T_max; ours holds min_lr (compared to T)
    steps = 51 if name == "cosine" else 120
    f = schedules.create(name, lr=LR, **params)
    assert_same([f(t) for t in range(steps)], torch_lrs(make, steps))


@pytest.mark.parametrize("mode, rate", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.99)])
@pytest.mark.parametrize("cycle", [10, 7])
def test_cyclic_equals_torch(mode, rate, cycle):
    make = lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=cycle / 2, mode=mode, gamma=rate,
                                cycle_momentum=False)
    f = schedules.create("cyclic", lr=0.01, max_lr=0.2, cycle_steps=cycle, mode=mode, rate=rate)
    assert_same([f(t) for t in range(60)], torch_lrs(make, 60, lr=0.01))


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("total", [100, 37])
def test_one_cycle_equals_torch_lr_and_momentum(three_phase, anneal, total):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR, momentum=0.9)
    sched = L.OneCycleLR(opt, max_lr=0.5, total_steps=total, pct_start=0.25, anneal_strategy=anneal,
                         three_phase=three_phase, div_factor=20.0, final_div_factor=100.0)
    f = schedules.create("one_cycle", lr=0.5, total_steps=total, pct_start=0.25, anneal=anneal,
                         three_phase=three_phase, div_factor=20.0, final_div_factor=100.0,
                         cycle_momentum=True)
    for t in range(total):
        assert abs(f(t) - opt.param_groups[0]["lr"]) <= 1e-9, t
        assert abs(f.drives["momentum"](t) - opt.param_groups[0]["momentum"]) <= 1e-9, t
        opt.step()
        sched.step()


def test_linear_warmup_equals_torch_linear_lr():
    """warmup 0.01 → 0.1 over 8 steps, then constant = LinearLR(start_factor=0.1, total_iters=8)."""
    make = lambda o: L.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=8)
    f = schedules.create("constant", lr=LR, warmup_steps=8, warmup_start_lr=0.01)
    assert_same([f(t) for t in range(30)], torch_lrs(make, 30))


def test_keras_inverse_time_decay_formula():
    """Keras InverseTimeDecay: lr / (1 + decay_rate · step / decay_steps), floor with staircase."""
    for staircase in (False, True):
        f = schedules.create("inverse_time", lr=LR, rate=0.5, step_size=10, staircase=staircase)
        for t in range(0, 100, 3):
            p = math.floor(t / 10) if staircase else t / 10
            assert f(t) == pytest.approx(LR / (1 + 0.5 * p), abs=1e-12)
