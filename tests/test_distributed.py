"""Data-parallel training (nnopt.train.distributed) with 2 local gloo processes on CPU.

Oracle: the same recipes trained by one process. Tolerance: |Δθ| ≤ 1e-6 per parameter after 30
steps (measured ≤ 3e-7): the batch mean is summed per shard, then over ranks, in another order
than one process sums it. Per-rank batch norm is *not* one process's model (it normalizes shards);
sync_batch is.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nnopt import Recipe
from nnopt.errors import CheckpointError, ConfigError
from nnopt.nn import build_model
from nnopt.nn.sync_batchnorm import SyncBatchNorm
from nnopt.train import build, distributed

from cli_subprocess import wait_for_checkpoint

CASES = Path(__file__).with_name("distributed_cases.py")
TOL = 1e-6
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def summary(run_dir):
    return json.loads((Path(run_dir) / "summary.json").read_text())


def params(run_dir):
    return torch.load(Path(run_dir) / "model.pt")


def max_diff(a, b):
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())


def launched_here(monkeypatch, *args) -> int:
    """`nnopt run ARGS` with this process as the launcher (its main(), the ranks its children)."""
    from nnopt.cli import main

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the launcher would set it in this process
    return main(["run", *map(str, args)])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case of distributed_cases.py, trained by two processes (torchrun) and, meanwhile, by
    this one (the single-process oracle needs no process of its own)."""
    import distributed_cases

    out = tmp_path_factory.mktemp("ddp")
    two = subprocess.Popen([*TORCHRUN, str(CASES), str(out / "two")], env=ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    distributed_cases.main(out / "one")
    _, err = two.communicate(timeout=600)
    assert two.returncode == 0, err[-3000:]
    return out / "one", out / "two"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sgd", "adam", "sync_batch", "regression"])
def test_two_processes_train_the_same_parameters_as_one(runs, case):
    one, two = (r / case for r in runs)
    assert summary(two)["processes"] == 2 and summary(one)["processes"] == 1
    assert max_diff(params(one), params(two)) <= TOL
    lines = [[json.loads(x) for x in (r / "metrics.jsonl").read_text().splitlines()] for r in (one, two)]
    assert [x["kind"] for x in lines[0]] == [x["kind"] for x in lines[1]]  # rank 0 alone wrote it
    for a, b in zip(*lines):  # reduced over ranks: the global batch's loss and the epoch's train loss
        for key in ("loss", "train_loss", "train_acc", "val_acc", "train_rmse", "train_mae", "train_r2", "val_r2"):
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_per_rank_batch_norm_differs_from_one_process(runs):
    one, two = (r / "batch" for r in runs)
    assert max_diff(params(one), params(two)) > 1e-3  # each rank normalized its own shard


@pytest.mark.slow
def test_early_stopping_divergence_and_a_stop_request_act_on_all_ranks(runs):
    one, two = runs
    assert summary(two / "early")["status"] == "early_stopped"
    assert summary(two / "early")["stopped_epoch"] == summary(one / "early")["stopped_epoch"] == 2
    assert summary(two / "diverge")["status"] == "diverged"
    assert summary(two / "diverge")["diverged_at_step"] == summary(one / "diverge")["diverged_at_step"]
    stopped = summary(two / "stop_on_rank_1")  # only rank 1 asked; rank 0 (the writer) stopped with it
    assert stopped["status"] == "stopped" and stopped["steps"] == 5
    assert stopped["stop_reason"] == "another rank requested the stop"


def tiny(**train):
    return Recipe({"data": {"n_train": 300}, "model": {"widths": [8], "norm": "batch"},
                   "train": {"epochs": 1, "threads": 1, "device": "cpu", **train}})


def test_a_batch_that_leaves_a_rank_without_two_samples_is_refused():
    setup = build(tiny(batch_size=64))  # 300 = 4·64 + 44: fine for 2 ranks, not for 32
    assert distributed.Rank(0, 2).shard(torch.arange(5)).tolist() == [0, 1, 2]
    assert distributed.Rank(1, 2).shard(torch.arange(5)).tolist() == [3, 4]
    assert distributed.Rank(1, 2).weight(2, 5) == pytest.approx(0.8)
    with pytest.raises(ConfigError, match=r"train.batch_size = 64 — with 32 processes every rank needs at least 2"):
        distributed.Rank(0, 32).prepare(setup)


def test_a_checkpoint_resumes_only_with_its_process_count():
    with pytest.raises(CheckpointError, match="written by 2 process.*resume with --nproc 2"):
        distributed.Rank().own({"world_size": 2})
    state = {"step": 3, "ranks": [{"rng_cpu": "r0"}, {"rng_cpu": "r1"}], "world_size": 2, "rng_cpu": "r0"}
    assert distributed.Rank(1, 2).own(state)["rng_cpu"] == "r1"


def test_a_ctrl_c_during_the_stop_agreement_is_kept_for_the_next_one(monkeypatch):
    """Ranks spend much of a step in all-reduces, where torchrun's forwarded SIGINT often lands:
    it must stop the job at the next step boundary, not be overwritten by the agreed "no"."""
    from nnopt.train import Trainer

    trainer = type("T", (), {"stop_signal": 0, "interrupted": 0, "stop_reason": None,
                             "dist": distributed.Rank(0, 2)})()

    def signal_arrives_during(tensor, op=None, group=None):  # every other rank sent zeros
        trainer.stop_signal = signal.SIGINT

    monkeypatch.setattr(distributed.dist, "all_reduce", signal_arrives_during)
    assert Trainer.agree_stop(trainer) is False and not trainer.interrupted  # agreed before it arrived
    assert Trainer.agree_stop(trainer) is True and trainer.interrupted == signal.SIGINT  # at the next one


def test_the_ranks_agree_on_the_largest_signal_and_any_stop_request(monkeypatch):
    def others_sent(tensor, op=None, group=None):  # another rank: SIGTERM (15), no request
        tensor.copy_(torch.maximum(tensor, torch.tensor([signal.SIGTERM, 0], dtype=tensor.dtype)))

    monkeypatch.setattr(distributed.dist, "all_reduce", others_sent)
    assert distributed.Rank(0, 2).agree_stop(signal.SIGINT, True) == (signal.SIGTERM, True)
    assert distributed.Rank(0, 2).agree_stop(0, False) == (signal.SIGTERM, False)
    assert distributed.Rank().agree_stop(0, True) == (0, True)  # one process: its own flags


def test_sync_batch_is_batch_norm_in_one_process():
    torch.manual_seed(0)
    a = build_model("mlp", (64,), 10, widths=[16], norm="sync_batch")
    torch.manual_seed(0)
    b = build_model("mlp", (64,), 10, widths=[16], norm="batch")
    assert any(isinstance(m, SyncBatchNorm) for m in a.modules())
    x = torch.randn(32, 64)
    assert torch.equal(a(x), b(x))


def nnopt_run(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "nnopt.cli", "run", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


# 7 epochs of 50 steps: each of the four stops below lands at least two epochs before the end
RESUMABLE = ["--quiet", "--set", "data.n_train=400", "--set", "model.widths=[32]", "--set", "train.threads=1",
             "--set", "train.epochs=7", "--set", "train.batch_size=8", "--set", "model.norm=sync_batch"]


def rank_pid(launcher_pid: int, rank: int) -> int:
    """The pid of the worker process with RANK=rank among the launcher's children."""
    children = Path(f"/proc/{launcher_pid}/task/{launcher_pid}/children").read_text().split()
    for pid in children:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in env:
            return int(pid)
    raise AssertionError(f"no rank {rank} among {children}")


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie waiting for its reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 2-process run of RESUMABLE, launched from this process."""
    out = tmp_path_factory.mktemp("ref") / "run"
    with pytest.MonkeyPatch.context() as patch:
        assert launched_here(patch, "--nproc", 2, "--out", out, *RESUMABLE) == 0
    return out


def assert_same_run(ref, run):
    """Bit-identical parameters, the same metrics.jsonl, the same final numbers."""
    assert all(torch.equal(a, b) for a, b in zip(params(ref).values(), params(run).values()))
    strip = lambda d: [{k: v for k, v in json.loads(x).items() if k != "time"}  # noqa: E731
                       for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert strip(run) == strip(ref)
    assert summary(run)["final_val_acc"] == summary(ref)["final_val_acc"]


@pytest.mark.slow
def test_a_job_stopped_four_ways_resumes_each_time_and_ends_bit_identical(tmp_path, reference, capsys, monkeypatch):
    """One run directory, stopped four ways, each stop followed by ``--resume --nproc 2`` (one job
    per stop instead of a fresh run per way: the same proof, a quarter of the training). The
    final run equals the uninterrupted reference bit for bit, so every one of the four resumes
    continued exactly where its stop left it."""
    from nnopt.cli import main

    run = tmp_path / "run"
    # 1. SIGKILL of rank 1 in epoch 2: the launcher stops rank 0 and says which rank died, once
    job = nnopt_run("--nproc", 2, "--out", run, *RESUMABLE)
    wait_for_checkpoint(run, job, 1)
    os.kill(rank_pid(job.pid, 1), signal.SIGKILL)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 1, err
    assert "rank 1" in err and "was killed by SIGKILL" in err
    assert err.count("\n") == 1 and "Traceback" not in err and "gloo" not in err, err  # the message only
    assert f"nnopt run --resume {run} --nproc 2" in err
    assert main(["run", "--resume", str(run)]) == 2  # another process count is refused
    assert "resume with --nproc 2" in capsys.readouterr().err

    # 2. kill -9 of the launcher in epoch 3 leaves torchrun no chance to stop its workers: the
    # kernel does (parent-death signal); nobody trains on into the run directory
    job = nnopt_run("--resume", run, "--nproc", 2)
    wait_for_checkpoint(run, job, 2)
    ranks = [rank_pid(job.pid, r) for r in (0, 1)]
    job.kill()
    job.wait()
    deadline = time.time() + 30
    while any(map(alive, ranks)):
        assert time.time() < deadline, f"ranks {ranks} outlived their launcher"
        time.sleep(0.05)
    assert not (run / "summary.json").exists() or summary(run)["status"] != "completed"

    # 3. Ctrl-C in epoch 4, to the whole process group as a terminal sends it: the launcher passes
    # it on to the ranks (torchrun starts them in sessions of their own), says nothing of its own,
    # every rank checkpoints
    job = nnopt_run("--resume", run, "--nproc", 2, start_new_session=True)
    wait_for_checkpoint(run, job, 3)
    os.killpg(job.pid, signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 130, err
    assert "death signal" not in err and "closing signal" not in err, err  # torchrun's log lines
    assert summary(run)["status"] == "interrupted" and "--nproc 2" in err

    # 4. SIGTERM to the launcher in epoch 5 (a scheduler's stop): passed on, the ranks agree on a
    # step, checkpoint, and the job exits 128 + 15
    job = nnopt_run("--resume", run, "--nproc", 2)
    wait_for_checkpoint(run, job, 4)
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 143, err
    assert summary(run)["status"] == "interrupted"
    assert "interrupted (SIGTERM) at step" in err and "--nproc 2" in err

    assert launched_here(monkeypatch, "--resume", run, "--nproc", 2) == 0, capsys.readouterr().err
    assert summary(run)["status"] == "completed"
    assert_same_run(reference, run)


TINY_FAIL = ["--set", "data.n_train=101", "--set", "train.threads=1", "--set", "train.epochs=1"]
BATCH_ERROR = "error: train.batch_size = 1 — with 2 processes every rank needs at least 1 sample"


@pytest.mark.slow
@pytest.mark.parametrize("abort_first", [True, False])
def test_the_rank_killed_from_outside_is_blamed_not_the_one_gloo_aborted(monkeypatch, capsys, abort_first):
    """Rank 1 SIGKILLed, rank 0 aborted by gloo (SIGABRT) as its peer vanished, recorded in the same
    instant or first: the launcher names rank 1's SIGKILL; rank 2, stopped by torchrun, is no suspect."""
    import torch.distributed.run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    failures = {r: ProcessFailure(local_rank=r, pid=100 + r, exitcode=-sig, error_file="/nonexistent")
                for r, sig in ((0, signal.SIGABRT), (1, signal.SIGKILL), (2, signal.SIGTERM))}
    failures[0].timestamp = failures[2].timestamp = failures[1].timestamp - int(abort_first)

    def run(args):
        raise ChildFailedError("nnopt.cli", failures)

    monkeypatch.setattr(torch.distributed.run, "run", run)
    assert distributed.launch_module(["nnopt.cli", "run"], 3) == 1
    assert "rank 1 (pid 101) was killed by SIGKILL" in capsys.readouterr().err


def test_an_error_every_rank_meets_is_printed_once(tmp_path, monkeypatch, capfd):
    """Each rank refuses a batch of 1 for 2 ranks; the launcher prints the message once, exit 2.
    (Under torchrun started by hand, with no launcher to collect them, both ranks print it.)"""
    code = launched_here(monkeypatch, "--nproc", 2, "--out", tmp_path / "a", "--set", "train.batch_size=1",
                         *TINY_FAIL)
    err = capfd.readouterr().err  # the ranks' own stderr included (their file descriptor 2 is this one's)
    assert code == 2, err
    assert err.count(BATCH_ERROR) == 1, err
    assert not (tmp_path / "a").exists()  # refused before anything was written


@pytest.mark.slow
def test_a_divergence_is_printed_once_with_its_exit_code(tmp_path, monkeypatch, capfd):
    code = launched_here(monkeypatch, "--nproc", 2, "--out", tmp_path / "run", "--quiet", "--set",
                         "optimizer.name=sgd", "--set", "optimizer.lr=10", "--set", "model.activation=identity",
                         "--set", "model.widths=[32]", "--set", "data.n_train=600", "--set", "train.threads=1",
                         "--set", "train.batch_size=64")
    err = capfd.readouterr().err
    assert code == 3, err
    assert err.count("diverged: ") == 1, err
    assert summary(tmp_path / "run")["status"] == "diverged"
