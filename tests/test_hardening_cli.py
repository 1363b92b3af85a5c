"""CLI edge cases and sizes that would hang or exhaust memory: each a clean error (exit 2) before
any work, or bounded work."""

import os
from pathlib import Path

import pytest

from nnopt.cli import build_parser, main
from nnopt.nn.checks import memory_bytes

from test_hardening_input import refused

SPACE = "[optimizer]\nlr = { low = 1e-3, high = 1e-1, log = true }\n"


# -- compare -----------------------------------------------------------------------------------
def test_the_same_key_varied_twice_is_refused(tmp_path, capsys):
    out = tmp_path / "cmp"
    refused(["compare", "--vary", "optimizer.lr=0.1,0.2", "--vary", "optimizer.lr=0.3", "--out", str(out)],
            capsys, "--vary optimizer.lr is given twice", out=out)


def test_a_value_varied_twice_is_refused(tmp_path, capsys):
    out = tmp_path / "cmp"
    refused(["compare", "--vary", "model.widths=[64],[32],[64]", "--out", str(out)], capsys,
            "--vary model.widths lists [64] twice", out=out)


@pytest.mark.parametrize("argv, words", [
    (["--seeds", "1000000000"], ["1000000000 runs", "at most 1000"]),
    (["--vary", "train.seed=" + ",".join(map(str, range(40))), "--vary", "optimizer.lr=" +
      ",".join(f"{i + 1}e-3" for i in range(30))], ["1200 runs"]),
    (["--seeds", "0"], ["--seeds = 0"]),
])
def test_a_grid_too_large_to_run_is_refused_at_once(tmp_path, capsys, argv, words):
    out = tmp_path / "cmp"
    refused(["compare", *argv, "--out", str(out)], capsys, *words, out=out)


# -- tune --------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--seed", "-1"], ["--seed = -1", "4294967295"]),
    (["--seed", str(2**40)], ["--seed = 1099511627776"]),
    (["--heartbeat", "-1"], ["--heartbeat = -1.0", "> 0"]),
    (["--heartbeat", "inf"], ["--heartbeat = inf"]),
    (["--timeout", "0"], ["--timeout = 0.0"]),
    (["--study", ""], ["--study = ''", "must not be empty"]),
    (["--study", "  "], ["--study = '  '"]),
    (["--out", ""], ["--out = ''"]),
])
def test_tune_options_no_study_can_use_are_refused(tmp_path, capsys, monkeypatch, argv, words):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    monkeypatch.chdir(tmp_path)
    refused(["tune", "--space", str(space), "--method", "random", "--trials", "1", *argv], capsys, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.toml"]


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b"\x80\x81[optimizer]"), ["not UTF-8 text"]),
    (lambda p: p.mkdir(), ["is a directory"]),
    (lambda p: p.write_text("[optimizer]\nlr = " + "[" * 3000 + "]" * 3000), ["too deeply"]),
    (lambda p: None, ["does not exist"]),
    (lambda p: p.write_text('[optimizer]\nname = [["adam"]]\n'), ["optimizer.name"]),
])
def test_a_space_that_is_not_a_toml_file_is_refused(tmp_path, capsys, make, words):
    space = tmp_path / "space.toml"
    make(space)
    out = tmp_path / "study"
    refused(["tune", "--space", str(space), "--trials", "1", "--out", str(out)], capsys, *words, out=out)


# -- plot --------------------------------------------------------------------------------------
@pytest.mark.parametrize("target, words", [("x.txt", ["must end in a figure format", ".png"]),
                                           ("noext", ["figure format"]),
                                           ("adir.png", ["is not a file"])])
def test_plot_refuses_what_matplotlib_cannot_write(tmp_path, capsys, target, words):
    (tmp_path / "adir.png").mkdir()
    refused(["plot", "schedule", "cosine", "-o", str(tmp_path / target)], capsys, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.png"]


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_plot_draws_a_billion_steps_from_a_bounded_number_of_points(tmp_path, capsys, monkeypatch):
    from nnopt.plot import schedule

    seen = []
    monkeypatch.setattr(schedule.plt.Axes, "plot", lambda self, ts, *a, **k: seen.append(list(ts)))
    assert main(["plot", "schedule", "cosine", "step", "--steps", "1000000000", "-o",
                 str(tmp_path / "s.png")]) == 0
    ts = seen[0]
    assert len(ts) == schedule.MAX_POINTS and ts[0] == 0 and ts[-1] == 10**9 - 1 and ts == sorted(set(ts))


@pytest.mark.parametrize("argv, words", [
    (["cosine", "--set", "lr=1e999"], ["schedule.lr = inf", "finite"]),
    (["exponential", "--set", "rate=10", "--steps", "100000"], ["value at t = 100000"]),
    (["cosine", "--steps", "0"], ["--steps = 0"]),
])
def test_plot_refuses_values_it_cannot_draw(tmp_path, capsys, argv, words):
    out = tmp_path / "s.png"
    refused(["plot", "schedule", *argv, "-o", str(out)], capsys, *words, out=out)


# -- diagnose ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--batch", "-1"], ["--batch = -1", ">= 1"]),
    (["--batch", "0"], ["--batch = 0"]),
    (["--depth", "0"], ["--depth = 0"]),
    (["--width", "-5"], ["--width = -5"]),
    (["--seed", "-1"], ["--seed = -1"]),
    (["--width", "1000000000"], ["--width 1000000000", "GiB of memory", "smaller"]),
    (["--depth", "1001"], ["--depth = 1001", "<= 1000"]),
    (["--depth", "1000", "--width", "20000"], ["GiB of memory"]),
    (["-o", "x.txt"], ["figure format"]),
])
def test_diagnose_refuses_sizes_it_cannot_measure(capsys, argv, words):
    refused(["diagnose", *argv], capsys, *words)


def test_a_model_too_large_for_memory_is_refused_with_its_estimate(tmp_path, capsys):
    out = tmp_path / "run"
    err = refused(["run", "--set", "model.widths=[1000000000]", "--out", str(out)], capsys,
                  "model.name = 'mlp' with 75,000,000,010 parameters", "GiB of memory", out=out)
    assert f"{memory_bytes() / 2**30:.3g} GiB" in err


# -- run ---------------------------------------------------------------------------------------
def test_resume_with_an_empty_or_foreign_directory_is_refused(tmp_path, capsys):
    refused(["run", "--resume", ""], capsys, "--resume")
    refused(["run", "--resume", str(tmp_path)], capsys, "--resume")


def test_help_names_the_real_default_directories():
    parser = build_parser()
    actions = {name: sub for action in parser._subparsers._group_actions
               for name, sub in action.choices.items()}
    for command in ("run", "compare"):
        text = actions[command].format_help()
        assert f"runs/<recipe>-{command}-<time>" in " ".join(text.split())


def test_a_billion_epochs_build_without_work_per_epoch(small_recipe):
    import time

    from nnopt.train import build

    start = time.process_time()
    setup = build(small_recipe.override(["train.epochs=1000000000", "train.batch_milestones=[2, 5]",
                                         "train.batch_growth=2", "schedule.name=cosine"]))
    assert time.process_time() - start < 5
    assert setup.batches.sizes(10**9) == [64, 128, 256]
    n = len(setup.data.train)
    assert setup.schedule(0) == 1e-3 and setup.schedule(setup.batches.steps_before(10**9, n)) == 0.0


# -- where a command writes: every --out / -o / --storage it cannot create is one line, exit 2 ----
def _commands(tmp_path):
    """Each writing command with the output under test as "{}", its inputs valid enough to reach it."""
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    lab = tmp_path / "f"
    lab.mkdir()
    (lab / "finding.json").write_text("{}")
    (tmp_path / "recipe.toml").write_text("")  # a "finished run" for landscape: the output is checked first
    (tmp_path / "model.pt").write_bytes(b"")
    tune = ["tune", "--space", str(space), "--trials", "1"]
    return {"run": ["run", "--out", "{}"], "compare": ["compare", "--out", "{}"],
            "lab": ["lab", "adagrad_rmsprop", "--fast", "--out", "{}"], "report": ["report", str(lab), "-o", "{}"],
            "landscape": ["landscape", str(tmp_path), "--out", "{}"], "tune --out": [*tune, "--out", "{}"],
            "tune --storage": [*tune, "--storage", "{}.log"], "sqlite": [*tune, "--storage", "sqlite:///{}.db"]}


COMMANDS = ["run", "compare", "lab", "report", "landscape", "tune --out", "tune --storage", "sqlite"]


@pytest.mark.parametrize("target", ["/dev/null/sub", "/proc/nnopt-x", "a-file/sub", "", " ", "a-file"])
@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, capsys, monkeypatch, command, target):
    monkeypatch.chdir(tmp_path)
    if (command in ("tune --storage", "sqlite") and not target.strip()) or \
            (target == "a-file" and command in ("report", "tune --storage", "sqlite")):
        pytest.skip("a valid file name for this option")
    (tmp_path / "a-file").write_text("keep me")
    argv = [a.replace("{}", target) for a in _commands(tmp_path)[command]]
    before = sorted(p.name for p in tmp_path.iterdir())
    err = refused(argv, capsys, f"{argv[-2]} = ")
    assert err.count("\n") == 1 and "must" in err
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_tunes_default_study_directory_is_checked_like_out(tmp_path, capsys, monkeypatch):
    """No --out: the study goes to runs/tune-<study>; a file called runs is one line before any trial."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.toml").write_text(SPACE)
    (tmp_path / "runs").write_text("keep me")
    refused(["tune", "--space", "space.toml", "--trials", "1", "--study", "s"], capsys,
            "--out = 'runs/tune-s'", "is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "space.toml"]
    assert (tmp_path / "runs").read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_directory_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(["run", "--out", str(ro / "x")], capsys, "must be somewhere writable", "Permission denied")
    finally:
        ro.chmod(0o755)


# -- lab ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--seeds", "1000000000000"], ["--seeds = 1000000000000", "[3, 100]"]),
    (["--seeds", "2"], ["--seeds = 2"]),
    (["--out", ""], ["--out = ''", "must not be empty"]),
    (["--out", " "], ["--out = ' '", "must not be empty"]),
])
def test_lab_options_are_checked_before_anything_runs(tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    refused(["lab", "adagrad_rmsprop", "--fast", *argv], capsys, *words)
    assert list(tmp_path.iterdir()) == []


# -- landscape ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from nnopt.lab import lab_recipe
    from nnopt.train import train

    path = tmp_path_factory.mktemp("land") / "run"
    train(lab_recipe({"data": {"n_train": 60}, "model": {"widths": [4]}, "train": {"epochs": 1}}), path, quiet=True)
    return path


@pytest.mark.parametrize("argv, words", [
    (["--points", "1"], ["--points = 1", "[2, 201]"]), (["--points", "100000"], ["--points = 100000"]),
    (["--span", "nan"], ["--span = nan", "finite"]), (["--span", "inf"], ["--span = inf"]),
    (["--span", "0"], ["--span = 0.0"]), (["--iters", "0"], ["--iters = 0"]),
    (["--trace-samples", "10000000"], ["--trace-samples = 10000000"]), (["--samples", "0"], ["--samples = 0"]),
])
def test_landscape_options_are_refused_before_any_folder(finished_run, tmp_path, capsys, argv, words):
    out = tmp_path / "land"
    refused(["landscape", str(finished_run), "--out", str(out), *argv], capsys, *words, out=out)
    assert not (finished_run / "landscape").exists()


@pytest.mark.parametrize("damage, words", [
    (lambda p: p.write_bytes(b""), ["model.pt"]),
    (lambda p: p.write_bytes(p.read_bytes()[:100]), ["model.pt"]),
    (lambda p: p.write_bytes(b"\x00\xff" * 50), ["model.pt"]),
    (lambda p: __import__("torch").save({"w": __import__("torch").zeros(3)}, p), ["model.pt", "does not fit"]),
])
def test_a_damaged_model_is_one_line_and_leaves_no_folder(finished_run, tmp_path, capsys, damage, words):
    import shutil

    run = shutil.copytree(finished_run, tmp_path / "run")
    damage(run / "model.pt")
    refused(["landscape", str(run)], capsys, *words)
    assert not (run / "landscape").exists()


def test_landscape_on_a_missing_directory_says_so(tmp_path, capsys):
    refused(["landscape", str(tmp_path / "nope")], capsys, "no such directory")


def test_a_failed_landscape_removes_the_folder_it_made(finished_run, tmp_path, capsys, monkeypatch):
    from nnopt.landscape import command

    def fail(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(command, "write_landscape", fail)
    with pytest.raises(RuntimeError):
        main(["landscape", str(finished_run), "--out", str(tmp_path / "land")])
    assert not (tmp_path / "land").exists()


def test_landscape_json_holds_no_nan_literals():
    from nnopt.landscape.command import finite

    assert finite({"a": [1.0, float("nan"), float("inf")], "b": {"c": -float("inf")}, "d": "x"}) == \
        {"a": [1.0, None, None], "b": {"c": None}, "d": "x"}


# -- tune --------------------------------------------------------------------------------------
@pytest.mark.parametrize("space, words", [
    ("[train]\nbatch_size = { low = 1, high = 1e12 }\n", ["more than 100,000 configurations", "train.batch_size"]),
    ("[model]\nwidths = { depth = { low = 1, high = 40 }, width = [8, 16, 32] }\n",
     ["more than 100,000 configurations", "model.widths"]),
    ("[train]\nbatch_size = { low = 1, high = 400 }\nseed = { low = 0, high = 400 }\n",
     ["more than 100,000 configurations"]),
])
def test_a_huge_grid_is_counted_and_refused_before_it_is_built(tmp_path, capsys, space, words):
    path = tmp_path / "space.toml"
    path.write_text(space)
    out = tmp_path / "study"
    refused(["tune", "--space", str(path), "--method", "grid", "--out", str(out)], capsys, *words, out=out)


def test_grid_count_is_the_grids_length():
    """Oracle: len(grid()) of small spaces, counted without building it."""
    from nnopt import Recipe
    from nnopt.tune.space import parse_space

    text = ("[optimizer]\nname = [\"sgd\", \"momentum\"]\nlr = { low = 0.1, high = 0.5, step = 0.1 }\n"
            "[model]\nwidths = { depth = { low = 1, high = 3 }, width = [8, 16] }\n"
            "[train]\nbatch_size = { low = 16, high = 64, step = 16 }\n")
    space = parse_space(text, Recipe())
    assert space.grid_bound() == len(space.grid()) == 2 * 5 * (2 + 4 + 8) * 4
    assert [k.count() for k in space.knobs if k.dist] == [len(k.grid()) for k in space.knobs if k.dist]


def test_workers_are_capped(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    refused(["tune", "--space", str(space), "--trials", "1", "--workers", "100000"], capsys,
            "--workers = 100000", "[1, 256]")


@pytest.mark.parametrize("digits", [400, 5000])
@pytest.mark.parametrize("where", ["space", "recipe", "vary"])
def test_integers_of_hundreds_of_digits_are_one_line(tmp_path, capsys, monkeypatch, digits, where):
    monkeypatch.chdir(tmp_path)
    big = "9" * digits
    if where == "space":
        (tmp_path / "space.toml").write_text(f"[train]\nbatch_size = {{ low = 1, high = {big} }}\n")
        argv = ["tune", "--space", "space.toml", "--trials", "1"]
    elif where == "recipe":
        (tmp_path / "r.toml").write_text(f"[train]\nbatch_size = {big}\n")
        argv = ["run", "r.toml"]
    else:
        argv = ["compare", "--vary", f"train.batch_size=1,{big}"]
    refused(argv, capsys)
    assert list(tmp_path.glob("runs")) == []


# -- compare --vary train.seed, list '' --------------------------------------------------------
def test_compare_varying_the_seed_runs_that_seed(tmp_path, capsys):
    from nnopt import Recipe

    out = tmp_path / "cmp"
    assert main(["compare", "--vary", "train.seed=3,10", "--seeds", "2", "--set", "data.n_train=60",
                 "--set", "model.widths=[4]", "--set", "train.epochs=1", "--out", str(out), "--quiet"]) == 0
    seeds = [Recipe.load(d / "recipe.toml").train["seed"] for d in sorted(out.iterdir()) if d.is_dir()]
    assert seeds == [3, 4, 10, 11]


def test_list_with_an_empty_family_names_the_families(capsys):
    err = refused(["list", "", "sgd"], capsys, "family")
    assert "datasets name" not in err and "optimizers" in err


def test_the_slice_title_overlaps_neither_the_plot_nor_the_colorbar_label(finished_run, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    assert main(["landscape", str(finished_run), "--out", str(tmp_path / "l"), "--samples", "50", "--points", "3",
                 "--iters", "3", "--trace-samples", "1"]) == 0
    fig = next(f for f in figures if f._suptitle is not None)
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    label = fig.axes[1].yaxis.label.get_window_extent(renderer)  # the colorbar's "log₁₀ loss"
    assert not title.overlaps(label) and not any(title.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes)


# -- what a terminal shows ---------------------------------------------------------------------
def _run_on(terminal: bool, out, capsys=None) -> str:
    """`nnopt run` of a tiny recipe with its stdout and stderr on a real pseudo-terminal (Python's
    pty module; isatty() is true there), or, `terminal` false, what it wrote to a stderr that is
    not a terminal (pytest's capture, in this process: one import of torch less than a pipe)."""
    import pty
    import subprocess
    import sys

    args = ["run", "--set", "data.n_train=200", "--set", "model.widths=[8]", "--set", "train.epochs=2",
            "--set", "train.batch_size=8", "--set", "train.threads=1", "--out", str(out)]
    if not terminal:
        assert main(args) == 0
        return capsys.readouterr().err
    argv = [sys.executable, "-m", "nnopt.cli", *args]
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_the_progress_bar_shows_on_a_real_terminal_and_not_in_a_pipe(tmp_path, capsys):
    shown = _run_on(True, tmp_path / "tty")
    assert "epoch 1/2:" in shown and "%|" in shown and "\r" in shown and ("step/s" in shown or "s/step" in shown)
    assert "epoch   2/2" in shown  # the epoch's line stays when its bar is gone
    piped = _run_on(False, tmp_path / "pipe", capsys)
    assert "%|" not in piped and "\r" not in piped and "epoch   2/2" in piped


@pytest.mark.slow
def test_the_readmes_lab_then_report_sequence_works_as_written(tmp_path, capsys, monkeypatch):
    """README: `nnopt lab adagrad_rmsprop` then `nnopt report lab -o report.html` (at --fast)."""
    import re

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    lab_line = re.search(r"^nnopt lab (adagrad_rmsprop)\b", readme, re.M)
    report_line = re.search(r"^nnopt report (\S+) -o (\S+)", readme, re.M)
    assert lab_line and report_line
    monkeypatch.chdir(tmp_path)
    assert main(["lab", lab_line.group(1), "--fast"]) == 0
    assert main(["report", report_line.group(1), "-o", report_line.group(2)]) == 0
    page = (tmp_path / report_line.group(2)).read_text()
    assert "adagrad rmsprop" in page and 'class="fast-banner"' in page


def test_more_workers_than_trials_start_one_per_trial(tmp_path, capsys, monkeypatch):
    import nnopt.tune.study

    seen = {}
    monkeypatch.setattr(nnopt.tune.study, "tune", lambda recipe, space, **kw: seen.update(kw) or {"table": ""})
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    assert main(["tune", "--space", str(space), "--trials", "2", "--workers", "8", "--out", str(tmp_path / "s")]) == 0
    assert seen["workers"] == 2 and "--workers 8 for 2 trial(s): starting 2 worker(s)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "compare"])
def test_the_default_output_is_checked_too(tmp_path, capsys, monkeypatch, command):
    (tmp_path / "runs").write_text("a file where the runs folder would go")
    monkeypatch.chdir(tmp_path)
    refused([command], capsys, "--out (default) = 'runs/default-", "runs is a file")
