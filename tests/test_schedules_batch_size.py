"""Batch-size growth at milestones, its step counts, the equivalent lr decay, recipe params."""
import math

import pytest

from nnopt import ConfigError, schedules
from nnopt.params import validate_fields
from nnopt.schedules import BatchSizeSchedule
from nnopt.schedules.batch_size import PARAMS, from_train


def test_grows_by_the_factor_at_each_milestone_up_to_the_cap():
    b = BatchSizeSchedule(32, milestones=[2, 5], factor=4, max_batch_size=300)
    assert [b(e) for e in range(7)] == [32, 32, 128, 128, 128, 300, 300]
    assert BatchSizeSchedule(32)(100) == 32


def test_step_counts_follow_the_batch_size():
    n = 1000
    b = BatchSizeSchedule(64, milestones=[1, 2], factor=2)
    assert [b.steps(e, n) for e in range(3)] == [16, 8, 4]  # ⌈1000/64⌉, ⌈1000/128⌉, ⌈1000/256⌉
    assert b.steps_before(3, n) == 28 and b.steps_before(0, n) == 0


def test_smallest_batch_is_the_least_full_or_last_batch_of_the_epochs_run():
    """By hand: 1000 = 15·64 + 40, 7·128 + 104, 3·256 + 232; 1025 leaves a last batch of 1 at B = 64."""
    b = BatchSizeSchedule(64, milestones=[1, 2], factor=2)
    assert b.smallest(3, 1000) == 40 and b.smallest(1, 1025) == 1 and b.smallest(3, 1024) == 64
    assert b.smallest(3, 100) == 36  # 100 = 1·64 + 36; one batch of 100 at 128 and 256


def test_equivalent_step_decay_sees_the_same_samples_with_the_lr_divided_by_the_factor():
    b = BatchSizeSchedule(50, milestones=[3, 6], factor=5)
    section = b.equivalent_lr_schedule()
    name, interval = section.pop("name"), section.pop("interval")
    assert (name, interval) == ("piecewise", "epoch")
    lr = schedules.create(name, lr=1.0, **section)
    for e in range(9):  # the same noise scale lr/B (Smith et al.): lr_e/B_0 = lr_0/B_e
        assert lr(e) == pytest.approx(50 / b(e))


@pytest.mark.parametrize("kwargs, message", [
    ({"milestones": [3, 3]}, "batch_milestones = [3, 3] — must be strictly increasing"),
    ({"milestones": [0]}, "batch_milestones = [0]"),
    ({"factor": 0.5}, "batch_growth = 0.5"),
    ({"max_batch_size": 8}, "max_batch_size = 8 — must be >= batch_size = 32"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        BatchSizeSchedule(32, **kwargs)


def test_recipe_params_validate_and_build():
    train = {"batch_size": 16, **validate_fields("train", PARAMS, {"batch_growth": 2, "batch_milestones": [4]})}
    assert [from_train(train)(e) for e in (3, 4)] == [16, 32]
    with pytest.raises(ConfigError, match=r"train.batch_milestones = \[4, 2\]"):
        from_train({**train, "batch_milestones": [4, 2]})
    with pytest.raises(ConfigError, match="train.batch_growth = 0.5"):
        validate_fields("train", PARAMS, {"batch_growth": 0.5})
    assert math.isclose(validate_fields("train", PARAMS, {})["batch_growth"], 1.0)
