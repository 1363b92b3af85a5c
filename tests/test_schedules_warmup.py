"""Warmup on any schedule, join at boundaries, and the warmup + cosine curve at every step."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from nnopt import ConfigError, schedules
from nnopt.registry import SCHEDULES


def warmup_cosine(t, lr, W, T):
    """The intended curve, written out: linear 0 → lr over W steps, then cosine over T − W."""
    if t < W:
        return lr * t / W
    return 0.5 * lr * (1 + math.cos(math.pi * min(t - W, T - W) / (T - W)))


@settings(max_examples=60, deadline=None)
@given(W=st.integers(1, 50), extra=st.integers(1, 200), lr=st.floats(1e-4, 10.0))
def test_warmup_cosine_is_the_intended_curve_at_every_step(W, extra, lr):
    T = W + extra
    f = schedules.create("cosine", lr=lr, total_steps=T, warmup_steps=W)
    for t in range(T + 2):
        assert f(t) == pytest.approx(warmup_cosine(t, lr, W, T), rel=1e-12, abs=1e-15), t
    assert f(W) == lr  # the boundary is exactly the peak, reached once
    assert f(W - 1) < lr and f(W + 1) <= lr


def test_exponential_warmup_is_geometric():
    f = schedules.create("constant", lr=1.0, warmup_steps=4, warmup_start_lr=1e-4, warmup="exponential")
    assert [f(t) for t in range(6)] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.0], rel=1e-12)


@pytest.mark.parametrize("name", [e.name for e in SCHEDULES])
def test_any_schedule_takes_warmup_and_then_runs_on_its_own_clock(name):
    params = {"lr": 0.1, "total_steps": 60, "max_lr": 1.0, "milestones": [5, 9]}
    params = {k: v for k, v in params.items() if k in SCHEDULES.get(name).params}
    plain = schedules.create(name, **{**params, "total_steps": 50})
    warmed = schedules.create(name, **params, warmup_steps=10, warmup_start_lr=0.01)
    assert warmed(0) == pytest.approx(0.01)
    assert warmed(5) == pytest.approx(0.01 + (plain(0) - 0.01) / 2)
    for t in range(10, 70):
        assert warmed(t) == plain(t - 10), t


def test_join_switches_at_the_boundaries_with_each_piece_on_its_own_clock():
    f = schedules.join([lambda t: 100 + t, lambda t: 200 + t, lambda t: 300 + t], [3, 5])
    assert [f(t) for t in range(8)] == [100, 101, 102, 200, 201, 300, 301, 302]
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.join([abs, abs, abs], [5, 5])
    with pytest.raises(ValueError, match="one fewer"):
        schedules.join([abs, abs], [1, 2])


def test_driven_momentum_holds_its_start_value_during_warmup():
    f = schedules.create("one_cycle", lr=1.0, total_steps=110, warmup_steps=10, cycle_momentum=True)
    plain = schedules.create("one_cycle", lr=1.0, total_steps=100, cycle_momentum=True)
    m = f.drives["momentum"]
    assert [m(t) for t in range(10)] == [0.95] * 10
    assert [m(t) for t in range(10, 110)] == [plain.drives["momentum"](t) for t in range(100)]


def test_warmup_steps_must_fit_in_the_run():
    with pytest.raises(ConfigError, match="warmup_steps = 20 — must be < total_steps = 20"):
        schedules.create("linear", lr=0.1, total_steps=20, warmup_steps=20)
    with pytest.raises(ConfigError, match="warmup_steps = -1"):
        schedules.create("constant", lr=0.1, warmup_steps=-1)
