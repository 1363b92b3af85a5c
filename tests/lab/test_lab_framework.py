"""The lab framework: registration, finding.json, recipes written, the CLI's list/run/errors."""
import json

import pytest

from nnopt import ConfigError, Recipe
from nnopt.cli import main
from nnopt.lab import EXPERIMENTS, HOLDS, Finding, Spread, Table, experiment, holds, run_experiment


@pytest.fixture
def tiny_experiment():
    @experiment("tiny_probe", claim="training lowers the loss", precise="val loss after 2 epochs < after 1",
                source="(test)", budget_s=5, part=1)
    def tiny(ctx):
        runs = [ctx.run(Recipe({"model": {"widths": [16]},
                                "train": {"epochs": 2, "seed": s, "threads": 1, "device": "cpu"}}), f"s{s}")
                for s in ctx.seeds]
        drop = Spread([r.epochs[0]["val_loss"] - r.epochs[1]["val_loss"] for r in runs])
        return Finding(verdict=holds(drop.lo > 0), criterion="val loss falls from epoch 1 to 2 for every seed",
                       measured=f"drop {drop.fmt()}", table=Table(["seed", "drop"], [[s, v] for s, v in
                                                                                   zip(ctx.seeds, drop.values)]),
                       numbers={"drop": drop})

    yield "tiny_probe"
    EXPERIMENTS.pop("tiny_probe")


def test_finding_json_and_recipes(tmp_path, tiny_experiment):
    record = run_experiment(tiny_experiment, tmp_path, seeds=3, fast=True)
    on_disk = json.loads((tmp_path / "finding.json").read_text())
    assert on_disk == record and record["verdict"] == HOLDS and record["seeds"] == [0, 1, 2]
    assert record["recipes"] == ["recipes/s0.toml", "recipes/s1.toml", "recipes/s2.toml"]
    assert len(record["numbers"]["drop"]["values"]) == 3
    # a recorded recipe reproduces its run
    assert Recipe.load(tmp_path / "recipes" / "s1.toml").train["seed"] == 1


def test_fewer_than_three_seeds_is_refused(tmp_path, tiny_experiment):
    with pytest.raises(ConfigError, match="--seeds = 2"):
        run_experiment(tiny_experiment, tmp_path, seeds=2)


def test_cli_lab(tmp_path, tiny_experiment, capsys):
    assert main(["lab", "list"]) == 0
    assert "tiny_probe" in capsys.readouterr().out
    assert main(["lab", tiny_experiment, "--fast", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert "HOLDS — drop" in out and "criterion: val loss falls" in out
    assert main(["lab", "tiny_prob", "--out", str(tmp_path / "y")]) == 2
    assert "did you mean 'tiny_probe'" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_finding_rejects_an_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        Finding(verdict="MOSTLY", criterion="", measured="", table=Table([], []))
