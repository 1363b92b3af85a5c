"""The library as a PyTorch user meets it in their own loop: torch's names, one-call factories,
clear errors for what does not fit, and a user's own schedule treated like the built-in ones."""
import re

import pytest
import torch
from torch.optim import lr_scheduler as L

import nnopt
from nnopt import ConfigError, Recipe, clip, schedules
from nnopt.cli import main
from nnopt.params import Param
from nnopt.registry import LAYERS, LOSSES, SCHEDULES
from nnopt.train import build
from test_schedules_torch import torch_lrs


# -- a user's own schedule (the README's example) ----------------------------------------------
@pytest.fixture
def halving():
    @SCHEDULES.register("halving", params={"lr": Param(float, None, ge=0, nullable=True)})
    def make(lr=None, every=10):
        """α_t = α0 · 2^−⌊t/every⌋"""
        return lambda t: lr * 0.5 ** (t // every)
    yield "halving"
    SCHEDULES._entries.pop("halving")


def test_a_registered_schedule_gets_warmup_and_the_run_length(halving):
    f = schedules.create(halving, lr=0.8, every=5, warmup_steps=4, total_steps=40)
    assert [f(t) for t in (0, 2, 4, 9, 14)] == [0.0, 0.4, 0.8, 0.4, 0.2]
    with pytest.raises(ConfigError, match="warmup_steps = 40 — must be < total_steps = 40"):
        schedules.create(halving, lr=0.8, warmup_steps=40, total_steps=40)


def test_a_registered_schedule_trains_and_plots(halving, tmp_path, capsys):
    recipe = Recipe({"schedule": {"name": halving, "every": 2, "warmup_steps": 1}, "optimizer": {"lr": 0.01},
                     "train": {"epochs": 2, "device": "cpu"}})
    setup = build(recipe)
    assert [setup.schedule(t) for t in (0, 1, 3)] == [0.0, 0.01, 0.005]  # lr filled from the optimizer
    out = tmp_path / "halving.png"
    assert main(["plot", "schedule", halving, "cosine", "--set", "every=100", "--set", "warmup_steps=50",
                 "--steps", "500", "-o", str(out)]) == 0, capsys.readouterr().err
    assert out.read_bytes()[:4] == b"\x89PNG"


# -- schedules: t, values, torch's names ---------------------------------------------------------
REQUIRED = {"piecewise": {"milestones": [3]}, "cyclic": {"max_lr": 1.0}}


@pytest.mark.parametrize("name", schedules.available())
def test_every_schedule_refuses_t_that_is_not_a_step_count(name):
    f = schedules.create(name, lr=0.1, total_steps=20, **REQUIRED.get(name, {}))
    for t in (-1, 1.5, -0.5):
        with pytest.raises(ValueError, match=re.escape(f"t = {t!r} — must be a whole number >= 0")):
            f(t)
    assert f(3.0) == f(3)


@pytest.mark.parametrize("hyper, message", [
    ({"lr": 1.0, "total_steps": 10**5}, "the value at t = 100000 cannot be computed"),
    ({"lr": 1e300, "total_steps": 10}, "the value at t = 10 is inf — must be a finite number >= 0"),
])
def test_a_schedule_whose_values_overflow_is_refused_when_built(hyper, message):
    with pytest.raises(ConfigError, match=message):
        schedules.create("exponential", rate=10.0, **hyper)


@pytest.mark.parametrize("make, name, hyper", [
    (lambda o: L.StepLR(o, step_size=3, gamma=0.5), "step", {"lr": 0.1, "step_size": 3, "gamma": 0.5}),
    (lambda o: L.MultiStepLR(o, milestones=[4, 9], gamma=0.3), "piecewise",
     {"lr": 0.1, "milestones": [4, 9], "gamma": 0.3}),
    (lambda o: L.ExponentialLR(o, gamma=0.9), "exponential", {"lr": 0.1, "gamma": 0.9}),
    (lambda o: L.CosineAnnealingLR(o, T_max=20, eta_min=0.01), "cosine", {"lr": 0.1, "T_max": 20, "eta_min": 0.01}),
    (lambda o: L.PolynomialLR(o, total_iters=20, power=2.0), "polynomial",
     {"lr": 0.1, "total_iters": 20, "power": 2.0}),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.01), "cosine_restarts",
     {"lr": 0.1, "T_0": 4, "T_mult": 2, "eta_min": 0.01}),
    (lambda o: L.OneCycleLR(o, max_lr=0.5, total_steps=30), "one_cycle", {"max_lr": 0.5, "total_steps": 30}),
    (lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.99,
                          cycle_momentum=False), "cyclic",
     {"base_lr": 0.01, "max_lr": 0.1, "cycle_steps": 10, "mode": "exp_range", "gamma": 0.99}),
])
def test_torchs_parameter_names_give_torchs_values(make, name, hyper):
    ours = schedules.create(name, **hyper)
    for t, theirs in enumerate(torch_lrs(make, 21)):  # torch restarts cosine after T_max; nnopt holds
        assert abs(ours(t) - theirs) <= 1e-9, (t, ours(t), theirs)


def test_a_torch_name_and_the_nnopt_name_together_are_refused():
    with pytest.raises(ConfigError, match=r"schedule.rate and schedule.gamma name the same field \(rate\)"):
        schedules.create("step", lr=0.1, rate=0.5, gamma=0.5)


def test_schedule_lr_takes_its_lr_from_the_optimizer():
    def lrs(opt, sched):
        out = []
        for _ in range(12):
            out.append(opt.param_groups[0]["lr"])
            sched.step()
        return out

    params = lambda: [torch.nn.Parameter(torch.zeros(2))]  # noqa: E731
    a = torch.optim.SGD(params(), lr=0.3)
    b = torch.optim.SGD(params(), lr=0.3)
    by_name = lrs(a, schedules.ScheduleLR(a, "cosine", total_steps=10, warmup_steps=2))
    built = lrs(b, schedules.ScheduleLR(b, schedules.create("cosine", lr=0.3, total_steps=10, warmup_steps=2)))
    assert by_name == built and max(by_name) == pytest.approx(0.3)
    with pytest.raises(TypeError, match="give them to schedules.create"):
        schedules.ScheduleLR(b, schedules.create("constant", lr=0.1), total_steps=10)
    with pytest.raises(ConfigError, match="schedule.name = 'cosin'"):
        schedules.ScheduleLR(b, "cosin")


# -- nnopt list speaks the parameter names -----------------------------------------------------
@pytest.mark.parametrize("family", ["schedules", "clipping"])
def test_list_formulas_use_the_parameter_names(family, capsys):
    assert main(["list", family]) == 0
    out = capsys.readouterr().out
    assert not re.search("[αβγλε]", out), out
    for entry in nnopt.FAMILIES[family]:
        names = set(entry.params) | {a for p in entry.params.values() for a in p.aliases}
        words = r"\b(lr|rate|step_size|max_norm|ratio|eps|min_lr|max_lr|power|div_factor|cycle_steps)\b"
        assert set(re.findall(words, entry.description)) <= names, entry.name


def test_layers_and_losses_are_listed_and_created_by_name(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("layers", "losses", "dropout", "variational_dropout", "keep_dropout", "label_smoothing"):
        assert re.search(rf"^\s*{name}\b", out, re.M), name
    assert isinstance(LAYERS.create("variational_dropout", p=0.2), nnopt.nn.VariationalDropout)
    loss = LOSSES.create("label_smoothing", eps=0.2, convention="torch")
    logits, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    assert torch.allclose(loss(logits, y), torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.2))
    with pytest.raises(ConfigError, match=r"layers.p = 1.0 — must be in \[0, 1\)"):
        LAYERS.create("dropout", p=1.0)


# -- clipping ----------------------------------------------------------------------------------
def grads(seed=0):
    torch.manual_seed(seed)
    ps = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    for p in ps:
        p.grad = torch.randn_like(p) * 3
    return ps


def test_clip_create_builds_the_registered_clip():
    ours, theirs = grads(), grads()
    norm = clip.create("global_norm", max_norm=0.5)(ours)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert torch.allclose(norm, expected)
    assert all(torch.allclose(a.grad, b.grad) for a, b in zip(ours, theirs))
    assert clip.create("none") is None and "agc" in clip.available()
    with pytest.raises(ConfigError, match="clip.max_norm = -1"):
        clip.create("norm", max_norm=-1)


@pytest.mark.parametrize("low, high", [(None, 0.5), (-0.5, None), (-1.0, 2.0)])
def test_by_value_with_one_bound_clamps_that_side_only(low, high):
    ours, theirs = grads(), grads()
    clip.by_value(ours, low, high)
    for a, b in zip(ours, theirs):
        assert torch.equal(a.grad, b.grad.clamp(min=low, max=high))


def test_by_value_needs_a_bound_in_order():
    with pytest.raises(ValueError, match="needs min, max or both"):
        clip.by_value(grads())
    with pytest.raises(ValueError, match="min = 1.0 — must be <= max = 0.5"):
        clip.by_value(grads(), 1.0, 0.5)


# -- init --------------------------------------------------------------------------------------
def test_init_apply_refuses_a_tensor():
    with pytest.raises(ConfigError, match="module = Tensor.*must be an nn.Module"):
        nnopt.init.apply(torch.zeros(3, 4), "he_normal")


@pytest.mark.parametrize("scheme, torch_kw, ours_kw", [
    ("he_normal", {"nonlinearity": "leaky_relu", "a": 0.2}, {"activation": "leaky_relu", "negative_slope": 0.2}),
    ("xavier_uniform", {"nonlinearity": "relu"}, {"activation": "relu"}),
    ("orthogonal", {"nonlinearity": "tanh"}, {"activation": "tanh"}),
])
def test_init_takes_torchs_parameter_names(scheme, torch_kw, ours_kw):
    def draw(**kw):
        torch.manual_seed(0)
        return nnopt.init.apply(torch.nn.Linear(20, 30), scheme, **kw).weight

    assert torch.equal(draw(**torch_kw), draw(**ours_kw))


def test_an_unknown_init_field_suggests_its_name():
    with pytest.raises(ConfigError, match="init.activaton is not a known field.*did you mean 'activation'"):
        nnopt.init.apply(torch.nn.Linear(2, 2), "he_normal", activaton="relu")


# -- data --------------------------------------------------------------------------------------
def test_a_split_unpacks_into_inputs_and_labels():
    data = nnopt.data.load("digits", n_train=100)
    x, y = data.train
    assert x is data.train.x and y is data.train.y and len(data.train) == 100


def test_plot_takes_torchs_names_too():
    from nnopt.plot import specs_from_cli

    assert specs_from_cli(["cosine", "step"], ["T_max=50", "gamma=0.5"]) == [  # every schedule has T (T_max)
        ("cosine", {"T_max": 50}), ("step", {"T_max": 50, "gamma": 0.5})]
