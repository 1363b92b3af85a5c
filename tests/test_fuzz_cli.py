"""In-process fuzz of the command line: argument lists, recipe files and space files go through
``nnopt.cli.main(argv)``. Whatever comes in, the exit code is 0 or a documented one (2 bad input,
3 diverged, 130 interrupted), stderr holds no traceback, and exit 2 leaves nothing written.

The work behind a valid command (training, a study, the propagation pass, drawing) is replaced by
stubs that write what the real one writes first, so thousands of cases run in seconds; everything
up to that point — parsing, recipe and space validation, size, seed and path checks — is real.
"""
import contextlib
import functools
import io
import json
import os
import string
import tempfile
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from matplotlib.figure import Figure

import nnopt.cli
import nnopt.compare
import nnopt.diagnose.propagation
import nnopt.diagnose.report
import nnopt.lab.base
import nnopt.train
import nnopt.tune.study
from nnopt.cli import main
from nnopt.diagnose.propagation import LayerStats, Propagation
from nnopt.recipe import SECTIONS, Component, toml_value
from nnopt.registry import SCHEDULES

DOCUMENTED = {0, 2, 3, 130}
COUNTS: Counter = Counter()
EXAMPLES = int(os.environ.get("NNOPT_FUZZ_EXAMPLES", "1000"))  # argument lists; files get 40% of it


# -- stubs for the work behind a valid command -------------------------------------------------
class FakeTrainer:
    """Writes what a run writes first (the directory, recipe.toml, a metrics line), trains nothing."""

    def __init__(self, setup, run_dir, quiet=False, **_):
        self.recipe, self.run_dir = setup, Path(run_dir)

    def fit(self, resume=False):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.recipe.save(self.run_dir / "recipe.toml")
        (self.run_dir / "metrics.jsonl").write_text(json.dumps({"kind": "epoch", "val_acc": 0.5}) + "\n")
        return dict(status="completed", monitor="val_acc", epochs=1, steps=1, final_val_acc=0.5, best_val_acc=0.5,
                    best_epoch=1, test_acc=0.5, test_loss=1.0, time_s=0.0, samples_per_s=1.0)


MEASURED = Propagation("stub", [LayerStats(0, "0", 0.0, 1.0, 1.0, 1.0), LayerStats(1, "1", 0.0, 1.0, 1.0, 1.0)])


def fake_tune(recipe, space, out=None, study="s", **_):
    Path(out or Path("runs") / f"tune-{study}").mkdir(parents=True, exist_ok=True)
    return {"table": "trials"}


REAL_BUILD, BUILDS = nnopt.train.build, {"real": False}


def fake_build(recipe):
    """The recipe itself, for FakeTrainer; the real setup where a command rebuilds a finished run
    (landscape: its model.pt is then loaded into the model)."""
    return REAL_BUILD(recipe) if BUILDS["real"] else recipe


def fake_experiment(name, out, seeds=3, fast=False, on=None):
    """What run_experiment writes (finding.json in its folder), without the experiment."""
    record = {"experiment": name, "claim": "c.", "verdict": "HOLDS", "criterion": "k", "measured": "m",
              "table": {"headers": ["a"], "rows": [[1]]}, "time_s": 0.0, "seeds": list(range(seeds)), "fast": fast}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "finding.json").write_text(json.dumps(record))
    return record


def fake_file(*args, **_):
    path = Path(next(a for a in args if isinstance(a, (str, Path))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"figure")
    return path


@pytest.fixture(scope="module")
def stubs():
    with contextlib.ExitStack() as stack:
        for target, name, value in [
            (nnopt.train, "Trainer", FakeTrainer), (nnopt.train, "build", fake_build),
            (nnopt.compare, "Trainer", FakeTrainer), (nnopt.compare, "build", lambda recipe: recipe),
            (nnopt.compare, "plot_curves", lambda curves, path, **_: fake_file(path)),
            (nnopt.tune.study, "tune", fake_tune),
            (nnopt.lab.base, "run_experiment", fake_experiment),
            (nnopt.diagnose.propagation, "sweep", lambda *a, **k: [MEASURED]),
            (nnopt.diagnose.propagation, "from_recipe", lambda *a, **k: MEASURED),
            (nnopt.diagnose.report, "render", lambda results, path, title="": fake_file(path)),
            (Figure, "savefig", lambda self, path, **_: fake_file(path)),
            (nnopt.cli, "build_parser", functools.lru_cache(nnopt.cli.build_parser)),  # argparse is reusable
        ]:
            stack.enter_context(mock.patch.object(target, name, value))
        yield


# -- what the user types -----------------------------------------------------------------------
def fields() -> list[str]:
    """Every dotted field a recipe has, over all registered entries of each section."""
    out = []
    for section, spec in SECTIONS.items():
        if isinstance(spec, Component):
            keys = {"name", *(spec.extra or {})} | {k for e in spec.registry for k in e.params}
        else:
            nested = spec["early_stopping"].fields if "early_stopping" in spec else {}
            keys = set(spec) | {f"early_stopping.{k}" for k in nested}
        out += [f"{section}.{k}" for k in sorted(keys)]
    return out


FIELDS = fields()
NASTY = ["", " ", "-1", "0", "1", "2", "1e9", "1000000000", "4294967296", "1e20", "inf", "-inf", "nan", "1e999",
         "0.5", "1.5", "true", "none", "[]", "[1, 2]", '["adam"]', "[nan]", "{a=1}", "[" * 50 + "]" * 50,
         "adam", "sgd", "cosine", "mnist", "digits", "x.txt", "out.png", "/dev/null", "\udcff", "é", "a=b",
         "[[1]]", '"quoted"', "0x10", "1_000"]
NAMES = SCHEDULES.names() + ["halving", "cosin", "", "1"]
value = st.one_of(st.sampled_from(NASTY), st.text(string.printable, max_size=12),
                  st.integers(-2**70, 2**70).map(str), st.floats(allow_nan=True).map(repr))
assignment = st.builds(lambda k, v: f"{k}={v}", st.one_of(st.sampled_from(FIELDS), st.sampled_from(NASTY)), value)
out_path = st.sampled_from(["out", "out/sub", "/dev/null", "", "runs", "file.txt", "out.png"])


def options(*pairs):
    """A list of [option, value] pairs drawn from `pairs` (option, value strategy)."""
    return st.lists(st.sampled_from(pairs).flatmap(lambda p: p[1].map(lambda v, o=p[0]: [o, v])),
                    max_size=6).map(lambda items: [x for item in items for x in item])


DOCTOR_INPUTS = ["doctorrun", "nanrun", "brokenrun", "lab", "nope", "", "file.txt", "/dev/null"]
REPORT_INPUTS = ["lab", "lab/good", "lab/null", "lab/deep", "lab/escape", "study", "nope", "", "file.txt"]
COMMON = [("--set", assignment), ("--set", assignment), ("--out", out_path), ("--quiet", st.just(None))]
ARGV = st.one_of(
    st.tuples(st.just(["run"]), options(*COMMON, ("--resume", out_path))),
    st.tuples(st.just(["compare"]), options(*COMMON, ("--vary", assignment), ("--vary", assignment),
                                            ("--seeds", value))),
    st.tuples(st.just(["tune", "--space", "space.toml"]),
              options(*COMMON[:3], ("--seed", value), ("--heartbeat", value), ("--timeout", value),
                      ("--study", value), ("--trials", value), ("--workers", value),
                      ("--method", st.sampled_from(["grid", "random", "bayes", "hyperband", "asha", "x"])))),
    st.tuples(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda n: ["plot", "schedule", *n]),
              options(("--set", assignment), ("--set", value.map(lambda v: f"lr={v}")), ("--steps", value),
                      ("-o", out_path), ("--title", value))),
    st.tuples(st.just(["diagnose"]), options(("--depth", value), ("--width", value), ("--batch", value),
                                             ("--seed", value), ("-o", out_path), ("--set", assignment),
                                             ("--init", st.sampled_from(["he_normal", "normal:std=1", "x:y",
                                                                         "normal:std=-1", "orthogonal:gain=inf"])),
                                             ("--activation", st.sampled_from(["relu", "tanh", "nope"])))),
    st.tuples(st.just(["lab"]), st.tuples(st.sampled_from(["adagrad_rmsprop", "all", "list", "nope", "", "--fast"]),
                                          options(("--seeds", value), ("--out", out_path), ("--fast", st.just(None))))
              .map(lambda t: [t[0], *t[1]])),
    st.tuples(st.just(["report"]), st.tuples(st.lists(st.sampled_from(REPORT_INPUTS), min_size=1, max_size=3),
                                             options(("-o", st.sampled_from(["r.html", "lab/good/finding.json",
                                                                             "/dev/null/r.html", "", "lab", "out/r.html"])),
                                                     ("--markdown-table", st.just(None)), ("--title", value)))
              .map(lambda t: [*t[0], *t[1]])),
    st.tuples(st.just(["landscape"]), st.tuples(st.sampled_from(["brokenrun", "nope", "lab", "", "file.txt"]),
                                                options(("--points", value), ("--span", value), ("--samples", value),
                                                        ("--iters", value), ("--trace-samples", value),
                                                        ("--out", out_path)))
              .map(lambda t: [t[0], *t[1]])),
    st.tuples(st.just(["doctor"]), st.tuples(st.sampled_from(DOCTOR_INPUTS),
                                             options(("--json", st.just(None)), ("--verify", st.just(None))))
              .map(lambda t: [t[0], *t[1]])),
    st.tuples(st.lists(st.sampled_from(["list", "optimizers", "schedules", "layers", "adam", "cosine", "x",
                                        "--help", "run", "nope", "-h"]), min_size=1, max_size=3), st.just([])),
).map(lambda parts: [a for a in parts[0] + parts[1] if a is not None])


def run_cli(argv: list[str]) -> None:
    """main(argv) in a fresh empty directory; assert the promise; count the outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            Path("space.toml").write_text("[optimizer]\nlr = { low = 1e-4, high = 0.1, log = true }\n")
            Path("file.txt").write_text("keep")
            if argv[0] in ("report", "landscape", "doctor"):
                make_inputs(Path("."))
            BUILDS["real"] = argv[0] == "landscape"
            before = snapshot(Path("."))
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            assert code in DOCUMENTED | ({1} if argv[0] == "doctor" else set()), (argv, code, err.getvalue())
            text = err.getvalue()
            assert "Traceback" not in text, (argv, text)
            if code == 2:
                assert snapshot(Path(".")) == before, (argv, text)
                lines = [line for line in text.splitlines() if not line.startswith("warning: ")]  # report's skips
                assert len(lines) <= 1 or text.startswith("usage:"), (argv, text)
            COUNTS["exit 0" if code == 0 else f"exit {code} (clean error)" if code == 2 else f"exit {code}"] += 1
        finally:
            os.chdir(cwd)


def make_inputs(root: Path) -> None:
    """Directories for report, landscape and doctor: a good finding, bad ones (null, 20k deep, a figure
    outside its folder), a tune study with a bad row, a 'run' whose model.pt is garbage, runs with
    records only (one whose losses are NaN)."""
    good = fake_experiment("good", root / "lab" / "good")
    for name, text in [("null", "null"), ("deep", "[" * 20000 + "]" * 20000),
                       ("escape", json.dumps({**good, "figures": ["../../file.txt"], "recipes": ["/etc/hostname"]}))]:
        (root / "lab" / name).mkdir(parents=True)
        (root / "lab" / name / "finding.json").write_text(text)
    (root / "study").mkdir()
    (root / "study" / "trials.csv").write_text("number,state,value\n0,COMPLETE,abc\n1,COMPLETE\n")
    for name, loss in [("doctorrun", 0.5), ("nanrun", float("nan"))]:  # the doctor's runs: records only
        (root / name).mkdir()
        (root / name / "recipe.toml").write_text('[data]\nname = "moons"\n[model]\nname = "mlp"\n[train]\nepochs = 2\n')
        (root / name / "metrics.jsonl").write_text("".join(
            json.dumps({"kind": "epoch", "epoch": e, "step": 4 * e, "train_loss": loss / e, "val_loss": 0.6,
                        "train_acc": 0.6, "val_acc": 0.6}) + "\n" for e in (1, 2)))
    (root / "brokenrun").mkdir()
    (root / "brokenrun" / "recipe.toml").write_text("")
    (root / "brokenrun" / "model.pt").write_bytes(b"\x00garbage")


def snapshot(root: Path) -> dict:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()} | \
        {str(p): "dir" for p in root.rglob("*") if p.is_dir()}


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.slow  # ~5 s on an idle 2-core machine, 30 s under load
@fuzz(EXAMPLES)
@given(argv=ARGV)
def test_fuzz_argument_lists(stubs, argv):
    run_cli(argv)


# -- recipe and space files --------------------------------------------------------------------
key = st.one_of(st.sampled_from([f.split(".")[-1] for f in FIELDS] + ["low", "high", "log", "step", "choices",
                                                                        "depth", "width", "when", "value"]),
                st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True))
scalar = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.booleans(),
                   st.sampled_from(NASTY + NAMES), st.text(max_size=8))
toml_data = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(key, inner, max_size=4)), max_leaves=12)


def inline(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {inline(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(inline(x) for x in v) + "]"
    return toml_value(v)


sections = st.dictionaries(st.one_of(st.sampled_from(list(SECTIONS)), key), st.dictionaries(key, toml_data, max_size=5),
                           max_size=4)
FILE = st.one_of(
    sections.map(lambda raw: "\n".join(f"[{s}]\n" + "\n".join(f"{k} = {inline(v)}" for k, v in t.items())
                                       for s, t in raw.items()).encode("utf-8", "surrogatepass")),
    st.binary(max_size=64),
    st.sampled_from([b"a = " + b"[" * 5000 + b"]" * 5000, b"\xff\xfe[train]", b"epochs = 1", b"[train]\nepochs = 1e9"]),
)


@pytest.mark.slow
@fuzz(EXAMPLES * 2 // 5)
@given(text=FILE, command=st.sampled_from(["run", "tune", "diagnose", "compare"]))
def test_fuzz_recipe_and_space_files(stubs, text, command):
    with tempfile.TemporaryDirectory() as files:
        path = Path(files) / "input.toml"
        path.write_bytes(text)
        argv = {"run": ["run", str(path), "--out", "out"], "compare": ["compare", str(path), "--out", "out"],
                "diagnose": ["diagnose", str(path)],
                "tune": ["tune", "--space", str(path), "--trials", "1", "--out", "out"]}[command]
        run_cli(argv)


def test_zz_fuzz_counts(capsys):
    """Prints the outcomes of the fuzz tests above (run with -s to see them)."""
    with capsys.disabled():
        total = sum(COUNTS.values())
        print(f"\nfuzz: {total} cases — " + ", ".join(f"{k}: {n}" for k, n in sorted(COUNTS.items())))
