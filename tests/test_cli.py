import json

from nnopt import Recipe
from nnopt.cli import main
from nnopt.compare import parse_vary, split_values, variants
from nnopt.registry import FAMILIES

from cli_subprocess import run_cli

FAST = ["--set", "train.epochs=2", "--set", "model.widths=[16]", "--set", "train.threads=1"]


def test_list_prints_every_family_and_entry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for registry in FAMILIES.values():
        assert registry.family in out
        assert all(name in out for name in registry.names())


def test_list_one_entry_shows_its_parameters(capsys):
    assert main(["list", "optimizers", "adam"]) == 0
    out = capsys.readouterr().out
    assert "lr = 0.001" in out and "betas" in out


def test_list_unknown_family(capsys):
    assert main(["list", "optimisers"]) == 2
    assert "did you mean 'optimizers'" in capsys.readouterr().err


def test_run_writes_a_reproducible_recipe(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--quiet", "--out", str(out), *FAST]) == 0
    table = capsys.readouterr().out
    assert "test acc" in table and str(out) in table
    assert main(["run", "--quiet", "--out", str(tmp_path / "again"), str(out / "recipe.toml")]) == 0
    a, b = (json.loads((d / "summary.json").read_text()) for d in (out, tmp_path / "again"))
    assert a["test_acc"] == b["test_acc"] and a["final_val_loss"] == b["final_val_loss"]


def test_run_refuses_a_used_output_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = run_cli("run", "--out", tmp_path, check=False)
    assert proc.returncode == 2 and "not empty" in proc.stderr


def test_split_values_respects_brackets_and_quotes():
    assert split_values("sgd,momentum, adam") == ["sgd", "momentum", "adam"]
    assert split_values("[64, 64],[128]") == [[64, 64], [128]]
    assert split_values('0.1,"a,b"') == [0.1, "a,b"]
    assert parse_vary(["optimizer.lr=0.1,0.01"]) == {"optimizer.lr": [0.1, 0.01]}


def test_variants_form_the_full_grid():
    grid = variants(Recipe(), {"optimizer.name": ["sgd", "adam"], "train.batch_size": [16, 32]})
    assert [label for label, _ in grid] == ["name=sgd batch_size=16", "name=sgd batch_size=32",
                                           "name=adam batch_size=16", "name=adam batch_size=32"]
    assert grid[1][1].optimizer["name"] == "sgd" and grid[1][1].train["batch_size"] == 32


def test_compare_table_figure_and_seeds(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--quiet", "--out", str(out), "--vary", "optimizer.name=sgd,adam",
                 "--seeds", "2", *FAST]) == 0
    table = capsys.readouterr().out
    assert "name=sgd" in table and "name=adam" in table and "±" in table
    results = json.loads((out / "results.json").read_text())
    assert [len(v) for v in results.values()] == [2, 2]
    seeds = {Recipe.load(out / f"{i:03d}" / "recipe.toml").train["seed"] for i in range(2)}
    assert seeds == {0, 1}
    assert (out / "val_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_validates_every_variant_before_training(tmp_path):
    out = tmp_path / "cmp"
    proc = run_cli("compare", "--out", out, "--vary", "optimizer.name=sgd,adma", check=False)
    assert proc.returncode == 2 and "did you mean 'adam'" in proc.stderr and not out.exists()


def test_cli_starts_without_importing_optuna():
    """`nnopt run` works where Optuna is absent (it is needed by `nnopt tune` alone)."""
    import subprocess
    import sys

    code = "import sys, nnopt.cli; nnopt.cli.build_parser(); print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
