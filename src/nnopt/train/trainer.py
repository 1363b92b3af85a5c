"""The Trainer: a mini-batch loop a reader can hold in their head.

    for each epoch: permute the training set (seeded by seed and epoch)
        for each batch: lr ← schedule(t); loss = L(model(x), y) + penalty; backward;
                        clip; optimizer.step(); callbacks.on_step_end
        every log_every steps: the gradient norm; every READ_STEPS steps: one device read of
                               the queued losses, norms and metric sums (reads.py), screen them,
                               queue the log lines
        validate; write metrics; checkpoint; early stopping; callbacks.on_epoch_end

Run directory (rundir.py, the format's one owner): recipe.toml (resolved), metrics.jsonl,
summary.json, checkpoints/last.pt, model.pt (and layers.jsonl, tensorboard/ when asked for). A
checkpoint holds the step, the position in the epoch and every RNG state, so a resumed run ends
bit-identical to an uninterrupted one at the same thread count.

L is the recipe's [loss] for the data set's task (nnopt.tasks: classification or regression), and
the metrics follow the task: accuracy, or RMSE, MAE and R².

Device reads. A step queues its loss and outputs (and, at a logged step, its gradients' norms) as
device tensors; `reads.ReadQueue` reduces the queue on the device and reads it (one device→host
transfer) every `READ_STEPS` steps and at the epoch end: each step's loss, the logged steps' global
gradient norms, and the task's metric sums, which the epoch's train metrics add up on the host.
The run's NaN/inf screen (``train.nonfinite``) is owned here: "raise" checks every queued loss and
every logged gradient norm at those reads and stops the run at the first non-finite one (a non-finite gradient at an unlogged step reaches the
parameters, so the next step's loss shows it); "skip" must decide before the update, so it takes
the norm at every step and reads it.

What an optimizer needs from the loop it says itself: ``needs_closure = True`` → ``step(closure)``
with a closure that recomputes loss and gradients (SAM); ``train()`` / ``eval()`` methods → called
around evaluation (schedule-free optimizers evaluate at their averaged point).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from ..data.dataset import take_rows
from ..errors import STOP_SIGNALS, CheckpointError, DivergedError, Interrupted, NonFiniteGradientError
from ..loggers import open_loggers
from ..recipe import Recipe
from ..schedules import set_hyper
from ..tasks import batch_sums, metrics, outcome, targets
from . import checkpoint, distributed
from .builder import Setup, build, schedule_drives
from .callbacks import Callback, listens
from .early_stopping import EarlyStopping
from .layer_stats import LayerStats
from .progress import Progress
from .reads import ReadQueue
from .rundir import METRICS as METRICS_FILE, RunDir, check_new


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The training-set permutation of `epoch`: a pure function of (seed, epoch), so resuming
    mid-epoch only needs the position in it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class Trainer:
    def __init__(self, setup: Setup, run_dir: str | Path, quiet: bool = False,
                 callbacks: list[Callback] | tuple = (), overwrite: bool = False):
        self.setup = setup
        self.run_dir = Path(run_dir)
        self.rundir = RunDir(run_dir)
        self.overwrite = overwrite  # fit() replaces a run already in run_dir (refused otherwise)
        self.recipe = setup.recipe
        self.callbacks = list(callbacks)
        self.dist = distributed.init()  # rank / world size; one process unless started by torchrun
        self.net = self.dist.prepare(setup)  # the training forward: the model or its DDP wrapper
        self.writer = self.dist.is_writer  # only rank 0 writes the run directory
        # what the user is told after a Ctrl-C / SIGTERM ("": nothing; nnopt tune says it itself)
        self.resume_hint = f"Continue with: nnopt run --resume {self.run_dir}" + \
            (f" --nproc {self.dist.world}" if self.dist.world > 1 else "")
        if self.recipe.train["log_layers"] and self.writer:  # layers.jsonl for nnopt doctor
            self.callbacks.append(LayerStats())
        self.step_listeners = [c for c in self.callbacks if listens(c, "on_step_end")]
        cfg = self.recipe.train
        self.epochs, self.seed = cfg["epochs"], cfg["seed"]
        self.log_every, self.do_checkpoint = cfg["log_every"], cfg["checkpoint"]
        self.progress = Progress(self.epochs, quiet or not self.writer)
        self.task, self.monitor = setup.task, setup.monitor
        stopping = self.recipe.regularization["early_stopping"]
        self.early = EarlyStopping(**{**stopping, "monitor": self.monitor if stopping["monitor"] == "auto"
                                      else stopping["monitor"]})
        self.params = [p for p in setup.model.parameters() if p.requires_grad]
        self.names = {p: name for name, p in setup.model.named_parameters()}
        self.drives = schedule_drives(setup.schedule)
        precision, device_type = cfg["precision"], setup.device.type
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.autocast = (lambda: torch.autocast(device_type, dtype=dtype)) if dtype else contextlib.nullcontext
        self.scaler = torch.amp.GradScaler(device_type) if precision == "fp16" else None
        # under fp16 the GradScaler skips overflowed steps: the screen then watches the loss only
        self.nonfinite = cfg["nonfinite"]
        self.aug_gen = torch.Generator(device=setup.device).manual_seed(self.seed + 1 + 7919 * self.dist.rank)
        # time
        self.step, self.epoch, self.position = 0, 0, 0  # epoch = completed epochs
        self.samples = 0  # training samples seen
        self.history: list[dict] = []
        self.elapsed = 0.0
        self.acc = self._zero_accumulators()
        self.reads = ReadQueue(self.task, self.dist)  # the steps not yet read from the device
        self.metrics_offset = 0
        self.pending: list[dict] = []  # metric lines not yet written
        self.loggers: list = []  # train.loggers, opened by fit (rank 0 only): each gets every written line
        self.stop_signal = 0  # set by the SIGINT/SIGTERM handler, at any moment: the signal's number
        self.interrupted = 0  # the signal the ranks agreed on at the last step boundary (agree_stop)
        self.stop_reason: str | None = None  # set by request_stop
        self.unscreened: int | None = None  # the last read step, when its gradient norm was not taken
        self.loss_weight = 1.0  # this rank's share of the batch mean (distributed.Rank.weight)

    # -- state -------------------------------------------------------------------------------
    @staticmethod
    def _zero_accumulators() -> dict:
        """The epoch's running sums over all ranks, on the host (filled by `read_queue`):
        Σ loss·batch, the task's metric sums (`nnopt.tasks.batch_sums`), samples."""
        return {"loss_sum": 0.0, "sums": [], "seen": 0}

    def state_dict(self) -> dict:
        s = self.setup
        return {
            "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
            "step": self.step, "epoch": self.epoch, "position": self.position, "samples": self.samples,
            "accumulators": {**self.acc, "sums": list(self.acc["sums"])}, "history": list(self.history), "elapsed": self.elapsed,
            "metrics_offset": self.metrics_offset, "early_stopping": self.early.state_dict(),
            "rng_cpu": torch.get_rng_state(), "aug_gen": self.aug_gen.get_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        s = self.setup
        state = self.dist.own(state)
        try:
            s.model.load_state_dict(state["model"])
            s.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not fit this run's model/optimizer: {exc}") from None
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.samples = state["samples"]
        self.history, self.elapsed = state["history"], state["elapsed"]
        self.acc = dict(state["accumulators"])
        if "correct" in self.acc:  # a checkpoint written before tasks: the right predictions
            self.acc["sums"] = [float(self.acc.pop("correct"))]
        self.metrics_offset = state["metrics_offset"]
        self.early.load_state_dict(state["early_stopping"])
        torch.set_rng_state(state["rng_cpu"])
        self.aug_gen.set_state(state["aug_gen"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if state["rng_cuda"] is not None and s.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng_cuda"])

    def save_checkpoint(self) -> Path:
        state = self.dist.gather_ranks(self.state_dict())
        return checkpoint.save(state, self.run_dir) if self.writer else checkpoint.path_in(self.run_dir)

    def request_stop(self, reason: str) -> None:
        """Ask the loop to end after the current step (callbacks call this; see callbacks.py)."""
        self.stop_reason = reason

    def agree_stop(self) -> bool:
        """Whether the loop stops now: any rank got a Ctrl-C / SIGTERM (``interrupted`` becomes the
        agreed signal) or requested a stop (``stop_reason`` is set on every rank)."""
        self.interrupted, requested = self.dist.agree_stop(self.stop_signal, self.stop_reason is not None)
        if requested and self.stop_reason is None:
            self.stop_reason = "another rank requested the stop"
        return bool(self.interrupted or self.stop_reason)

    def emit(self, event: str, *args) -> None:
        for callback in self.step_listeners if event == "on_step_end" else self.callbacks:
            getattr(callback, event, _ignore)(self, *args)

    # -- the loop ----------------------------------------------------------------------------
    def set_lr(self, t: int) -> float:
        """Each group's lr ← schedule(t)·scale, and any other hyperparameter the schedule drives."""
        lr = self.setup.schedule(t)
        for group, scale in zip(self.setup.optimizer.param_groups, self.setup.lr_scales):
            group["lr"] = lr * scale
            for key, value_at in self.drives.items():
                set_hyper(group, key, value_at(t))
        return lr

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero the gradients, then loss = L(model(x), y) + penalty and its backward pass (scaled
        under fp16, then unscaled so clipping sees true gradients); returns (outputs, L)."""
        s = self.setup
        with self.autocast():
            out = self.net(x)
            loss = s.loss(out.float(), targets(self.task, out, y))
        extra = s.penalty()
        total = loss if extra is None else loss + extra
        if self.loss_weight != 1.0:
            total = total * self.loss_weight
        for group in s.optimizer.param_groups:  # zero_grad(set_to_none=True) without its per-call
            for p in group["params"]:          # profiler and hook bookkeeping (µs a step)
                p.grad = None
        if self.scaler is None:
            total.backward()
        else:
            self.scaler.scale(total).backward()
            self.scaler.unscale_(s.optimizer)
        return out, loss

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float, norms: bool = True) -> dict:
        """One optimizer step on a batch. Returns what the step leaves on the device for the next
        read: ``loss`` (L without the penalty, 0-d), ``tensor_norms`` (each gradient's 2-norm before
        clipping, 0-d each; None unless `norms` or the "skip" screen needs them), ``out`` and
        ``y`` (for the metrics), ``with_grad``. Nothing is reduced here: the read queue does it for
        all queued steps at once."""
        s = self.setup
        if s.augment is not None:
            x = s.augment(x, self.aug_gen)
        out, loss = self.forward_backward(x, y)
        with_grad = [p for p in self.params if p.grad is not None]
        skip = self.nonfinite == "skip" and self.scaler is None
        tensor_norms = torch._foreach_norm([p.grad for p in with_grad]) if norms or skip else None
        if s.clip is not None:
            s.clip(with_grad)
        metrics = {"loss": loss.detach(), "tensor_norms": tensor_norms, "out": out.detach(), "y": y,
                   "with_grad": with_grad}
        if skip and tensor_norms and not bool(torch.isfinite(torch.stack(tensor_norms)).all()):
            return metrics  # no update this step
        opt = s.optimizer
        try:
            if self.scaler is not None:  # skips the step (and lowers the scale) on overflow
                self.scaler.step(opt)
                self.scaler.update()
            elif getattr(opt, "needs_closure", False):
                opt.step(lambda: self.forward_backward(x, y)[1])
            else:
                opt.step()
        except NonFiniteGradientError as exc:
            self.diverged(str(exc), lr, self.step + 1)
        return metrics

    def read_queue(self) -> None:
        """Read the queued steps (one device transfer, see reads.py) and screen them for NaN/inf.
        The epoch's Σ loss·batch and metric sums add up on the host, step by step (so they do not
        depend on when reads happen); the ``log_every``-th steps get a line in metrics.jsonl."""
        reads, rows = self.reads.read()
        sums = self.acc["sums"]
        for row in rows:
            self.acc["sums"] = sums = [a + b for a, b in zip(sums, row)] if sums else row
        for r in reads:
            self.acc["loss_sum"] += r.loss * r.samples
            if not math.isfinite(r.loss):
                self.diverged(f"loss became {r.loss}", r.lr, r.step, unscreened=self.unscreened)
            self.unscreened = r.step if r.norm is None else None
            if r.norm is not None and not math.isfinite(r.norm) and self.nonfinite == "raise" and self.scaler is None:
                per_tensor = torch.stack(r.tensors["tensor_norms"]).tolist()
                bad = next((j for j, v in enumerate(per_tensor) if not math.isfinite(v)), None)
                self.diverged(f"the global gradient norm overflowed ({r.norm})" if bad is None else
                              f"gradient of {self.names[r.tensors['with_grad'][bad]]!r} is not finite "
                              f"(its norm is {per_tensor[bad]})", r.lr, r.step)
            if r.step % self.log_every == 0:
                self.pending.append({"kind": "step", "step": r.step, "epoch": self.epoch + 1,
                                     "lr": r.lr, "loss": r.loss, "grad_norm": r.norm})

    def run_epoch(self, metrics_file) -> dict | None:
        """Train one epoch from the current position; None when stopped before its end."""
        s = self.setup
        train = s.data.train
        order = epoch_order(len(train), self.seed, self.epoch).to(s.device)
        bs, steps = s.batches(self.epoch), s.batches.steps(self.epoch, len(train))
        epoch_t0 = time.perf_counter()
        self.progress.start_epoch(self.epoch + 1, self.position, steps)
        s.model.train()
        set_mode(s.optimizer, "train")
        per_step = s.interval == "step"
        lr = self.set_lr(self.step if per_step else self.epoch)
        while self.position < steps and not self.agree_stop():
            if per_step:
                lr = self.set_lr(self.step)
            idx = order[self.position * bs:(self.position + 1) * bs]
            mine = self.dist.shard(idx)
            n, n_all = mine.shape[0], idx.shape[0]  # (Tensor.__len__ costs a µs a call)
            self.loss_weight = self.dist.weight(n, n_all)
            norms = bool(self.step_listeners) or (self.step + 1) % self.log_every == 0
            m = self.train_step(take_rows(train.x, mine), take_rows(train.y, mine), lr, norms)
            m["share"] = n / n_all
            self.acc["seen"] += n_all
            self.samples += n_all
            self.step += 1
            self.position += 1
            if self.reads.add(self.step, lr, n_all, m):
                self.read_queue()
            self.progress.step()
            if self.step_listeners:
                norm = torch.linalg.vector_norm(torch.stack(m["tensor_norms"])) if m["tensor_norms"] else 0.0
                self.emit("on_step_end", self.step, {"step": self.step, "epoch": self.epoch + 1, "lr": lr,
                                                      "batch_size": n_all, "loss": m["loss"],
                                                      "grad_norm": norm,
                                                      "sums": batch_sums(self.task, m["out"], m["y"])})
        self.read_queue()
        self.elapsed += time.perf_counter() - epoch_t0
        if self.position < steps:
            self.write_metrics(metrics_file)
            return None
        val = self.evaluate(s.data.val, "val")
        self.epoch += 1
        seen = self.acc["seen"]
        record = {"kind": "epoch", "epoch": self.epoch, "step": self.step, "train_loss": self.acc["loss_sum"] / seen,
                  **metrics(self.task, self.acc["sums"], seen, "train"), **val,
                  "lr": lr, "batch_size": bs, "time": self.elapsed}
        self.pending.append(record)
        self.write_metrics(metrics_file)
        self.history.append(record)
        self.position, self.acc = 0, self._zero_accumulators()
        self.progress.end_epoch(record)
        return record

    def evaluate(self, split, prefix: str) -> dict:
        """The task's metrics on `split` (keys `prefix`_loss, ...), with the optimizer in its eval
        mode if it has one."""
        set_mode(self.setup.optimizer, "eval")
        self.dist.sync_buffers(self.setup.model)
        try:
            return evaluate(self.setup.model, split, self.recipe.train["eval_batch_size"], self.task,
                            self.setup.eval_loss, prefix)
        finally:
            set_mode(self.setup.optimizer, "train")

    def write_metrics(self, metrics_file) -> None:
        for line in self.pending:
            metrics_file.write(json.dumps(line) + "\n")
            for logger in self.loggers:
                logger.write(line)
        metrics_file.flush()
        self.pending = []
        self.metrics_offset = metrics_file.tell()

    def diverged(self, what: str, lr: float, step: int, unscreened: int | None = None):
        """Write summary.json (status "diverged") and raise DivergedError with advice; `unscreened`:
        the previous step, when its gradients were not screened (their update may be the cause)."""
        ckpt = checkpoint.path_in(self.run_dir)
        last = f"{ckpt} (after epoch {self.epoch})" if self.do_checkpoint and ckpt.exists() else "none"
        self.reads.clear()
        if self.writer:
            self.rundir.write_summary(self.summary("diverged", diverged_at_step=step, last_good_checkpoint=last))
        raise DivergedError(
            f"{what} at step {step} (epoch {self.epoch + 1}); "
            + (f"the gradients of step {unscreened} were not screened and may have made the parameters "
               f"non-finite (train.log_every = 1 screens every step); " if unscreened else "")
            + f"last good checkpoint: {last}. Try a lower optimizer.lr (it was {lr:.3g}), gradient "
            f"clipping (--set clip.name=global_norm), or a variance-preserving init.")

    def fit(self, resume: bool = False) -> dict:
        """Train to the end (or an early or requested stop); returns the summary also written to
        summary.json. A new fit refuses a run directory that already holds a run, unless the
        Trainer was made with ``overwrite=True``; ``resume=True`` continues it from its checkpoint."""
        metrics_path = self.rundir.file(METRICS_FILE)
        if resume:
            timeline = (self.setup.batches, len(self.setup.data.train), self.epochs)
            state = checkpoint.load(self.run_dir, map_location=self.setup.device, timeline=timeline)
            if self.writer:
                checkpoint.restore_metrics(metrics_path, state["metrics_offset"])
            self.load_state_dict(state)
        elif self.writer:
            check_new(self.run_dir, self.overwrite)
            self.rundir.create(self.recipe.to_toml())
        status = "completed"
        if self.writer:
            self.loggers = open_loggers(self.recipe.train["loggers"], self.run_dir, self.step if resume else None)
        self.emit("on_fit_start")
        with open(metrics_path if self.writer else os.devnull, "a") as metrics_file, self.stop_on_signals(), \
                self.closing_loggers():
            while self.epoch < self.epochs:
                record = self.run_epoch(metrics_file)
                if record is None and self.interrupted:
                    path = self.save_checkpoint()
                    if self.writer:
                        by = signal.Signals(self.interrupted).name.replace("SIGINT", "Ctrl-C")
                        print(f"interrupted ({by}) at step {self.step}; saved {path}."
                              + (f" {self.resume_hint}" if self.resume_hint else ""), file=sys.stderr)
                        self.rundir.write_summary(self.summary("interrupted"))
                    raise Interrupted(self.interrupted)
                stop = record is not None and self.early.update(self.epoch, record, self.setup.model)
                if record is not None:
                    self.emit("on_epoch_end", self.epoch, record)
                if self.do_checkpoint:
                    self.save_checkpoint()
                if stop:
                    status = "early_stopped"
                    break
                if self.agree_stop() and self.stop_reason:  # a request_stop at the epoch end
                    status = "stopped"
                    break
        if self.early.restore_best_weights and self.early.best_weights is not None:
            self.setup.model.load_state_dict(self.early.best_weights)
        extra = {"stop_reason": self.stop_reason} if status == "stopped" else {}
        summary = self.summary(status, **self.evaluate(self.setup.data.test, "test"), **extra)
        if self.writer:
            set_mode(self.setup.optimizer, "eval")  # model.pt holds the weights evaluation used
            self.rundir.save_model(self.setup.model.state_dict())
            set_mode(self.setup.optimizer, "train")
            self.rundir.write_summary(summary)
        self.emit("on_fit_end", summary)
        return summary

    @contextlib.contextmanager
    def closing_loggers(self):
        """Close the loggers when the fit ends, however it ends."""
        try:
            yield
        finally:
            for logger in self.loggers:
                logger.close()
            self.loggers = []

    @contextlib.contextmanager
    def stop_on_signals(self):
        """While training, Ctrl-C (SIGINT) or SIGTERM (a scheduler's stop, or torchrun passing
        either on) asks the loop to stop after the current step: a checkpoint, then `Interrupted`."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
        for sig in STOP_SIGNALS:
            signal.signal(sig, lambda signum, _: setattr(self, "stop_signal", signum))
        try:
            yield
        finally:
            for sig, handler in previous.items():
                if handler is not None:  # None: installed outside Python, left as it is
                    signal.signal(sig, handler)

    def summary(self, status: str, **extra) -> dict:
        """summary.json: the status, the task (its target column and classes where the data set
        names them) and monitored metric, the result (`nnopt.tasks.outcome`: final_*,
        best_<monitor>, best_epoch) and the run's totals."""
        data = self.setup.data
        named = {k: v for k, v in (("target", data.target), ("classes", data.classes)) if v}
        return {
            "status": status, "task": self.task, **named, "monitor": self.monitor, "epochs": self.epoch,
            "steps": self.step,
            **outcome(self.history, self.task, self.monitor),
            "stopped_epoch": self.epoch if status == "early_stopped" else None,
            "early_stopping_best_epoch": self.early.best_epoch,
            "time_s": self.elapsed,
            "samples": self.samples,
            "samples_per_s": self.samples / self.elapsed if self.elapsed else None,
            "device": str(self.setup.device), "processes": self.dist.world, **extra,
        }


def _ignore(*_) -> None:
    """The handler of an event a callback does not define."""


def set_mode(optimizer, mode: str) -> None:
    """Call ``optimizer.train()`` / ``optimizer.eval()`` when the optimizer has them."""
    switch = getattr(optimizer, mode, None)
    if callable(switch):
        switch()


@torch.no_grad()
def evaluate(model, split, batch_size: int, task: str, loss, prefix: str) -> dict:
    """`prefix`_loss (the batch-size-weighted mean of `loss`) and the task's metrics of `model`
    on a split, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=split.x.device)
    sums = 0
    for i in range(0, len(split), batch_size):
        x, y = split.x[i:i + batch_size], split.y[i:i + batch_size]
        out = model(x).float()
        loss_sum += loss(out, targets(task, out, y)).double() * len(y)
        sums = sums + batch_sums(task, out, y, top_k=out.shape[1] > 5)
    model.train(was_training)
    values = torch.cat((loss_sum[None], sums)).tolist()  # one read
    n = len(split)
    return {f"{prefix}_loss": values[0] / n, **metrics(task, values[1:], n, prefix)}


def train(recipe: Recipe | None = None, run_dir: str | Path = "runs/default", quiet: bool = False,
          callbacks: list[Callback] | tuple = (), overwrite: bool = False) -> dict:
    """Build and fit `recipe` (the default recipe when None) into `run_dir`; returns the summary.
    A `run_dir` that already holds a run is refused unless `overwrite`."""
    if not overwrite:
        check_new(run_dir)  # before building: a refused run costs nothing
    return Trainer(build(recipe or Recipe()), run_dir, quiet, callbacks, overwrite).fit()
