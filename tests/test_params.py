import math

import pytest
from hypothesis import given, settings, strategies as st

from nnopt.errors import ConfigError
from nnopt.params import Param, validate_fields

SPEC = {
    "lr": Param(float, 0.1, ge=0),
    "eps": Param(float, 1e-8, gt=0),
    "betas": Param(tuple, (0.9, 0.999), length=2, item=Param(float, ge=0, lt=1)),
    "widths": Param(list, [4], item=Param(int, ge=1)),
    "mode": Param(str, "min", choices=("min", "max")),
    "flag": Param(bool, False),
    "limit": Param(int, None, ge=1, nullable=True),
}


def test_defaults_are_filled_in_spec_order():
    out = validate_fields("s", SPEC, {"lr": 1})
    assert list(out) == list(SPEC)
    assert out["lr"] == 1.0 and isinstance(out["lr"], float)
    assert out["betas"] == (0.9, 0.999) and out["limit"] is None


@pytest.mark.parametrize("values, message", [
    ({"lr": -1}, "s.lr = -1 — must be >= 0"),
    ({"eps": 0.0}, "s.eps = 0.0 — must be > 0"),
    ({"betas": [0.9, 1.2]}, "s.betas[1] = 1.2 — must be in [0, 1)"),
    ({"betas": [0.9]}, "s.betas = [0.9] — must have exactly 2 items"),
    ({"widths": [4, 0]}, "s.widths[1] = 0 — must be >= 1"),
    ({"mode": "mni"}, "s.mode = 'mni' — must be one of 'max', 'min' — did you mean 'min'?"),
    ({"flag": 1}, "s.flag = 1 — must be true or false"),
    ({"lr": True}, "s.lr = true — must be a number"),
    ({"lr": "fast"}, "s.lr = 'fast' — must be a number"),
    ({"limit": 2.5}, "s.limit = 2.5 — must be an integer"),
    ({"lrr": 1}, "s.lrr is not a known field"),
])
def test_bad_values_name_field_value_and_rule(values, message):
    with pytest.raises(ConfigError) as err:
        validate_fields("s", SPEC, values)
    assert message in str(err.value)
    assert err.value.field == message.split(" ")[0]  # the field, without parsing the message


def test_config_error_field_survives_pickling_and_the_registry():
    import pickle

    from nnopt.registry import OPTIMIZERS
    import nnopt.optim  # noqa: F401  (registrations)

    again = pickle.loads(pickle.dumps(ConfigError("a.b = 1 — must be 2", field="a.b")))
    assert (str(again), again.field) == ("a.b = 1 — must be 2", "a.b")
    with pytest.raises(ConfigError) as err:
        OPTIMIZERS.create("adam", [], field="optimizer", betas=(0.9, 1.5))
    assert err.value.field == "optimizer.betas[1]"
    with pytest.raises(ConfigError) as err:
        OPTIMIZERS.create("sgd", [], field="optimizer", nesterov=True)
    assert err.value.field == "optimizer"  # a cross-field rule names its section


def test_nan_is_rejected_and_none_only_when_nullable():
    with pytest.raises(ConfigError):
        validate_fields("s", SPEC, {"lr": math.nan})
    assert validate_fields("s", SPEC, {"limit": "none"})["limit"] is None
    with pytest.raises(ConfigError):
        validate_fields("s", SPEC, {"lr": None})


def test_integral_float_is_accepted_as_int():
    assert validate_fields("s", SPEC, {"limit": 3.0})["limit"] == 3


ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                st.text(max_size=5), st.lists(st.one_of(st.integers(), st.floats(), st.text(max_size=3)),
                                              max_size=4), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                           max_size=2))


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(list(SPEC)), value=ANY)
def test_any_value_is_accepted_or_a_config_error(key, value):
    try:
        out = validate_fields("s", SPEC, {key: value})
    except ConfigError as exc:
        assert f"s.{key}" in str(exc) and exc.field.startswith(f"s.{key}")
    else:
        assert SPEC[key].validate("again", out[key]) == out[key]
