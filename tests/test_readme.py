"""The README's examples are real: its recipe validates and builds, its CLI lines parse."""
import re
import shlex
from pathlib import Path

import pytest

from nnopt import DataError, Recipe
from nnopt.cli import build_parser
from nnopt.train import build

README_PATH = Path(__file__).resolve().parents[1] / "README.md"
README = README_PATH.read_text()


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("text", blocks("toml"))
def test_readme_recipes_validate_and_build(text, monkeypatch):
    from nnopt._compat import tomllib

    monkeypatch.chdir(README_PATH.parent)  # the recipes' paths (examples/...) are the repository root's
    recipe = Recipe(tomllib.loads(text))
    try:
        build(recipe)
    except DataError:
        pytest.skip("the recipe's data set is not installed")


def test_readme_cli_lines_parse():
    lines = [line.split("#")[0].strip() for block in blocks("sh") for line in block.splitlines()]
    commands = [shlex.split(line)[1:] for line in lines if line.startswith("nnopt ")]
    assert len(commands) >= 5
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)
        assert args.func is not None
