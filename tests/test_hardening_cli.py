"""CLI edge cases and sizes that would hang or exhaust memory: each a clean error (exit 2) before
any work, or bounded work."""

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
