"""Run the nnopt CLI in a subprocess, as a user would."""
import os
import subprocess
import sys


def run_cli(*args, check=True, **kw):
    """Run `python -m nnopt.cli ARGS` in a subprocess; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "nnopt.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"nnopt {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc
