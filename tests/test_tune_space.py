"""SPACE.toml parsing: validation against the recipe's specs, conditional knobs, NAS depth form, grids."""
import itertools
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nnopt import Recipe
from nnopt.errors import ConfigError
from nnopt.recipe import SECTIONS
from nnopt.tune.space import build_knobs, load_space, parse_space

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "spaces").glob("*.toml"))
BASE = Recipe()

COND = """
[optimizer]
name = ["sgd", "momentum", "adam"]
lr = { low = 1e-4, high = 0.3, log = true }
momentum = { low = 0.5, high = 0.99, when = { name = ["momentum", "nesterov"] } }
[model]
widths = { depth = { low = 1, high = 3 }, width = [8, 16, 32] }
[regularization]
dropout = { low = 0, high = 0.5 }
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_spaces_are_valid(path):
    space = load_space(path, BASE)
    assert space.searched()


def sample(space, n, seed=0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.sample(trial))
        study.tell(trial, 0.0)
    return out


def test_conditional_knob_exists_only_when_its_condition_holds():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_space(COND, BASE)
    draws = sample(space, 60)
    names = {d["optimizer.name"] for d in draws}
    assert names == {"sgd", "momentum", "adam"}
    for d in draws:
        assert ("optimizer.momentum" in d) == (d["optimizer.name"] == "momentum")
        assert 1e-4 <= d["optimizer.lr"] <= 0.3 and 0 <= d["regularization.dropout"] <= 0.5
        assert 1 <= len(d["model.widths"]) <= 3 and set(d["model.widths"]) <= {8, 16, 32}
        recipe = space.recipe(d)  # every sample is a valid recipe
        assert recipe.model["widths"] == d["model.widths"]
        assert recipe.optimizer["name"] == d["optimizer.name"]
    assert {len(d["model.widths"]) for d in draws} == {1, 2, 3}


def test_log_range_is_log_uniform():
    space = parse_space("[optimizer]\nlr = { low = 1e-4, high = 1.0, log = true }", BASE)
    lrs = [d["optimizer.lr"] for d in sample(space, 400, seed=1)]
    below = sum(lr < 1e-2 for lr in lrs) / len(lrs)  # log-uniform: P(lr < 1e-2) = 2/4
    assert 0.4 < below < 0.6


def test_int_field_gives_int_range_and_float_field_float_range():
    space = parse_space("[train]\nbatch_size = { low = 16, high = 64, step = 16 }\n"
                        "[regularization]\ndropout = { low = 0, high = 1e-1 }", BASE)
    draws = sample(space, 20)
    assert {d["train.batch_size"] for d in draws} <= {16, 32, 48, 64}
    assert all(isinstance(d["train.batch_size"], int) for d in draws)
    assert all(isinstance(d["regularization.dropout"], float) for d in draws)


def test_explicit_choices_for_list_valued_field_and_fixed_values():
    space = parse_space('[model]\nname = "mlp"\nwidths = { choices = [[256, 256], [512]] }\n'
                        '[optimizer]\nname = { value = "sgd" }', BASE)
    draws = sample(space, 20)
    assert {tuple(d["model.widths"]) for d in draws} == {(256, 256), (512,)}
    assert all(d["optimizer.name"] == "sgd" and d["model.name"] == "mlp" for d in draws)


def test_nested_table_and_cross_section_condition():
    space = parse_space('[regularization.early_stopping]\npatience = [2, 4]\n'
                        '[schedule]\nname = ["constant", "cosine"]\n'
                        '[train]\nepochs = { choices = [5, 10], when = { "schedule.name" = "cosine" } }',
                        BASE)
    for d in sample(space, 30):
        assert d["regularization.early_stopping.patience"] in (2, 4)
        assert ("train.epochs" in d) == (d["schedule.name"] == "cosine")
        assert space.recipe(d).regularization["early_stopping"]["patience"] in (2, 4)


def test_grid_enumerates_distinct_configurations_of_a_conditional_space():
    space = parse_space('[optimizer]\nname = ["sgd", "momentum", "adam"]\nlr = [0.01, 0.1]\n'
                        'momentum = { choices = [0.5, 0.9, 0.99], when = { name = "momentum" } }\n'
                        '[model]\nwidths = { depth = [1, 2], width = [16, 32] }', BASE)
    grid = space.grid()
    # sgd, adam: 2 lr; momentum: 2 lr × 3 momentum — times widths: 2 (depth 1) + 4 (depth 2)
    assert len(grid) == (2 + 2 + 2 * 3) * (2 + 4)
    keys = [tuple(sorted((k, str(v)) for k, v in assigned.items())) for _, assigned in grid]
    assert len(set(keys)) == len(keys)
    expected = {(n, lr) for n, lr in itertools.product(["sgd", "momentum", "adam"], [0.01, 0.1])}
    assert {(a["optimizer.name"], a["optimizer.lr"]) for _, a in grid} == expected


def test_grid_of_stepped_float_range():
    space = parse_space("[regularization]\ndropout = { low = 0.0, high = 0.5, step = 0.25 }", BASE)
    assert [a["regularization.dropout"] for _, a in space.grid()] == [0.0, 0.25, 0.5]


def test_grid_refuses_continuous_ranges():
    space = parse_space(COND, BASE)
    with pytest.raises(ConfigError, match=r"optimizer.lr .* continuous range — grid search needs discrete"):
        space.grid()


BAD = [
    ("[optimizer]\nlrr = [0.1]", r"optimizer.lrr is not a known field .* did you mean 'lr'"),
    ('[optimizer]\nname = ["sgd", "adam"]\nmomentum = [0.9]', r"optimizer.momentum is not a known field of "
                                                                r"optimizers 'adam'.*when"),
    ('[optimizer]\nname = ["sgd", "adamm"]', r"optimizer.name\[1\] = 'adamm' — must be one of .*'adam'"),
    ("[optimizer]\nlr = { low = 0.1, high = 0.01 }", r"optimizer.lr: low = 0.1 and high = 0.01 — an empty range"),
    ("[optimizer]\nlr = { low = 0.1, high = 0.1 }", "empty range"),
    ("[optimizer]\nlr = { low = 0, high = 0.1, log = true }", "log = true needs low > 0"),
    ("[optimizer]\nlr = { low = -1, high = 0.1 }", r"optimizer.lr.low = -1 — must be >= 0"),
    ("[optimizer]\nlr = []", r"optimizer.lr = \[\] — an empty list of choices"),
    ("[optimizer]\nlr = { choices = [] }", "empty list of choices"),
    ("[train]\nbatch_size = { low = 8.5, high = 64 }", r"train.batch_size.low = 8.5 — must be an integer"),
    ("[train]\nbatch_size = { low = 8, high = 64, step = 100 }", r"train.batch_size.step = 100"),
    ("[model]\nwidths = [64, 64]", r"model.widths = \[64, 64\] is ambiguous"),
    ("[model]\nwidths = { low = 1, high = 3 }", "list-valued field"),
    ("[model]\nwidths = { depth = { low = 0, high = 2 }, width = [8] }", r"model.widths.depth.low = 0"),
    ("[model]\nwidths = { depth = 2 }", "needs width"),
    ("[model]\nactivation = { low = 1, high = 2 }", "needs a numeric field"),
    ("[model]\nactivation = [\"relu\", \"swishy\"]", r"model.activation\[1\] = 'swishy'"),
    ("[foo]\nx = 1", r"\[foo\] is not a recipe section"),
    ("[optimizer]\nlr = { low = 0.1, high = 1, spread = 2 }", r"unknown keys \['spread'\]"),
    ("[optimizer]\nlr = { low = 0.1, choices = [1] }", "exactly one of"),
    ('[optimizer]\nname = ["sgd", "momentum"]\nmomentum = { choices = [0.9], when = { name = "momentun" } }',
     r"optimizer.momentum.when.name = 'momentun'"),
    ('[optimizer]\nname = ["sgd", "momentum"]\nmomentum = { choices = [0.9], when = { name = [] } }',
     "no value would ever activate"),
    ('[optimizer]\nname = ["sgd", "momentum"]\nlr = { choices = [0.1], when = { lr = 0.1 } }', "names the knob itself"),
    ("[optimizer]\nlr = [0.1, 0.1]", "repeat a value"),
    ("", "the search space is empty"),
    ("[optimizer", "not valid TOML"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_invalid_spaces_raise_config_error_naming_the_field(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_space(text, BASE)


def test_missing_space_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_space(tmp_path / "nope.toml", BASE)


# Arbitrary (mostly wrong) spaces: parsing either succeeds or raises ConfigError — nothing else.
FIELDS = sorted({k for spec in SECTIONS.values() if isinstance(spec, dict) for k in spec}
                | {"name", "lr", "momentum", "widths", "activation", "norm", "channels", "xyz"})
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.floats(-2, 2, allow_nan=False),
                    st.sampled_from(["sgd", "adam", "momentum", "relu", "mlp", "cnn", "batch", "", "name"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["low", "high", "log", "step", "choices", "depth", "width", "value",
                                     "when", "name", "zz"]), inner, max_size=4)), max_leaves=8)
sections = st.dictionaries(st.sampled_from([*SECTIONS, "bogus"]),
                           st.one_of(st.dictionaries(st.sampled_from(FIELDS), values, max_size=4), scalars),
                           max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sections)
def test_any_space_parses_or_raises_config_error(raw):
    try:
        knobs = build_knobs(raw, BASE)
    except ConfigError:
        return
    assert any(k.dist is not None for k in knobs)
