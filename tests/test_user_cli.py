"""Your own data and model through the command line: bad input is one line on stderr, exit 2, and
no run directory; good input trains."""
import json

import numpy as np
import pytest

from nnopt.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = ["--set", "train.epochs=1", "--set", "train.threads=1", "--quiet"]
MODEL = '''
import math
from torch import nn

def make(input_shape, n_outputs, width: int = 8):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.ReLU(),
                         nn.Linear(width, n_outputs))

def raises(input_shape, n_outputs):
    raise ValueError("my bug")

def returns_none(input_shape, n_outputs):
    pass

def wrong_width(input_shape, n_outputs):
    return nn.Linear(math.prod(input_shape), 7)
'''


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(45, 2)).round(3)
    label = np.where(x[:, 0] > 0, "pos", "neg")
    (tmp_path / "ok.csv").write_text("a,b,label\n" + "".join(f"{r[0]},{r[1]},{lab}\n" for r, lab in zip(x, label)))
    (tmp_path / "missing.csv").write_text("a,b,label\n1,2,pos\n3,,neg\n")
    (tmp_path / "text.csv").write_text("a,b,label\n1,2,pos\n3,four,neg\n")
    (tmp_path / "one.csv").write_text("a,b,label\n1,2,pos\n3,4,pos\n5,6,pos\n")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "img" / "a").mkdir(parents=True)
    (tmp_path / "img" / "b").mkdir()
    (tmp_path / "img" / "b" / "x.png").write_bytes(b"\x89PNG broken")
    return tmp_path


def csv_args(d, name="ok.csv"):
    return ["--set", "data.name=csv", "--set", f"data.path={d / name}", "--set", "data.target=label"]


def model_args(d, fn="make"):
    return ["--set", "model.name=python", "--set", f"model.factory={d / 'model.py'}:{fn}"]


@pytest.mark.parametrize("case, args, message", [
    ("missing", lambda d: csv_args(d, "missing.csv"), "column 'b' has a missing value at line 3"),
    ("text", lambda d: csv_args(d, "text.csv"), "feature column 'b' is not numeric ('four' at line 3)"),
    ("one class", lambda d: csv_args(d, "one.csv"), "holds a single class ('pos' in all 3 samples)"),
    ("target", lambda d: csv_args(d) + ["--set", "data.target=lable"], "did you mean 'label'?"),
    ("raises", lambda d: csv_args(d) + model_args(d, "raises"), "raises(input_shape=(2,), n_outputs=2) raised "
                                                               "ValueError: my bug"),
    ("no module", lambda d: csv_args(d) + model_args(d, "returns_none"), "returned NoneType, not a torch.nn.Module"),
    ("shape", lambda d: csv_args(d) + model_args(d, "wrong_width"), "to (2, 7); expected (2, 2)"),
    ("image", lambda d: ["--set", "data.name=image_folder", "--set", f"data.path={d / 'img'}"],
     "holds no PNG/JPG/JPEG files"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(files, capsys, case, args, message):
    out = files / "run"
    assert main(["run", *args(files), "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    assert not out.exists()


def test_unreadable_image_is_named(files, capsys):
    (files / "img" / "a" / "ok.png").write_bytes((files / "img" / "b" / "x.png").read_bytes())
    assert main(["run", "--set", "data.name=image_folder", "--set", f"data.path={files / 'img'}",
                 "--out", str(files / "run"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "img/a/ok.png cannot be read" in err and not (files / "run").exists()


def test_a_csv_and_a_model_file_train(files):
    out = files / "run"
    assert main(["run", *csv_args(files), *model_args(files), "--set", "model.width=4", "--out", str(out),
                 *FAST]) == 0
    recipe = (out / "recipe.toml").read_text()
    assert 'factory = "' in recipe and "width = 4" in recipe
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"


def test_memory_mapped_arrays_train_with_and_without_a_preprocessor(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", (x[:, 0] > 0).astype(np.int64))
    for i, pre in enumerate(("none", "standardize")):
        out = tmp_path / f"run{i}"
        assert main(["run", "--set", "data.name=npz", "--set", f"data.path={tmp_path}", "--set",
                     f"preprocess.name={pre}", "--set", "model.widths=[4]", "--out", str(out), *FAST]) == 0
        assert json.loads((out / "summary.json").read_text())["status"] == "completed"


def test_commands_that_read_a_run_do_not_import_its_factory(files, capsys):
    """doctor and report read the run directory: a model file moved or deleted since is no error."""
    out = files / "run"
    assert main(["run", *csv_args(files), *model_args(files), "--out", str(out), *FAST]) == 0
    (files / "model.py").unlink()
    assert main(["doctor", str(out)]) == 0
    assert main(["report", str(out), "-o", str(files / "report.html")]) == 0
    capsys.readouterr()
    assert main(["landscape", str(out), "--samples", "8", "--iters", "2", "--trace-samples", "1", "--points", "3",
                 "--out", str(files / "ls")]) == 2  # it rebuilds the model: the file is needed
    err = capsys.readouterr().err
    assert "model.factory = " in err and "no such file" in err
