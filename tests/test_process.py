"""nnopt.process: exit codes and last messages; nnopt.errors stays a leaf below it."""
import ast
import signal
from pathlib import Path

import pytest

import nnopt.errors
from nnopt.errors import ConfigError, DivergedError, Interrupted
from nnopt.process import ERRORS_ENV, exit_code


def _raise(exc):
    def command():
        raise exc
    return command


@pytest.mark.parametrize("command, code, said", [
    (lambda: None, 0, ""),
    (lambda: 5, 5, ""),
    (_raise(ConfigError("optimizer.lr = -1 — must be >= 0", field="optimizer.lr")), 2,
     "error: optimizer.lr = -1 — must be >= 0\n"),
    (_raise(DivergedError("loss is nan at step 3")), 3, "diverged: loss is nan at step 3\n"),
    (_raise(Interrupted(signal.SIGTERM)), 143, ""),
    (_raise(KeyboardInterrupt()), 130, ""),
])
def test_exit_code_maps_each_outcome(command, code, said, capsys, monkeypatch):
    monkeypatch.delenv(ERRORS_ENV, raising=False)
    assert exit_code(command) == code
    assert capsys.readouterr().err == said


def test_a_rank_under_the_launcher_leaves_its_message_in_the_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ERRORS_ENV, str(tmp_path))
    monkeypatch.setenv("RANK", "3")
    assert exit_code(_raise(ConfigError("x = 1 — must be 2"))) == 2
    assert capsys.readouterr().err == ""
    assert (tmp_path / "rank-000003").read_text() == "error: x = 1 — must be 2"


def test_errors_is_a_leaf():
    tree = ast.parse(Path(nnopt.errors.__file__).read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert all(not m.startswith(".") and not m.startswith("nnopt") for m in imported if m != "__future__"), imported
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))


@pytest.mark.parametrize("body, code, out", [
    ("exit_code(lambda: 3)", 3, "partial line"),      # an nnopt command: its code, stdout flushed, no teardown
    ("exit_code(lambda: None)", 0, "partial line"),
    ("pass", 5, "partial line"),                       # not an nnopt command: leave() does nothing
])
def test_leave_ends_an_nnopt_command_with_its_code_and_flushed_output(body, code, out):
    import subprocess
    import sys

    script = ("import atexit, sys\nfrom nnopt.process import exit_code, leave\n"
              "atexit.register(lambda: print('leave returned', leave()))\n"
              f"print('partial line', end='')\n{body}\nsys.exit(5)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == code, run.stderr
    assert run.stdout.startswith(out) and ("leave returned False" in run.stdout) == (body == "pass")
