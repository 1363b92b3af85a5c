"""A user's CSV and model file end to end through the CLI, as separate processes: a regression run
killed with SIGKILL in its second epoch resumes bit-identical to an uninterrupted one (the CSV is
read and split again, the model rebuilt from the file). The other commands (tune --workers 2,
--nproc 2, compare, doctor, report, landscape) run in tests/test_user_docs.py on the examples."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from cli_subprocess import run_cli, wait_for_checkpoint
from nnopt.cli import main

MODEL = '''
import math
from torch import nn

def make(input_shape, n_outputs, width: int = 8, dropout: float = 0.0):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_outputs))
'''


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A regression CSV (600 rows: y = x·w + noise) and a model file."""
    d = tmp_path_factory.mktemp("user")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 5)).round(4)
    y = x @ [1.0, -2.0, 0.5, 0.0, 3.0] + 0.1 * rng.normal(size=600)
    (d / "data.csv").write_text("a,b,c,d,e,y\n" + "".join(
        ",".join(map(str, [*r, round(t, 4)])) + "\n" for r, t in zip(x, y)))
    (d / "model.py").write_text(MODEL)
    return d


def args(d, out):
    # ~120 steps of batch 4 per epoch on a 256-wide model (≥ 50 ms an epoch on an idle core): a kill
    # 0.02 s after epoch 1's checkpoint lands in one of epochs 2–6, never after the end
    return ["run", "--quiet", "--out", str(out), "--set", "data.name=csv", "--set", f"data.path={d / 'data.csv'}",
            "--set", "data.target=y", "--set", "model.name=python", "--set", f"model.factory={d / 'model.py'}:make",
            "--set", "model.width=256", "--set", "regularization.dropout=0.2", "--set", "train.epochs=6",
            "--set", "train.batch_size=4", "--set", "train.threads=1"]


def metrics(run_dir):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for line in lines:
        line.pop("time", None)
    return lines


@pytest.mark.slow
def test_csv_regression_with_a_model_file_resumes_bit_identical_after_sigkill(user_files, tmp_path):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen([sys.executable, "-m", "nnopt.cli", *args(user_files, killed)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(killed, run)
    time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.communicate()
    assert run.returncode == -signal.SIGKILL
    assert sum(m["kind"] == "epoch" for m in metrics(killed)) < 6, "the run ended before it was killed"
    run_cli("run", "--quiet", "--resume", killed)
    assert main(args(user_files, ref)) == 0  # the oracle, uninterrupted: in this process (one import of torch less)
    a, b = torch.load(ref / "model.pt"), torch.load(killed / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert metrics(ref) == metrics(killed)
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (ref, killed))
    assert sa["status"] == sb["status"] == "completed"
    assert {k: v for k, v in sa.items() if "time" not in k and "per_s" not in k} == \
        {k: v for k, v in sb.items() if "time" not in k and "per_s" not in k}
