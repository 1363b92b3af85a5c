"""docs/your_own.md and the README's "Your own data and model" section are real: every nnopt line
runs (in a copy of examples/), every TOML block validates and builds, every Python block is the
example file it names."""
import json
import os
import re
import runpy
import shlex
import shutil
from pathlib import Path

import pytest

from nnopt import Recipe
from nnopt._compat import tomllib
from nnopt.registry import FAMILIES
from nnopt.user_code import IMPORT_ENV

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "your_own.md").read_text()
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Your own data and model", 1)[1].split("\n## ", 1)[0]


def blocks(text, lang):
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def commands(text):
    """The `nnopt …` and `python examples/….py` lines of the text's sh blocks, split."""
    lines = [line.split("  #")[0].strip() for block in blocks(text, "sh") for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith(("nnopt ", "python examples/"))]


@pytest.fixture
def examples_cwd(tmp_path, monkeypatch):
    """A working directory holding a copy of examples/, as the repository root does; registries
    and NNOPT_IMPORT restored afterwards (--import registers in this process)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(IMPORT_ENV, raising=False)
    saved = {name: dict(reg._entries) for name, reg in FAMILIES.items()}
    yield tmp_path
    for name, reg in FAMILIES.items():
        reg._entries.clear()
        reg._entries.update(saved[name])


def test_the_page_and_the_readme_section_have_commands():
    assert len(commands(PAGE)) >= 10 and len(commands(SECTION)) >= 3
    assert "nnopt run examples/recipe.toml" in README  # the README's first recipe line names a real file
    for argv in commands(README):
        for arg in argv[1:]:
            if arg.startswith("examples/") and not arg.startswith("examples/data/"):
                assert (ROOT / arg.split(":")[0]).exists(), arg


@pytest.mark.parametrize("text", blocks(PAGE, "toml") + blocks(SECTION, "toml"))
def test_toml_blocks_validate_and_build(text, examples_cwd):
    from nnopt.train import build

    raw = tomllib.loads(text)
    if "model" in raw and "data" not in raw:  # a [model] fragment: on the blobs arrays
        raw["data"] = {"name": "npz", "path": "examples/data/blobs.npz"}
    setup = build(Recipe(raw))
    assert len(setup.data.train) > 0


@pytest.mark.parametrize("text", blocks(PAGE, "python") + blocks(SECTION, "python"))
def test_python_blocks_are_the_example_files(text):
    first, *code = text.splitlines()
    name = re.match(r"# (examples/\S+)", first).group(1)
    source = (ROOT / name).read_text()
    for chunk in "\n".join(code).strip().split("\n\n\n"):  # the imports, each definition
        if chunk.startswith(("import ", "from ")):  # a part's imports: each one is the file's
            assert all(line in source.splitlines() for line in chunk.splitlines() if line), chunk
        else:
            assert chunk.strip() in source, chunk


@pytest.mark.slow
def test_every_command_runs(examples_cwd):
    from nnopt.cli import main

    page = commands(PAGE)
    for program, *argv in page + [c for c in commands(SECTION) if c not in page]:  # the README repeats some
        if program == "python":  # an example script, as `python FILE` runs it
            runpy.run_path(argv[0], run_name="__main__")
            continue
        code = main([*argv, *(["--quiet"] if argv[0] in ("run", "compare", "tune") else [])])
        assert code == 0, argv
    runs = examples_cwd / "runs"
    assert (runs / "mine.html").exists() and (runs / "houses" / "landscape").is_dir()
    assert json.loads((runs / "my-loop" / "summary.json").read_text())["tracked"]
    trials = (runs / "houses-tune" / "trials.csv").read_text().splitlines()[1:]
    assert [t.split(",")[1] for t in trials] == ["COMPLETE", "COMPLETE"], trials
    assert json.loads((runs / "blobs-ddp" / "summary.json").read_text())["status"] == "completed"
    assert os.environ.get(IMPORT_ENV, "").endswith("my_plugin.py")
