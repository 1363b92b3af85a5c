"""Your own model (model.name = "python", factory = "file.py:function" | "pkg.module:function")
and your own registrations (--import): what the factory gets, how its keyword arguments become
recipe fields, and the one-line errors of a factory that fails."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from nnopt import ConfigError, Recipe
from nnopt.nn import build_model
from nnopt.registry import FAMILIES
from nnopt.user_code import IMPORT_ENV, import_target, load_imports, use_imports

pytestmark = pytest.mark.usefixtures("one_thread")

MODEL_FILE = '''
import math
from torch import nn

def make(input_shape, n_outputs, width: int = 16, depth=1, act="relu"):
    layers, fan_in = [nn.Flatten()], math.prod(input_shape)
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.ReLU() if act == "relu" else nn.Tanh()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, n_outputs))

def with_dropout(input_shape, n_outputs, dropout=0.0):
    return nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(math.prod(input_shape), n_outputs))

def needs_width(input_shape, n_outputs, width):
    return nn.Linear(math.prod(input_shape), n_outputs)

def raises(input_shape, n_outputs):
    raise RuntimeError("boom\\nsecond line")

def returns_none(input_shape, n_outputs):
    return None

def wrong_width(input_shape, n_outputs):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), n_outputs + 1))

def bad_forward(input_shape, n_outputs):
    return nn.Linear(3, n_outputs)

def no_shape(n_outputs):
    return nn.Linear(1, n_outputs)

class MeanEmbedding(nn.Module):
    def __init__(self, vocab_size, n_outputs):
        super().__init__()
        self.embedding, self.head = nn.Embedding(vocab_size, 8), nn.Linear(8, n_outputs)

    def forward(self, tokens):  # (B, T) token ids
        return self.head(self.embedding(tokens).mean(1))

def embed(input_shape, n_outputs, vocab_size: int = None):
    return MeanEmbedding(vocab_size, n_outputs)

not_callable = 3
'''


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(MODEL_FILE)
    return str(path)


@pytest.fixture
def clean_registries(monkeypatch):
    """Registrations a test's --import makes are undone afterwards; NNOPT_IMPORT restored."""
    saved = {name: dict(reg._entries) for name, reg in FAMILIES.items()}
    monkeypatch.delenv(IMPORT_ENV, raising=False)
    yield
    for name, reg in FAMILIES.items():
        reg._entries.clear()
        reg._entries.update(saved[name])


def test_factory_gets_input_shape_n_outputs_and_the_sections_keys(model_file):
    torch.manual_seed(0)
    model = build_model("python", (2, 4), 3, factory=f"{model_file}:make", width=5, depth=2)
    torch.manual_seed(0)  # oracle: the same layers built by hand from the same seed
    want = nn.Sequential(nn.Flatten(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 3))
    assert [tuple(p.shape) for p in model.parameters()] == [tuple(p.shape) for p in want.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), want.parameters()))


def test_a_token_id_model_is_checked_on_the_data_sets_own_rows(model_file):
    """A model whose first layer is nn.Embedding takes integer token ids: the build-time forward
    check feeds the data set's first training rows (int64), not float zeros (which Embedding
    refuses, as the check without the data shows)."""
    from nnopt.nn.models import check_output
    from nnopt.train import build

    setup = build(Recipe({"data": {"name": "wordnet_topics", "per_class": 10},
                          "model": {"name": "python", "factory": f"{model_file}:embed"}}))
    x = setup.data.train.x[:2]
    assert not x.is_floating_point() and setup.model.embedding.num_embeddings == len(setup.data.vocabulary)
    assert setup.model(x).shape == (2, setup.data.n_classes)
    with pytest.raises(ConfigError, match=r"forward on inputs of shape \(2, \d+\) raised RuntimeError"):
        check_output(setup.model, setup.data.input_shape, setup.data.n_classes, "model.factory")


def test_a_module_path_works_from_the_working_directory(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg_models_a"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(MODEL_FILE)
    monkeypatch.chdir(tmp_path)
    model = build_model("python", (4,), 2, factory="userpkg_models_a.nets:make")
    assert model(torch.zeros(3, 4)).shape == (3, 2)


def test_factory_keyword_arguments_are_recipe_fields(model_file):
    recipe = Recipe({"model": {"name": "python", "factory": f"{model_file}:make", "width": 7}})
    assert recipe.model == {"name": "python", "factory": f"{model_file}:make", "width": 7, "depth": 1,
                            "act": "relu"}
    with pytest.raises(ConfigError, match=r"model.widht is not a known field of models 'python' "
                                          r"\(allowed: name, factory, width, depth, act\) — did you mean 'width'\?"):
        Recipe({"model": {"name": "python", "factory": f"{model_file}:make", "widht": 7}})
    with pytest.raises(ConfigError, match=r"model.width = 'wide' — must be an integer"):
        Recipe({"model": {"name": "python", "factory": f"{model_file}:make", "width": "wide"}})
    # an argument with no default and no annotation takes the kind of the value given
    given = Recipe({"model": {"name": "python", "factory": f"{model_file}:needs_width", "width": 9}})
    assert given.model["width"] == 9
    with pytest.raises(ConfigError, match="model.width is required"):
        Recipe({"model": {"name": "python", "factory": f"{model_file}:needs_width"}})
    with pytest.raises(ConfigError, match="model.factory is required"):
        Recipe({"model": {"name": "python"}})


def test_tune_space_over_the_factorys_own_arguments(model_file):
    from nnopt.tune.space import parse_space

    base = Recipe({"model": {"name": "python", "factory": f"{model_file}:make"}})
    space = parse_space('[model]\nwidth = { low = 4, high = 32, log = true }\nact = ["relu", "tanh"]\n', base)
    recipe = space.recipe({"model.width": 12, "model.act": "tanh"})
    assert (recipe.model["width"], recipe.model["act"]) == (12, "tanh")
    with pytest.raises(ConfigError, match="did you mean 'depth'"):
        parse_space("[model]\ndepht = [1, 2]\n", base)


@pytest.mark.parametrize("function, match", [
    ("raises", r"^model.factory = '.*:raises' — raises\(input_shape=\(4,\), n_outputs=3\) raised RuntimeError: boom$"),
    ("returns_none", r"returns_none returned NoneType, not a torch.nn.Module$"),
    ("wrong_width", r"maps inputs of shape \(2, 4\) to \(2, 4\); expected \(2, 3\)"),
    ("bad_forward", r"the model's forward on inputs of shape \(2, 4\) raised RuntimeError: mat1 and mat2"),
    ("no_shape", r"no_shape must take the keyword arguments input_shape and n_outputs"),
    ("mkae", r"has no 'mkae' — did you mean 'make'\?"),
    ("not_callable", r"not_callable is a int, not a function or class"),
])
def test_a_failing_factory_is_one_line_naming_it(model_file, function, match):
    with pytest.raises(ConfigError, match=match) as info:
        Recipe({"model": {"name": "python", "factory": f"{model_file}:{function}"}})
        build_model("python", (4,), 3, factory=f"{model_file}:{function}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("factory, match", [
    ("nowhere/missing.py:make", r"no such file"),
    ("no_such_module_xyz:make", r"no module named 'no_such_module_xyz'"),
    ("make", r"must be 'pkg.module:function' or 'path/to/file.py:function'"),
])
def test_a_factory_that_cannot_be_found(factory, match):
    with pytest.raises(ConfigError, match=match):
        Recipe({"model": {"name": "python", "factory": factory}})


def test_regularization_dropout_reaches_a_factory_that_takes_it(model_file):
    model = build_model("python", (4,), 2, dropout=0.3, factory=f"{model_file}:with_dropout")
    assert model[1].p == 0.3
    with pytest.raises(ConfigError, match=r"regularization.dropout = 0.3 — .* takes no dropout argument"):
        build_model("python", (4,), 2, dropout=0.3, factory=f"{model_file}:make")


def test_a_module_that_fails_to_import_names_its_line(tmp_path):
    bad = tmp_path / "bad_import.py"
    bad.write_text("x = 1\nraise ValueError('nope')\n")
    with pytest.raises(ConfigError, match=r"importing it raised ValueError: nope \(line 2 of .*bad_import.py\)"):
        import_target(str(bad), "--import")
    syntax = tmp_path / "bad_syntax.py"
    syntax.write_text("def f(:\n")
    with pytest.raises(ConfigError, match=r"importing it raised SyntaxError: .*\(line 1 of .*bad_syntax.py\)"):
        import_target(str(syntax), "--import")


PLUGIN = '''
import numpy as np, torch
from nnopt.data import Dataset, Split
from nnopt.registry import DATASETS

@DATASETS.register("{name}")
def tiny(n: int = 60):
    """a user's data set"""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = (x[:, 0] > 0).long()
    s = [Split(x[i::3], y[i::3]) for i in range(3)]
    return Dataset("{name}", *s, n_classes=2, classes=["neg", "pos"])
'''


def test_import_registers_once_and_passes_to_child_processes(tmp_path, clean_registries):
    from nnopt.registry import DATASETS

    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN.format(name="user_tiny_a"))
    use_imports([str(plugin)])
    use_imports([str(plugin)])  # a second import of the same file registers nothing twice
    load_imports()
    assert "user_tiny_a" in DATASETS
    assert os.environ[IMPORT_ENV] == str(plugin.resolve())
    child = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from nnopt.user_code import load_imports
        from nnopt.registry import DATASETS
        load_imports()
        print("user_tiny_a" in DATASETS)""")], capture_output=True, text=True, cwd="/", env=os.environ.copy())
    assert child.stdout.strip() == "True", child.stderr


def test_cli_import_runs_a_users_data_set_and_bad_targets_exit_2(tmp_path, clean_registries, capsys):
    from nnopt.cli import main

    plugin = tmp_path / "plugin_b.py"
    plugin.write_text(PLUGIN.format(name="user_tiny_b"))
    out = tmp_path / "run"
    assert main(["run", "--import", str(plugin), "--set", "data.name=user_tiny_b", "--set", "model.widths=[8]",
                 "--set", "train.epochs=1", "--set", "train.threads=1", "--quiet", "--out", str(out)]) == 0
    assert (out / "summary.json").exists()
    capsys.readouterr()
    assert main(["run", "--import", str(tmp_path / "nope.py"), "--out", str(tmp_path / "r2")]) == 2
    assert "error: --import = " in capsys.readouterr().err and not (tmp_path / "r2").exists()
