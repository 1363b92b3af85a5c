import pytest
from hypothesis import given, settings, strategies as st

from nnopt import ConfigError, Recipe
from nnopt.params import Param
from nnopt.recipe import SECTIONS, Component, parse_assignment


def test_default_recipe_resolves_every_section():
    r = Recipe()
    assert set(r.resolved) == set(SECTIONS)
    assert r.data["name"] == "digits" and r.model["name"] == "mlp"
    assert r.train["epochs"] >= 1 and r.optimizer["lr"] > 0


def test_toml_round_trip(tmp_path):
    r = Recipe({"optimizer": {"name": "sgd", "lr": 0.05}, "model": {"widths": [16, 8]},
                "regularization": {"early_stopping": {"patience": 3}}})
    r.save(tmp_path / "r.toml")
    again = Recipe.load(tmp_path / "r.toml")
    assert again == r
    assert again.regularization["early_stopping"]["patience"] == 3


def test_overrides_parse_toml_values():
    r = Recipe().override(["optimizer.lr=0.01", "model.widths=[64, 32]", "train.epochs=2",
                           "optimizer.name=sgd", "regularization.early_stopping.patience=4"])
    assert r.optimizer["name"] == "sgd" and r.optimizer["lr"] == 0.01
    assert r.model["widths"] == [64, 32] and r.train["epochs"] == 2
    assert r.regularization["early_stopping"]["patience"] == 4


def test_changing_name_drops_untouched_defaults_but_keeps_user_values():
    resolved = Recipe(Recipe().resolved)  # a recipe.toml from a run dir has every default written
    assert resolved.override(["optimizer.name=sgd"]).optimizer["name"] == "sgd"
    custom = Recipe({"optimizer": {"name": "adam", "betas": [0.5, 0.9]}})
    with pytest.raises(ConfigError, match="optimizer.betas is not a known field"):
        custom.override(["optimizer.name=sgd"])


@pytest.mark.parametrize("raw, message", [
    ({"optimzer": {}}, "[optimzer] is not a recipe section"),
    ({"optimizer": {"name": "adma"}}, "did you mean 'adam'"),
    ({"optimizer": {"lr": -0.1}}, "optimizer.lr = -0.1 — must be >= 0"),
    ({"train": {"epochs": 0}}, "train.epochs = 0 — must be >= 1"),
    ({"train": {"device": "tpu"}}, "train.device = 'tpu'"),
    ({"regularization": {"dropout": 1.0}}, "regularization.dropout = 1.0 — must be in [0, 1)"),
    ({"regularization": {"early_stopping": {"monitr": "val_acc"}}},
     "regularization.early_stopping.monitr is not a known field"),
    ({"model": {"widths": "big"}}, "model.widths = 'big'"),
    ({"train": 3}, "train = 3 — must be a table"),
])
def test_bad_recipes_raise_config_error_naming_the_field(raw, message):
    with pytest.raises(ConfigError) as err:
        Recipe(raw)
    assert message in str(err.value)


def test_bad_assignments():
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_assignment("optimizer.lr")
    with pytest.raises(ConfigError, match="not a recipe section"):
        Recipe().override(["optimiser.lr=1"])


def test_invalid_toml_file(tmp_path):
    (tmp_path / "bad.toml").write_text("[optimizer\nlr = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Recipe.load(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        Recipe.load(tmp_path / "missing.toml")


def _fields():
    """Every (section, key) of the default recipe's resolved form, nested tables flattened."""
    out = []
    for section, values in Recipe().resolved.items():
        for key, value in values.items():
            if isinstance(value, dict):
                out += [f"{section}.{key}.{k}" for k in value]
            elif key != "name":
                out.append(f"{section}.{key}")
    return out


BAD = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(), st.text(max_size=8),
                st.lists(st.one_of(st.integers(-5, 5), st.floats(-2, 2), st.text(max_size=2)), max_size=3))


@settings(max_examples=400, deadline=None)
@given(field=st.sampled_from(_fields()), value=BAD)
def test_any_override_is_valid_or_a_config_error(field, value):
    """Hypothesis-generated values for every field: only ConfigError, never another exception."""
    try:
        r = Recipe().override({field: value})
    except ConfigError as exc:
        assert field.split(".")[-1] in str(exc) or field.split(".")[0] in str(exc)
    else:
        assert Recipe(r.resolved) == r


@settings(max_examples=100, deadline=None)
@given(section=st.sampled_from([s for s, c in SECTIONS.items() if isinstance(c, Component)]),
       name=st.text(min_size=1, max_size=10))
def test_any_component_name_is_registered_or_a_config_error(section, name):
    try:
        Recipe({section: {"name": name}})
    except ConfigError as exc:
        assert f"{section}.name" in str(exc)
    else:
        assert name in SECTIONS[section].registry


def test_component_spec_lists_name_first():
    spec = SECTIONS["optimizer"].spec("adam")
    assert list(spec)[0] == "name" and isinstance(spec["lr"], Param)


@pytest.mark.parametrize("dotted", ["\n", "opti\nmizer.lr", "\x00.x"])
def test_an_unprintable_field_name_is_quoted_in_a_one_line_error(dotted):
    """The playground sends field names as typed: a newline in one must not break the error's one line."""
    from nnopt.recipe import set_path

    with pytest.raises(ConfigError) as error:
        set_path({}, dotted, "")
    assert "\n" not in str(error.value) and repr(dotted) in str(error.value)
