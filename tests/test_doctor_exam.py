"""The doctor's exam (bench/doctor_exam.py), a CI subset: a few of its runs are built and graded,
and the confusion table says which first findings were right."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("doctor_exam", Path(__file__).parents[1] / "bench" / "doctor_exam.py")
exam = sys.modules.setdefault("doctor_exam", importlib.util.module_from_spec(SPEC))
SPEC.loader.exec_module(exam)

SUBSET = ["moons-1000", "moons-adam1e-6", "circles-w1", "xor-adam"]  # dev-half runs on 2-D points: seconds each


def test_the_reported_half_has_at_least_8_runs_per_pathology_and_20_healthy():
    counts = {}
    for _, case, _ in exam.runs("test"):
        counts[case.label] = counts.get(case.label, 0) + 1
    assert counts.pop("healthy") >= 20
    assert set(counts) == set(exam.EXPECT) and min(counts.values()) >= 8
    assert len({c.key for c in exam.CASES}) == len(exam.CASES)  # a run id names one configuration


def test_the_split_holds_out_whole_configurations():
    dev, test = ({c.key for _, c, _ in exam.runs(h)} for h in ("dev", "test"))
    assert dev and test and not dev & test and dev | test == {c.key for c in exam.CASES if not c.since}
    for label in {c.label for c in exam.CASES}:  # each label's halves differ by at most one
        n = [sum(c.label == label for _, c, _ in exam.runs(h)) for h in ("dev", "test")]
        assert abs(n[0] - n[1]) <= 1, (label, n)


@pytest.mark.parametrize("name, seed, factor, hidden", [("test2", 1, 2, False), ("test3", 2, 1.5, True),
                                                     ("test4", 3, 1.25, True), ("test5", 4, 0.75, True),
                                                     ("test6", 5, 1.0, True), ("test7", 6, 1.0, True),
                                                     ("test8", 7, 1.0, True)])
def test_fresh_sets_by_their_rules(name, seed, factor, hidden):
    fresh = exam.runs(name)
    counts = {}
    for _, case, _ in fresh:
        counts[case.label] = counts.get(case.label, 0) + 1
    assert counts.pop("healthy") >= 20 and set(counts) == set(exam.EXPECT) and min(counts.values()) >= 8
    old = {c.key: c for c in exam.CASES}
    for key, case, s in fresh:
        assert key not in old and exam.half_of(key) == name and s == seed != exam.SEED
        base = old[key.removesuffix(exam.FRESH[name].suffix)]
        assert case.recipe["data"] == {**base.recipe["data"], "split_seed": seed}  # a new draw / split
        model, was = case.recipe.get("model", {}), base.recipe.get("model", {})
        if "widths" in was:  # hidden widths of >= 8 scaled (at most 1,024), the too-small ones kept
            assert model["widths"] == [min(int(factor * w), 1024) if w >= 8 else w for w in was["widths"]]
        if "hidden" in was:
            assert model["hidden"] == (int(factor * was["hidden"]) if hidden and was["hidden"] >= 8 else was["hidden"])
    drawn = {k.removesuffix(exam.FRESH[name].suffix) for k, _, _ in fresh}
    if exam.FRESH[name].every:  # every configuration not retired, added up to this set: ≥ 16 a pathology
        made = list(exam.FRESH)[:list(exam.FRESH).index(name) + 1]
        assert drawn == {c.key for c in exam.CASES if not c.retired and (not c.since or c.since in made)}
        assert min(counts.values()) == 16 and (name == "test8") == any(old[k].since == "test8" for k in drawn)
        assert {c.key for c in exam.CASES if c.retired} == {"cancer-1024", "wine-512", "digits-cnn-150"}
        return
    assert not any(old[k].since for k in drawn)  # the sets made before test5 drew from the first configurations
    ranks = {k: i for i, k in enumerate(exam.ranked("overfitting", name + ":"))}  # the first 8 by SHA-256
    assert sorted(ranks[k] for k in drawn if old[k].label == "overfitting") == list(range(8))


def test_the_user_data_twins_read_the_same_samples_from_files(tmp_path):
    # each twin is its configuration with the data read from a CSV or .npz file the exam writes: the
    # same samples as the built-in set (scikit-learn's tables and make_moons as the oracle)
    from sklearn.datasets import load_breast_cancer, make_moons

    from nnopt.data import load

    folder = exam.user_data(tmp_path)
    twins = [c for c in exam.CASES if c.since == "test8"]
    assert len(twins) == 18 and {c.recipe["data"]["name"] for c in twins} == {"csv", "npz"}
    for c in twins:
        base = next(b for b in exam.CASES if b.key == c.key.split("-", 1)[1])
        assert c.label == base.label and {k: v for k, v in c.recipe.items() if k != "data"} == \
            {k: v for k, v in base.recipe.items() if k != "data"}
    cancer = load("csv", path=str(folder / "breast_cancer.csv"), target="target")
    rows = {tuple(r) for r in cancer.train.x.tolist() + cancer.val.x.tolist() + cancer.test.x.tolist()}
    assert rows == {tuple(r) for r in load_breast_cancer().data.astype("float32").tolist()}
    moons = load("npz", path=str(folder / "moons.npz"), val_fraction=0.2, test_fraction=0.2)
    x, _ = make_moons(n_samples=600, noise=0.2, random_state=0)
    assert {tuple(r) for r in moons.train.x.tolist()} <= {tuple(r) for r in x.astype("float32").tolist()}
    xor = load("csv", path=str(folder / "xor.csv"), target="label", val_fraction=0.2, test_fraction=0.2, n_train=40)
    assert len(xor.train) == 40 and len(xor.val) == 100
    assert exam.with_user_data(twins[0].recipe, folder)["data"]["path"].startswith(str(folder))


def test_grading_rules():
    from nnopt.doctor.checks import Finding

    lower = Finding("lr too high", "", 0.9, "", {"optimizer.lr": 0.1}, 1.0)
    assert exam.points_right("lr too high", lower, {"optimizer.lr": 5.0})
    assert not exam.points_right("lr too high", lower, {"optimizer.lr": 0.01})  # that would raise it
    assert not exam.points_right("lr too low", lower, {"optimizer.lr": 5.0})  # another name
    wider = Finding("underfitting", "", 0.9, "", {"model.widths": [8, 8]}, 1.0)
    assert exam.points_right("underfitting", wider, {"model.widths": [2, 2]})
    assert not exam.points_right("underfitting", wider, {"model.widths": [64, 64]})


@pytest.mark.slow
def test_exam_subset(tmp_path, capsys):
    assert exam.main(["--half", "dev", "--jobs", "1", "--cache", str(tmp_path), "--only", *SUBSET]) == 0
    out = capsys.readouterr().out
    assert "dev (thresholds tuned here)" in out
    for label in ("unnormalized inputs", "lr too low", "underfitting"):
        assert f"| {label} | 1 | 1/1 (100%) |" in out
    assert "| healthy (no finding = right) | 1 | 1/1 (100%) |" in out


@pytest.mark.slow
def test_a_user_data_twin_runs_through_the_exam(tmp_path, capsys):
    # the exam writes the user files into its cache and fills in their path (a fresh copy keeps its mark)
    assert exam.main(["--half", "test8", "--jobs", "1", "--cache", str(tmp_path), "--only", "csv-cancer-adam@t8",
                      "--json", str(tmp_path / "r.json")]) == 0
    (result,) = json.loads((tmp_path / "r.json").read_text())
    assert result["first"] is None and result["right"]  # a healthy run, quiet — not an error
    assert (tmp_path / "user-data" / "breast_cancer.csv").is_file()
    assert str(tmp_path / "user-data") in (tmp_path / "csv-cancer-adam@t8" / "recipe.toml").read_text()


@pytest.mark.slow
def test_every_exam_recipe_builds(tmp_path):
    # a case the trainer refuses (e.g. batch norm with a last batch of 1 sample) is graded as an error
    from nnopt.recipe import Recipe
    from nnopt.train import build

    # a recipe once: seeds change the draw, not the split sizes or batches that decide whether it builds
    # (every fresh set at its own seed is built by the exam itself)
    seen, folder = set(), exam.user_data(tmp_path)
    for _, c, seed in exam.runs("both") + [r for name in exam.FRESH for r in exam.runs(name)]:
        recipe = exam.with_user_data(exam.recipe_of(c, seed), folder)
        key = json.dumps({**recipe, "train": {**recipe["train"], "seed": 0},
                          "data": {**recipe["data"], "split_seed": 0}}, sort_keys=True)
        if key not in seen:
            seen.add(key)
            build(Recipe(recipe))
