"""Bad input, by class: each one line naming the field, the value and what is allowed (exit 2),
before anything is written."""
import math

import pytest

from nnopt import ConfigError, Recipe
from nnopt.cli import main
from nnopt.params import Param, suggest, typos, validate_fields


def refused(argv, capsys, *words, out=None) -> str:
    """Run the CLI in-process; assert exit 2, a one-line error holding `words`, no `out` written."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith(("error:", "usage:")), err
    assert all(w in err for w in words), err
    if out is not None:
        assert not out.exists()
    return err


# -- names: anything that is not a registered name ----------------------------------------------
@pytest.mark.parametrize("assignment, shown", [
    ('optimizer.name=["adam"]', "['adam']"), ("schedule.name={a=1}", "{'a': 1}"),
    ("preprocess.name=[nan]", "[nan]"), ("data.name=3", "3"), ("init.name=true", "True"),
])
def test_a_non_string_name_is_a_clean_error(tmp_path, capsys, assignment, shown):
    out = tmp_path / "run"
    section = assignment.split(".")[0]
    refused(["run", "--set", assignment, "--out", str(out)], capsys, f"{section}.name = {shown}",
            "must be one of", out=out)


def test_a_name_change_after_a_bad_name_is_still_a_clean_error():
    with pytest.raises(ConfigError, match="optimizer.name"):
        Recipe().override(['optimizer.name=["adam"]', "optimizer.name=sgd", "optimizer.name={a=1}"])


# -- numbers: non-finite, absurd ---------------------------------------------------------------
@pytest.mark.parametrize("sets, words", [
    (["optimizer.eps=inf"], ["optimizer.eps = inf", "finite"]),
    (["optimizer.lr=inf"], ["optimizer.lr = inf", "finite"]),
    (["optimizer.lr=-inf"], ["optimizer.lr = -inf"]),
    (["optimizer.lr=nan"], ["optimizer.lr = nan"]),
    (["init.name=uniform", "init.r=inf"], ["init.r = inf", "finite"]),
    (["penalty.name=l2", "penalty.coef=1e999"], ["penalty.coef = inf", "finite"]),
])
def test_non_finite_numbers_are_refused_before_the_run_directory(tmp_path, capsys, sets, words):
    out = tmp_path / "run"
    argv = ["run", "--out", str(out)]
    for s in sets:
        argv += ["--set", s]
    refused(argv, capsys, *words, out=out)


@pytest.mark.parametrize("assignment, words", [
    ("train.seed=1e20", ["train.seed = 1e+20", "4294967295"]),
    ("train.seed=-1", ["train.seed = -1"]),
    ("train.threads=100000", ["train.threads = 100000", "1024"]),
])
def test_seeds_and_threads_stay_within_what_torch_accepts(tmp_path, capsys, assignment, words):
    out = tmp_path / "run"
    refused(["run", "--set", assignment, "--out", str(out)], capsys, *words, out=out)


@pytest.mark.parametrize("assignment, words", [
    ("data.split_seed=1e20", ["data.split_seed = 1e+20", "4294967295"]),
    ("data.name=moons", None),
    ("model.widths=[100000000000000000000]", ["model.widths[0]", "fits in 64 bits"]),
    ("model.widths=[1000000000000000000]", ["cannot be built with these sizes"]),
    ("train.epochs=1e30", ["train.epochs = 1e+30", "64 bits"]),
])
def test_integers_past_what_numpy_and_torch_hold_are_refused(tmp_path, capsys, assignment, words):
    out = tmp_path / "run"
    if words is None:  # a synthetic data set's size, bounded like the seed
        refused(["run", "--set", assignment, "--set", "data.n_samples=1e12", "--out", str(out)], capsys,
                "data.n_samples = 1000000000000.0", "1000000]", out=out)
    else:
        refused(["run", "--set", assignment, "--out", str(out)], capsys, *words, out=out)


@pytest.mark.parametrize("sets, words", [
    (["init.name=constant", "init.value=1e308"], ["init.value = 1e+308", "3.4028234663852886e+38"]),
    (["init.name=normal", "init.std=1e300"], ["init.std = 1e+300"]),
    (["init.name=he_normal", "init.bias=-1e39"], ["init.bias = -1e+39"]),
    (["model.name=rnn", "data.name=digits_seq", "model.layers=100000"], ["model.layers = 100000", "[1, 100]"]),
])
def test_weights_must_fit_float32_and_layer_counts_must_build_in_time(tmp_path, capsys, sets, words):
    out = tmp_path / "run"
    refused(["run", *[a for s in sets for a in ("--set", s)], "--out", str(out)], capsys, *words, out=out)


def test_unbounded_batch_growth_stops_past_every_data_set():
    from nnopt.schedules import BatchSizeSchedule
    from nnopt.schedules.batch_size import LARGEST

    grown = BatchSizeSchedule(32, [1, 2, 3], factor=1e300)
    assert [grown(e) for e in range(4)] == [32, LARGEST, LARGEST, LARGEST] and grown.steps(3, 1000) == 1
    assert [BatchSizeSchedule(32, [1, 2], 2.0, 100)(e) for e in range(3)] == [32, 64, 100]


def test_the_seed_bound_is_torchs_and_numpys():
    import numpy as np
    import torch

    top = Recipe({"train": {"seed": 2**32 - 1}}).train["seed"]
    torch.manual_seed(top), np.random.seed(top)
    with pytest.raises(ValueError):
        np.random.seed(top + 1)


def test_finite_is_the_default_and_inf_only_where_a_param_allows_it():
    assert validate_fields("s", {"x": Param(float, 0.0, finite=False)}, {"x": math.inf}) == {"x": math.inf}
    with pytest.raises(ConfigError, match=r"s\.x = inf — must be a finite number >= 0"):
        validate_fields("s", {"x": Param(float, 0.0, ge=0)}, {"x": math.inf})
    with pytest.raises(ConfigError, match="not nan"):
        validate_fields("s", {"x": Param(float, 0.0, finite=False)}, {"x": math.nan})


def test_aliases_rename_to_the_field_and_both_given_is_an_error():
    spec = {"rate": Param(float, 0.1, aliases=("gamma",))}
    assert validate_fields("schedule", spec, {"gamma": 0.5}) == {"rate": 0.5}
    for both in ({"gamma": 0.5, "rate": 0.2}, {"rate": 0.2, "gamma": 0.5}):
        with pytest.raises(ConfigError, match=r"schedule.(gamma|rate) and schedule.(rate|gamma) name the same "
                                              r"field \(rate\)"):
            validate_fields("schedule", spec, both)


# -- files -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b"\xff\xfe\x00[train]\n"), ["not UTF-8 text", "byte 0"]),
    (lambda p: p.mkdir(), ["is a directory"]),
    (lambda p: p.write_text("a = " + "[" * 3000 + "]" * 3000), ["nests", "too deeply"]),
    (lambda p: p.write_text("[train\n"), ["not valid TOML"]),
    (lambda p: None, ["does not exist"]),
])
def test_a_recipe_that_is_not_a_toml_file_is_refused(tmp_path, capsys, make, words):
    path = tmp_path / "recipe.toml"
    make(path)
    out = tmp_path / "run"
    refused(["run", str(path), "--out", str(out)], capsys, f"recipe {str(path)!r}", *words, out=out)


def test_a_deeply_nested_set_value_is_refused(capsys):
    refused(["run", "--set", "model.widths=" + "[" * 3000 + "]" * 3000], capsys, "nested too deeply")


@pytest.mark.parametrize("target", ["/dev/null", "file"])
def test_out_must_be_a_directory(tmp_path, capsys, target):
    if target == "file":
        target = tmp_path / "file"
        target.write_text("keep me")
    refused(["run", "--out", str(target)], capsys, f"--out = {str(target)!r}", "must be a directory")
    if target != "/dev/null":
        assert target.read_text() == "keep me"


# -- did-you-mean that points the right way ----------------------------------------------------
def test_suggest_prefers_a_name_containing_the_word():
    names = ["circles", "digits", "fashion_mnist", "fashion_mnist_seq", "moons"]
    assert suggest("mnist", names) == " — did you mean 'fashion_mnist'?"
    assert suggest("adma", ["adamax", "adam", "adamw", "sgd"]) == " — did you mean 'adam'?"
    assert suggest("nestrov", ["nadam", "nesterov", "lion"]) == " — did you mean 'nesterov'?"
    assert suggest("zzz", names) == ""


@pytest.mark.parametrize("a, b, n", [("adma", "adam", 1), ("kitten", "sitting", 3), ("", "abc", 3),
                                     ("abc", "abc", 0), ("ab", "ba", 1), ("ca", "abc", 3)])
def test_typos_is_the_restricted_edit_distance(a, b, n):
    assert typos(a, b) == typos(b, a) == n


def test_a_top_level_field_is_sent_to_its_section(tmp_path, capsys):
    path = tmp_path / "recipe.toml"
    path.write_text("epochs = 1\n")
    err = refused(["run", str(path)], capsys, "[epochs] is not a recipe section", "field of [train]",
                  "train.epochs")
    assert "preprocess" not in err.split("—")[-1]
    refused(["run", "--set", "epochs=1"], capsys, "section.key", "train.epochs")
    refused(["run", "--set", "lr=0.1"], capsys, "[optimizer]", "optimizer.lr")


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "rmsprop"])
def test_momentum_of_one_or_more_is_refused(name):
    """ρ ≥ 1: the velocity b ← ρb + g never decays (a closed-form reason, not a tuning choice)."""
    with pytest.raises(ConfigError, match=r"optimizer.momentum = 1.5 — must be in [\[(]0, 1\)"):
        Recipe({"optimizer": {"name": name, "momentum": 1.5}})


# -- sizes a data set cannot give ----------------------------------------------------------------
def test_n_train_beyond_the_training_split_is_refused_and_its_size_named(tmp_path, capsys):
    """Oracle: the training split of digits as loaded without n_train."""
    from nnopt.data import load

    size = len(load("digits").train)
    assert len(load("digits", n_train=size).train) == size
    for n in (size + 1, 10**12):
        out = tmp_path / f"run{n}"
        refused(["run", "--set", f"data.n_train={n}", "--out", str(out)], capsys,
                f"data.n_train = {n}", f"must be at most {size}", out=out)
