"""Run the nnopt CLI in a subprocess, as a user would, and wait for such a run's checkpoint."""
import os
import subprocess
import sys
import time


def run_cli(*args, check=True, **kw):
    """Run `python -m nnopt.cli ARGS` in a subprocess; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "nnopt.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"nnopt {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def wait_for_checkpoint(run_dir, proc, epochs=1, timeout=300):
    """Until the run in `run_dir` (process `proc`, which must still run) has checkpointed `epochs`
    finished epochs: a stop sent just after lands in the next epoch, not in the epoch-end
    bookkeeping. The checkpoint is replaced atomically (a new file each time), so each new one is
    read once, not at every poll (it is a few MB to hash and load)."""
    from nnopt.train import checkpoint

    path, seen, deadline = checkpoint.path_in(run_dir), None, time.time() + timeout
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{run_dir}: no checkpoint of epoch {epochs} in {timeout} s"
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (stat.st_ino, stat.st_mtime_ns) != seen:
            seen = (stat.st_ino, stat.st_mtime_ns)
            if checkpoint.read(path)["epoch"] >= epochs:
                return
        time.sleep(0.02)
