"""The Trainer: a mini-batch loop a reader can hold in their head.

    for each epoch: permute the training set (seeded by seed and epoch)
        for each batch: lr ← schedule(t); loss = CE(model(x), y) + penalty; backward;
                        clip; optimizer.step(); log (lr, loss, global grad norm)
        validate; write metrics; checkpoint; early stopping

Run directory: recipe.toml (resolved), metrics.jsonl, summary.json, checkpoints/last.pt, model.pt.
A checkpoint holds the step, the position in the epoch and every RNG state, so a resumed run ends
bit-identical to an uninterrupted one at the same thread count.
"""
from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import CheckpointError, DivergedError, NonFiniteGradientError
from ..recipe import Recipe
from ..regularize import penalty
from . import checkpoint
from ..optim.nonfinite import check_finite
from ..schedules import set_hyper
from .builder import Setup, build, schedule_drives
from .early_stopping import EarlyStopping
from .progress import Progress


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The training-set permutation of `epoch`: a pure function of (seed, epoch), so resuming
    mid-epoch only needs the position in it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class Trainer:
    def __init__(self, setup: Setup, run_dir: str | Path, quiet: bool = False):
        self.s = setup
        self.run_dir = Path(run_dir)
        self.recipe = setup.recipe
        cfg = self.recipe.train
        self.epochs, self.seed = cfg["epochs"], cfg["seed"]
        self.log_every, self.do_checkpoint = cfg["log_every"], cfg["checkpoint"]
        self.progress = Progress(self.epochs, quiet)
        reg = self.recipe.regularization
        self.early = EarlyStopping(**reg["early_stopping"])
        self.l1, self.l2, self.l1_smooth = reg["l1"], reg["l2"], reg["l1_smooth"]
        self.params = [p for p in setup.model.parameters() if p.requires_grad]
        self.names = {p: name for name, p in setup.model.named_parameters()}
        self.drives = schedule_drives(setup.schedule)
        precision, device_type = cfg["precision"], setup.device.type
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.autocast = (lambda: torch.autocast(device_type, dtype=dtype)) if dtype else contextlib.nullcontext
        self.scaler = torch.amp.GradScaler(device_type) if precision == "fp16" else None
        self.aug_gen = torch.Generator(device=setup.device).manual_seed(self.seed + 1)
        # time
        self.step, self.epoch, self.position = 0, 0, 0  # epoch = completed epochs
        self.samples = 0  # training samples seen
        self.history: list[dict] = []
        self.elapsed = 0.0
        self.acc = self._zero_accumulators()
        self.metrics_offset = 0
        self.pending: list[dict] = []  # metric lines not yet written
        self.stop_requested = False  # set by Ctrl-C; honoured at the next step boundary

    # -- state -------------------------------------------------------------------------------
    def _zero_accumulators(self) -> dict:
        return {"loss_sum": 0.0, "correct": 0, "seen": 0}

    def state_dict(self) -> dict:
        s = self.s
        return {
            "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
            "step": self.step, "epoch": self.epoch, "position": self.position, "samples": self.samples,
            "accumulators": dict(self.acc), "history": list(self.history), "elapsed": self.elapsed,
            "metrics_offset": self.metrics_offset, "early_stopping": self.early.state_dict(),
            "rng_cpu": torch.get_rng_state(), "aug_gen": self.aug_gen.get_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else None,
            "preprocessor": s.preprocessor.state_dict() if s.preprocessor is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "recipe": self.recipe.to_toml(),
        }

    def load_state_dict(self, state: dict) -> None:
        s = self.s
        try:
            s.model.load_state_dict(state["model"])
            s.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not fit this run's model/optimizer: {exc}") from None
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.samples = state["samples"]
        self.acc, self.history, self.elapsed = state["accumulators"], state["history"], state["elapsed"]
        self.metrics_offset = state["metrics_offset"]
        self.early.load_state_dict(state["early_stopping"])
        torch.set_rng_state(state["rng_cpu"])
        self.aug_gen.set_state(state["aug_gen"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if state["rng_cuda"] is not None and s.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng_cuda"])

    def save_checkpoint(self) -> Path:
        return checkpoint.save(self.state_dict(), self.run_dir)

    # -- the loop ----------------------------------------------------------------------------
    def set_lr(self, t: int) -> float:
        """Each group's lr ← schedule(t)·scale, and any other hyperparameter the schedule drives."""
        lr = self.s.schedule(t)
        for group, scale in zip(self.s.optimizer.param_groups, self.s.lr_scales):
            group["lr"] = lr * scale
            for key, value_at in self.drives.items():
                set_hyper(group, key, value_at(t))
        return lr

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[float, float, torch.Tensor]:
        """One optimizer step on a batch; returns (loss, pre-clip global grad norm, #correct).
        A non-finite loss, or gradient, stops the run before the update touches the parameters
        (with the optimizer's ``nonfinite = "skip"``, a non-finite gradient skips the step)."""
        s = self.s
        if s.augment is not None:
            x = s.augment(x, self.aug_gen)
        with self.autocast():
            out = s.model(x)
            loss = F.cross_entropy(out.float(), y, label_smoothing=s.label_smoothing)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            self.diverged(f"loss became {loss_value}", lr)
        extra = penalty(s.penalized, self.l1, self.l2, self.l1_smooth)
        s.optimizer.zero_grad(set_to_none=True)
        total = loss if extra is None else loss + extra
        if self.scaler is None:
            total.backward()
        else:  # fp16: backward on the scaled loss, then unscale so clipping sees true gradients
            self.scaler.scale(total).backward()
            self.scaler.unscale_(s.optimizer)
        with_grad = [p for p in self.params if p.grad is not None]
        norm = s.clip(with_grad) if s.clip is not None else None
        if norm is None:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in with_grad])))
        norm = float(norm)
        correct = (out.argmax(1) == y).sum()
        if s.nonfinite is not None and not math.isfinite(norm):
            if s.nonfinite == "raise":
                self.diverged(check_finite([p.grad for p in with_grad], lambda k: self.names[with_grad[k]]), lr)
            return loss_value, norm, correct  # "skip": no update this step
        try:
            if self.scaler is None:
                s.optimizer.step()
            else:  # skips the step (and lowers the scale) when the gradients overflowed
                self.scaler.step(s.optimizer)
                self.scaler.update()
        except NonFiniteGradientError as exc:
            self.diverged(str(exc), lr)
        return loss_value, norm, correct

    def run_epoch(self, metrics_file) -> dict | None:
        """Train one epoch from the current position; None when a stop was requested (Ctrl-C)."""
        s = self.s
        train = s.data.train
        order = epoch_order(len(train), self.seed, self.epoch).to(s.device)
        bs, steps = s.batches(self.epoch), s.batches.steps(self.epoch, len(train))
        epoch_t0 = time.perf_counter()
        self.progress.start_epoch(self.epoch + 1, self.position, steps)
        s.model.train()
        lr = self.set_lr(self.step if s.interval == "step" else self.epoch)
        while self.position < steps and not self.stop_requested:
            if s.interval == "step":
                lr = self.set_lr(self.step)
            idx = order[self.position * bs:(self.position + 1) * bs]
            loss_value, norm, correct = self.train_step(train.x[idx], train.y[idx], lr)
            self.acc["loss_sum"] += loss_value * len(idx)
            self.acc["correct"] += int(correct)
            self.acc["seen"] += len(idx)
            self.samples += len(idx)
            self.step += 1
            self.position += 1
            if self.step % self.log_every == 0:
                self.pending.append({"kind": "step", "step": self.step, "epoch": self.epoch + 1,
                                     "lr": lr, "loss": loss_value, "grad_norm": norm})
            self.progress.step()
        self.elapsed += time.perf_counter() - epoch_t0
        if self.stop_requested:
            self.write_metrics(metrics_file)
            return None
        val_loss, val_acc = evaluate(s.model, s.data.val, self.recipe.train["eval_batch_size"])
        self.epoch += 1
        record = {"kind": "epoch", "epoch": self.epoch, "step": self.step,
                  "train_loss": self.acc["loss_sum"] / self.acc["seen"],
                  "train_acc": self.acc["correct"] / self.acc["seen"],
                  "val_loss": val_loss, "val_acc": val_acc, "lr": lr, "batch_size": bs,
                  "time": self.elapsed}
        self.pending.append(record)
        self.write_metrics(metrics_file)
        self.history.append(record)
        self.position, self.acc = 0, self._zero_accumulators()
        self.progress.end_epoch(record)
        return record

    def write_metrics(self, metrics_file) -> None:
        for line in self.pending:
            metrics_file.write(json.dumps(line) + "\n")
        metrics_file.flush()
        self.pending = []
        self.metrics_offset = metrics_file.tell()

    def diverged(self, what: str, lr: float):
        ckpt = checkpoint.path_in(self.run_dir)
        last = f"{ckpt} (after epoch {self.epoch})" if self.do_checkpoint and ckpt.exists() else "none"
        summary = self.summary("diverged", diverged_at_step=self.step + 1, last_good_checkpoint=last)
        write_json(self.run_dir / "summary.json", summary)
        raise DivergedError(
            f"{what} at step {self.step + 1} (epoch {self.epoch + 1}); "
            f"last good checkpoint: {last}. Try a lower optimizer.lr (it was {lr:.3g}), gradient "
            f"clipping (--set clip.name=global_norm), or a variance-preserving init.")

    def fit(self, resume: bool = False) -> dict:
        """Train to the end (or early stop); returns the summary also written to summary.json."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics_path = self.run_dir / "metrics.jsonl"
        if resume:
            self.load_state_dict(checkpoint.load(self.run_dir, map_location=self.s.device))
            with open(metrics_path, "ab") as f:
                f.truncate(self.metrics_offset)
        else:
            self.recipe.save(self.run_dir / "recipe.toml")
            metrics_path.write_text("")
        status = "completed"
        with open(metrics_path, "a") as metrics_file, self.stop_on_sigint():
            while self.epoch < self.epochs:
                record = self.run_epoch(metrics_file)
                if record is None:
                    path = self.save_checkpoint()
                    print(f"interrupted at step {self.step}; saved {path}. "
                          f"Continue with: nnopt run --resume {self.run_dir}", file=sys.stderr)
                    write_json(self.run_dir / "summary.json", self.summary("interrupted"))
                    raise KeyboardInterrupt
                stop = self.early.update(self.epoch, record, self.s.model)
                if self.do_checkpoint:
                    self.save_checkpoint()
                if stop:
                    status = "early_stopped"
                    break
        if self.early.restore_best_weights and self.early.best_weights is not None:
            self.s.model.load_state_dict(self.early.best_weights)
        test_loss, test_acc = evaluate(self.s.model, self.s.data.test, self.recipe.train["eval_batch_size"])
        torch.save(self.s.model.state_dict(), self.run_dir / "model.pt")
        summary = self.summary(status, test_loss=test_loss, test_acc=test_acc)
        write_json(self.run_dir / "summary.json", summary)
        return summary

    @contextlib.contextmanager
    def stop_on_sigint(self):
        """While training, Ctrl-C asks the loop to stop after the current step (state stays whole)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop_requested", True))
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def summary(self, status: str, **extra) -> dict:
        best = max(self.history, key=lambda r: r["val_acc"], default=None)
        last = self.history[-1] if self.history else {}
        return {
            "status": status, "epochs": self.epoch, "steps": self.step,
            "final_val_acc": last.get("val_acc"), "final_val_loss": last.get("val_loss"),
            "final_train_acc": last.get("train_acc"),
            "best_val_acc": best["val_acc"] if best else None,
            "best_epoch": best["epoch"] if best else None,
            "stopped_epoch": self.epoch if status == "early_stopped" else None,
            "early_stopping_best_epoch": self.early.best_epoch,
            "time_s": self.elapsed,
            "samples": self.samples,
            "samples_per_s": self.samples / self.elapsed if self.elapsed else None,
            "device": str(self.s.device), **extra,
        }


@torch.no_grad()
def evaluate(model, split, batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on a split, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(split), batch_size):
        x, y = split.x[i:i + batch_size], split.y[i:i + batch_size]
        out = model(x)
        loss_sum += F.cross_entropy(out, y, reduction="sum").item()
        correct += int((out.argmax(1) == y).sum())
    model.train(was_training)
    return loss_sum / len(split), correct / len(split)


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)


def train(recipe: Recipe | None = None, run_dir: str | Path = "runs/default", quiet: bool = False) -> dict:
    """Build and fit `recipe` (the default recipe when None) into `run_dir`; returns the summary."""
    return Trainer(build(recipe or Recipe()), run_dir, quiet).fit()
