"""Data-parallel training on torch.distributed: N processes (ranks), each holding the whole model.

    nnopt run RECIPE --nproc 2                      # starts torch's launcher (torchrun) with 2 local ranks
    torchrun --standalone --nproc-per-node 2 -m nnopt.cli run RECIPE --out runs/x       # the same by hand
    torchrun --nnodes 2 --node-rank R --master-addr HOST --master-port 29500 --nproc-per-node 2 \\
        -m nnopt.cli run RECIPE --out runs/x        # on each of two machines (R = 0, 1)

Backend: gloo on CPU, nccl on CUDA (rank r uses GPU ``LOCAL_RANK``). One step: ``train.batch_size``
is the global batch; every rank draws the same epoch permutation as one process would, takes its
contiguous shard of each batch (sizes differ by at most one), runs forward and backward on it, and
DistributedDataParallel averages the gradients. Each rank's loss is weighted by N·n_r/B, so with
unequal shards the averaged gradient is still that of the mean loss over the whole batch. The
logged loss and the epoch's train loss/accuracy are reduced over ranks; every rank validates on the
whole validation split (identical models, identical numbers), so early stopping agrees.

Equivalence: after training, the parameters of an N-process run equal one process's up to float
rounding — the batch mean is summed in another order (per shard, then across ranks). The tests
bound the difference for SGD, Adam and a batch-norm MLP (tests/test_distributed.py).

Batch norm: ``model.norm = "batch"`` normalizes each rank's shard with its own statistics (as
torch's DDP does; running statistics are rank 0's, broadcast by DDP at each forward) — the model
then differs from one process's. ``model.norm = "sync_batch"`` computes the statistics over the
whole global batch (all ranks), which is one process's batch norm.

Writing and stopping: only rank 0 (the writer) writes the run directory; a checkpoint holds every
rank's RNG states and epoch sums, so ``nnopt run --resume DIR --nproc N`` with the same N continues
bit-identically (another N is refused). Ctrl-C, a callback's ``request_stop`` and early stopping
are agreed on by all ranks at each step boundary (one all-reduce of two flags); a non-finite loss
or gradient is seen by every rank at the same step (losses are reduced, gradients are averaged).
A rank killed outright (SIGKILL) ends the job: torchrun stops the other ranks and ``--nproc``
reports which rank died and how to resume (in one line: the survivors' failed collectives print no
traceback). A launcher killed outright takes its ranks with it (`die_with_launcher`); the run
directory keeps its last checkpoint either way. An error that every rank meets (a ConfigError, a
divergence) is printed once by the launcher, not once per rank (`nnopt.process.say_error`).

``launch_module`` is the one launcher: ``nnopt run --nproc N`` starts ``nnopt.cli run`` with it,
``nnopt tune --nproc N`` each trial's ``nnopt.tune.ddp`` job.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..nn.norms import least_batch
from ..registry import NORMS
from ..process import ERRORS_ENV, PEER_LOST, leave

RANK_STATE = ("rng_cpu", "rng_cuda", "aug_gen", "accumulators")  # the parts of a checkpoint each rank has its own


class Rank:
    """This process's place in the job and the hooks the Trainer calls; one process: rank 0 of 1."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0, control=None):
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.control = control  # a gloo group for CPU-side agreement (the default group under nccl)

    @property
    def is_writer(self) -> bool:
        """Whether this rank writes the run directory (rank 0)."""
        return self.rank == 0

    def prepare(self, setup) -> nn.Module:
        """The module the training forward runs: the model, or its DDP wrapper. Refuses batches
        that leave a rank without samples (or batch norm with one), and seeds each rank's own
        random stream (dropout) so shards do not share masks."""
        if self.world == 1:
            return setup.model
        recipe, n = setup.recipe, len(setup.data.train)
        least = least_batch(recipe.model.get("norm"), per_rank=True)
        sizes = setup.batches.sizes(recipe.train["epochs"])
        smallest = setup.batches.smallest(recipe.train["epochs"], n)
        synced = [f'model.norm = "{e.name}"' for e in NORMS if e.meta.get("across_ranks")]
        if smallest // self.world < least:
            raise ConfigError(f"train.batch_size = {recipe.train['batch_size']} — with {self.world} processes every "
                              f"rank needs at least {least} sample(s) of each batch, but a batch of {smallest} "
                              f"(batch sizes {sizes} over {n} samples) leaves {smallest // self.world}; "
                              "use a larger batch size" + "".join(f" or {s}" for s in synced if least > 1))
        torch.manual_seed(recipe.train["seed"] + 7919 * self.rank)
        device_ids = [self.local_rank] if setup.device.type == "cuda" else None  # init() made it current
        return nn.parallel.DistributedDataParallel(setup.model, device_ids=device_ids)

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous part of a global batch's indices."""
        return idx if self.world == 1 else idx.tensor_split(self.world)[self.rank]

    def weight(self, local: int, total: int) -> float:
        """Loss weight N·n_r/B that makes DDP's gradient average the batch mean (1 for equal shards)."""
        return self.world * local / total

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) `tensor` in place over ranks; returns it."""
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor

    def agree_stop(self, signum: int, requested: bool) -> tuple[int, bool]:
        """What every rank agrees on at a step boundary, from this rank's `signum` (the number of a
        Ctrl-C / SIGTERM it got, 0 for none) and whether it `requested` a stop: (the largest signal
        of any rank, whether any rank requested). The caller keeps its own flags: a signal landing
        during the all-reduce itself (where a rank spends much of its time) counts at the next one."""
        if self.world == 1:
            return signum, requested
        flags = torch.tensor([signum, requested], dtype=torch.int32)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.control)
        return int(flags[0]), bool(flags[1])

    def sync_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (batch-norm running statistics) before evaluating."""
        if self.world > 1:
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)

    def gather_ranks(self, state: dict) -> dict:
        """A checkpoint state with every rank's own parts (RANK_STATE) under ``ranks``."""
        if self.world == 1:
            return state
        mine = {k: _to_cpu(state[k]) for k in RANK_STATE}
        ranks = [None] * self.world
        dist.all_gather_object(ranks, mine, group=self.control)
        return {**state, "world_size": self.world, "ranks": ranks}

    def own(self, state: dict) -> dict:
        """A loaded checkpoint state with this rank's own parts; CheckpointError for another N."""
        saved = state.get("world_size", 1)
        if saved != self.world:
            raise CheckpointError(f"the checkpoint was written by {saved} process(es) and this run has "
                                  f"{self.world}; resume with --nproc {saved} (batch statistics and RNG "
                                  "streams are per process)")
        return state if self.world == 1 else {**state, **state["ranks"][self.rank]}


def _to_cpu(value):
    if torch.is_tensor(value):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


_RANK: Rank | None = None


def init() -> Rank:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK,
    MASTER_ADDR, MASTER_PORT); one process without it. Idempotent; the ranks leave together at exit.
    Call it before building a run on CUDA, so each rank's model lands on its own GPU."""
    global _RANK
    if _RANK is None:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            _RANK = Rank()
        else:
            if LAUNCHER_ENV in os.environ:
                die_with_launcher(int(os.environ[LAUNCHER_ENV]))
            local = int(os.environ.get("LOCAL_RANK", "0"))
            cuda = torch.cuda.is_available()
            if cuda:
                torch.cuda.set_device(local)
            dist.init_process_group("nccl" if cuda else "gloo")
            atexit.register(_leave)
            control = dist.new_group(backend="gloo") if cuda else None
            _RANK = Rank(dist.get_rank(), dist.get_world_size(), local, control)
    return _RANK


LAUNCHER_ENV = "NNOPT_LAUNCHER_PID"  # set by launch_module for its ranks: the process they die with
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_launcher(launcher: int) -> None:
    """Make this rank end when the launcher process `launcher` (its parent) ends, however it ends
    — a ``kill -9`` of ``nnopt run --nproc N`` included, which leaves torchrun no chance to stop
    its workers: on Linux the kernel sends this process SIGKILL at the parent's death
    (prctl(PR_SET_PDEATHSIG)); elsewhere a daemon thread polls the parent pid. Either way the run
    directory keeps its last checkpoint, from which ``--resume`` continues bit-identically. A
    launcher that died before this call ends the rank at once."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        def watch() -> None:
            while os.getppid() == launcher:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="nnopt-launcher-watch", daemon=True).start()
    if os.getppid() != launcher:
        os._exit(1)


def _leave() -> None:
    """At exit: wait (at most a minute) until every rank is done, then end an nnopt command's process
    with its exit code and no teardown of the group (`process.leave`), else close the group. A rank
    that leaves while another still runs, or that destroys the group while a peer is gone or going,
    can be aborted by gloo's threads (SIGABRT, "terminate called without an active exception"),
    which torchrun reports as a failure."""
    try:
        dist.monitored_barrier(group=_RANK.control, timeout=timedelta(seconds=60))
    except RuntimeError:  # a rank that failed alone, or whose peer is gone: it does not wait longer
        pass
    if not leave():
        dist.destroy_process_group()


def rank_argv(args, run_dir: Path) -> list[str]:
    """The `nnopt run` arguments each rank gets from ``nnopt run --nproc N`` (an explicit --out)."""
    if args.resume is not None:
        argv = ["run", "--resume", args.resume]
    else:
        argv = ["run", *([args.recipe] if args.recipe else []), *[x for s in args.set for x in ("--set", s)],
                "--out", str(run_dir)]
    return argv + (["--quiet"] if args.quiet else []) + (["--doctor"] if args.doctor else [])


def launch(args, run_dir: Path) -> int:
    """``nnopt run --nproc N``: run N local ranks of ``nnopt run`` under torchrun."""
    return launch_module(["nnopt.cli", *rank_argv(args, run_dir)], args.nproc,
                         after_kill=f"Continue from the last checkpoint with: nnopt run --resume {run_dir} "
                                    f"--nproc {args.nproc}")


def launch_module(argv: list[str], nproc: int, after_kill: str = "") -> int:
    """Run ``python -m MODULE ARGS`` (``argv = [MODULE, *ARGS]``) as `nproc` local ranks under
    torchrun (``--standalone``); the job's exit code: 0, a rank's own code (2, 3), 128 + signum
    for a stop signal the launcher got (130: Ctrl-C), or 1 when a rank was killed (reported with
    `after_kill`). Each distinct error message of the ranks (`nnopt.process.say_error`) is printed once.
    ``nnopt run --nproc N`` and ``nnopt tune --nproc N`` call it."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))  # torchrun's default is 1
    torchrun = get_args_parser().parse_args(["--standalone", "--nproc-per-node", str(nproc),
                                             "--monitor-interval", "0.2", "-m", *argv])
    killed = False
    with tempfile.TemporaryDirectory(prefix="nnopt-ranks-") as folder, _job_scope(folder):
        try:
            run(torchrun)
            code = 0
        except ChildFailedError as exc:
            # The rank killed from outside: one ended by a signal other than SIGTERM (torchrun's own for
            # stopping the others) and SIGABRT (gloo aborts a rank whose peer died: a consequence, and
            # recorded in the same instant as the kill), else the first failure; a rank's own exit
            # code (2, 3) when no signal ended it. The survivors of a killed rank exit 1 with
            # `process.PEER_LOST`.
            rank, failure = exc.get_first_failure()
            outside = [(f.exitcode == -signal.SIGABRT, f.timestamp, r, f) for r, f in exc.failures.items()
                       if f.exitcode < 0 and f.exitcode != -signal.SIGTERM]
            if outside:
                *_, rank, failure = min(outside, key=lambda t: t[:3])
            killed = failure.exitcode < 0
            code = 1 if killed else failure.exitcode
            if killed:
                print(f"error: rank {rank} (pid {failure.pid}) was killed by {failure.signal_name()}; the other "
                      f"ranks were stopped. {after_kill}".rstrip(), file=sys.stderr)
        except SignalException as exc:  # Ctrl-C / SIGTERM: torchrun passed it on; the ranks checkpointed
            code = 128 + int(exc.sigval)
        for message in dict.fromkeys(f.read_text() for f in sorted(Path(folder).iterdir())):
            if not (killed and PEER_LOST in message):  # the survivors of a killed rank: said above
                print(message, file=sys.stderr)
    return code


@contextlib.contextmanager
def _job_scope(folder: str):
    """While a job runs the ranks find `folder` (for `nnopt.process.say_error`) in the environment they inherit,
    and torchrun's own log lines ("failed (exitcode: 2) local_rank: 0 ...", "Received 2 death
    signal, shutting down workers") are silenced: the launcher says what failed. torchrun sets a
    level on each of its modules' loggers, so each is set here, not only their parent. Afterwards
    the launcher's environment, log levels and signal handlers (torchrun replaces them with its
    own, which raise SignalException) are what they were — a tune worker launches many jobs."""
    previous, launcher = os.environ.get(ERRORS_ENV), os.environ.get(LAUNCHER_ENV)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)}
    logs = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
            if name.startswith("torch.distributed.elastic")]
    levels = [log.level for log in logs]
    os.environ[ERRORS_ENV], os.environ[LAUNCHER_ENV] = folder, str(os.getpid())
    for log in logs:
        log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)
        for name, value in ((ERRORS_ENV, previous), (LAUNCHER_ENV, launcher)):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if threading.current_thread() is threading.main_thread():
            for sig, handler in handlers.items():
                if handler is not None:  # None: a handler installed outside Python, left alone
                    signal.signal(sig, handler)
