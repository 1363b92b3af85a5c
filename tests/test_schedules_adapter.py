"""ScheduleLR: torch's LRScheduler protocol, no warning or drift when GradScaler skips a step."""
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as L

from nnopt import schedules
from nnopt.schedules import ScheduleLR


def model_and_opt(kind="sgd"):
    model = torch.nn.Linear(3, 1)
    if kind == "sgd":
        opt = torch.optim.SGD([{"params": [model.weight], "lr": 0.1},
                               {"params": [model.bias], "lr": 0.01}], lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.9, 0.99))
    return model, opt


def test_is_a_torch_lr_scheduler_and_sets_every_group_in_proportion():
    _, opt = model_and_opt()
    f = schedules.create("step", lr=0.1, rate=0.5, step_size=2)
    sched = ScheduleLR(opt, f)
    assert isinstance(sched, L.LRScheduler)
    seen = []
    for _ in range(6):
        seen.append(sched.get_last_lr())
        opt.step()
        sched.step()
    assert seen == [[f(t), f(t) * (0.01 / 0.1)] for t in range(6)]
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([f(6), f(6) / 10])


def test_equals_torch_step_lr_on_multiple_groups():
    _, ours = model_and_opt()
    _, theirs = model_and_opt()
    a = ScheduleLR(ours, schedules.create("step", lr=0.1, rate=0.3, step_size=3))
    b = L.StepLR(theirs, step_size=3, gamma=0.3)
    for _ in range(12):
        assert a.get_last_lr() == pytest.approx(b.get_last_lr(), abs=1e-12)
        ours.step(), theirs.step(), a.step(), b.step()


def skipped_amp_run(make_scheduler, steps=6):
    """A GradScaler loop whose first two steps overflow (inf gradients), so scaler.step skips them."""
    model, opt = model_and_opt()
    sched = make_scheduler(opt)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    lrs = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(steps):
            opt.zero_grad()
            loss = model(torch.ones(2, 3)).sum() * (float("inf") if i < 2 else 1.0)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
    return lrs, [str(w.message) for w in caught]


def test_no_warning_and_no_drift_when_grad_scaler_skips_steps():
    f = schedules.create("cosine", lr=0.1, total_steps=6)
    lrs, caught = skipped_amp_run(lambda opt: ScheduleLR(opt, f))
    assert caught == []
    assert lrs == [f(t) for t in range(1, 7)]  # after k scheduler steps: exactly f(k)
    # the same loop with torch's own scheduler does warn: the scenario is real
    _, torch_caught = skipped_amp_run(lambda opt: L.CosineAnnealingLR(opt, T_max=6))
    assert any("before `optimizer.step()`" in m for m in torch_caught)


def test_state_dict_round_trip_resumes_at_t():
    f = schedules.create("cosine", lr=0.1, total_steps=20, warmup_steps=3)
    _, opt = model_and_opt()
    a = ScheduleLR(opt, f)
    for _ in range(7):
        a.step()
    state = a.state_dict()
    _, opt2 = model_and_opt()
    b = ScheduleLR(opt2, f)
    b.load_state_dict(state)
    assert b.last_epoch == 7 and b.get_last_lr() == a.get_last_lr()
    a.step(), b.step()
    assert b.get_last_lr() == a.get_last_lr() == pytest.approx([f(8), f(8) / 10])


@pytest.mark.parametrize("kind, read", [("sgd", lambda g: g["momentum"]), ("adam", lambda g: g["betas"][0])])
def test_one_cycle_drives_momentum_or_adam_beta1(kind, read):
    _, opt = model_and_opt(kind)
    f = schedules.create("one_cycle", lr=0.1, total_steps=30, cycle_momentum=True)
    sched = ScheduleLR(opt, f)
    ref = L.OneCycleLR(model_and_opt(kind)[1], max_lr=0.1, total_steps=30)
    for t in range(30):
        assert read(opt.param_groups[0]) == pytest.approx(read(ref.optimizer.param_groups[0]), abs=1e-12)
        assert opt.param_groups[0]["lr"] == pytest.approx(ref.optimizer.param_groups[0]["lr"], abs=1e-12)
        if kind == "adam":
            assert opt.param_groups[0]["betas"][1] == 0.99
        sched.step()
        ref.optimizer.step(), ref.step()


def test_driving_a_missing_hyperparameter_is_an_error():
    _, opt = model_and_opt("adam")
    with pytest.raises(ValueError, match="has no 'dampening'"):
        ScheduleLR(opt, lambda t: 0.1, drives={"dampening": lambda t: 0.0})
