"""Closed-form values of every schedule at chosen t, hand-computed; and bad input."""
import math

import pytest

from nnopt import ConfigError, schedules
from nnopt.registry import SCHEDULES

# (name, params, [(t, expected)]) — the expected values are worked out by hand from the formulas
VALUES = [
    ("constant", {"lr": 0.3}, [(0, 0.3), (10**6, 0.3)]),
    ("step", {"lr": 1.0, "rate": 0.5, "step_size": 10}, [(0, 1.0), (9, 1.0), (10, 0.5), (25, 0.25)]),
    ("piecewise", {"lr": 2.0, "milestones": [3, 7], "values": [1.0, 0.5, 0.05]},
     [(0, 2.0), (2, 2.0), (3, 1.0), (6, 1.0), (7, 0.1), (100, 0.1)]),
    ("piecewise", {"lr": 1.0, "milestones": [3, 7], "rate": 0.1}, [(2, 1.0), (3, 0.1), (7, 0.01)]),
    ("linear", {"lr": 1.0, "total_steps": 4, "min_lr": 0.2}, [(0, 1.0), (1, 0.8), (4, 0.2), (9, 0.2)]),
    ("polynomial", {"lr": 1.0, "total_steps": 4, "power": 2.0}, [(0, 1.0), (2, 0.25), (3, 0.0625), (8, 0.0)]),
    ("inverse_time", {"lr": 1.0, "rate": 0.5}, [(0, 1.0), (2, 0.5), (6, 0.25)]),
    ("exponential", {"lr": 1.0, "rate": 0.5}, [(0, 1.0), (3, 0.125)]),
    ("exponential", {"lr": 1.0, "rate": 0.25, "step_size": 2}, [(1, 0.5), (4, 0.0625)]),
    ("exponential", {"lr": 1.0, "rate": 0.25, "step_size": 2, "staircase": True}, [(1, 1.0), (3, 0.25)]),
    ("natural_exp", {"lr": 1.0, "rate": 0.5}, [(0, 1.0), (2, math.exp(-1)), (4, math.exp(-2))]),
    ("cosine", {"lr": 1.0, "total_steps": 4, "min_lr": 0.2}, [(0, 1.0), (2, 0.6), (4, 0.2), (100, 0.2)]),
    ("cosine", {"lr": 1.0, "total_steps": 3}, [(1, 0.75), (2, 0.25)]),
    ("cyclic", {"lr": 0.1, "max_lr": 1.1, "cycle_steps": 4}, [(0, 0.1), (1, 0.6), (2, 1.1), (3, 0.6), (4, 0.1)]),
    ("cyclic", {"lr": 0.0, "max_lr": 1.0, "cycle_steps": 4, "mode": "triangular2"}, [(2, 1.0), (6, 0.5), (10, 0.25)]),
    ("cyclic", {"lr": 0.0, "max_lr": 1.0, "cycle_steps": 4, "mode": "exp_range", "rate": 0.5},
     [(2, 0.25), (6, 0.5 ** 6)]),
    ("cosine_restarts", {"lr": 1.0, "cycle_steps": 4, "rate": 0.5},
     [(0, 1.0), (2, 0.5), (4, 0.5), (6, 0.25), (8, 0.25)]),
    ("cosine_restarts", {"lr": 1.0, "cycle_steps": 2, "cycle_mult": 2},  # cycles start at 0, 2, 6, 14
     [(1, 0.5), (2, 1.0), (4, 0.5), (6, 1.0), (10, 0.5), (14, 1.0)]),
    ("one_cycle", {"lr": 1.0, "total_steps": 11, "pct_start": 5 / 11, "div_factor": 10.0,
                   "final_div_factor": 10.0, "anneal": "linear"},  # 0.1 → 1 over t 0..4, → 0.01 over 4..10
     [(0, 0.1), (2, 0.55), (4, 1.0), (7, 0.505), (10, 0.01), (50, 0.01)]),
]


@pytest.mark.parametrize("name, params, points", VALUES, ids=[f"{v[0]}{i}" for i, v in enumerate(VALUES)])
def test_closed_form_values(name, params, points):
    f = schedules.create(name, **params)
    for t, expected in points:
        assert f(t) == pytest.approx(expected, abs=1e-12), t


def test_every_schedule_is_registered_with_the_uniform_names():
    expected = {"constant", "step", "piecewise", "linear", "inverse_time", "exponential", "natural_exp",
                "cosine", "cyclic", "cosine_restarts", "one_cycle", "polynomial"}
    assert expected <= set(schedules.available())
    uniform = {"lr", "total_steps", "warmup_steps", "warmup_start_lr", "warmup"}
    for entry in SCHEDULES:
        assert uniform <= set(entry.params), entry.name
        assert entry.params["lr"].default is None and entry.params["total_steps"].default is None


def test_schedules_are_pure_functions_of_t():
    f = schedules.create("cosine_restarts", lr=1.0, cycle_steps=3, cycle_mult=2)
    forward = [f(t) for t in range(40)]
    assert [f(t) for t in reversed(range(40))] == forward[::-1]


@pytest.mark.parametrize("name, params, field", [
    ("cosine", {"lr": 0.1, "total_steps": 0}, "schedule.total_steps = 0"),
    ("step", {"lr": 0.1, "rate": -0.5}, "schedule.rate = -0.5"),
    ("inverse_time", {"lr": 0.1, "rate": -1.0}, "schedule.rate = -1"),
    ("exponential", {"lr": -0.1}, "schedule.lr = -0.1"),
    ("piecewise", {"lr": 0.1, "milestones": [5, 5, 9]}, "milestones = [5, 5, 9] — must be strictly increasing"),
    ("piecewise", {"lr": 0.1, "milestones": [9, 5]}, "milestones = [9, 5]"),
    ("piecewise", {"lr": 0.1, "milestones": [2], "values": [1.0]}, "values has 1 items"),
    ("piecewise", {"lr": 0.1}, "schedule.milestones is required"),
    ("cosine", {"lr": 0.1, "total_steps": 100, "warmup_steps": 100}, "warmup_steps = 100 — must be < total_steps = 100"),
    ("step", {"lr": 0.1, "total_steps": 10, "warmup_steps": 50}, "warmup_steps = 50"),
    ("cosine", {"lr": 0.1, "total_steps": 10, "min_lr": 0.5}, "min_lr = 0.5 — must be <= lr = 0.1"),
    ("cyclic", {"lr": 0.5, "max_lr": 0.1}, "lr = 0.5 — must be <= max_lr = 0.1"),
    ("cyclic", {"lr": 0.1}, "schedule.max_lr is required"),
    ("one_cycle", {"lr": 0.1, "total_steps": 3, "pct_start": 0.2}, "pct_start = 0.2 with total_steps = 3"),
    ("cosine", {"total_steps": 10}, "lr is none"),
    ("cosine", {"lr": 0.1}, "total_steps is none"),
    ("exponential", {"lr": 0.1, "warmup_steps": 5, "warmup": "exponential"}, "warmup_start_lr = 0.0"),
    ("constant", {"lr": 0.1, "warmup": "cubic"}, "schedule.warmup = 'cubic'"),
])
def test_bad_input_names_the_parameter(name, params, field):
    with pytest.raises(ConfigError) as err:
        schedules.create(name, **params)
    assert field in str(err.value)
