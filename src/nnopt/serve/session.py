"""One browser tab's training: the library's Trainer in a worker thread, watched by `LiveView`.

`LiveView` is a Trainer callback. At most `fps` times a second (and whenever the run pauses) it
reads the step's loss, lr and global gradient norm, each layer's gradient norm and — on 2-D data —
the model's class-1 probability on a grid over the data, and queues that as a frame; epoch lines
are queued as they come. Pausing blocks inside the callback on an Event; "step" lets one more step
through; `speed` (steps per second, None = as fast as it trains) spaces the steps so a person can
watch. A run that ends at chance accuracy or diverges says so (`verdict`). The page reads the queue
over SSE (see app.py).
"""
from __future__ import annotations

import collections
import shutil
import tempfile
import threading
import time

import torch

from ..errors import DivergedError
from ..nn.models import TooManyParameters
from ..recipe import Recipe
from ..train import Callback, Trainer, build
from .forms import DATASETS_2D, FormError

GRID = 48  # the decision-boundary image is GRID × GRID model evaluations
MAX_POINTS = 400  # training points drawn under the boundary
QUEUE = 2000  # messages kept for a tab that stopped reading (oldest dropped)
MAX_PARAMETERS = 2_000_000  # a model's parameters: a step stays short, so Pause and Reset answer at once
THREADS = torch.get_num_threads()  # the process's setting, restored after each run (train.threads)


class Busy(RuntimeError):
    """The session already has a run (answered 409)."""


def layer_groups(model: torch.nn.Module) -> list[tuple[str, list[torch.nn.Parameter]]]:
    """(label, own parameters) of every module that holds parameters, in depth order, labelled by
    depth and shape: "layer 1: Linear 2→16", "layer 2: BatchNorm1d 16"."""
    groups = []
    for module in model.modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params:
            groups.append((f"layer {len(groups) + 1}: {type(module).__name__} {shape_of(module, params)}", params))
    return groups


def shape_of(module: torch.nn.Module, params) -> str:
    """in→out of a layer that maps features or channels (Linear, ConvNd, RNN), else its first
    parameter's size ("16", "3×3")."""
    for a, b in (("in_features", "out_features"), ("in_channels", "out_channels"), ("input_size", "hidden_size"),
                 ("num_embeddings", "embedding_dim")):
        if hasattr(module, a) and hasattr(module, b):
            return f"{getattr(module, a)}→{getattr(module, b)}"
    return "×".join(map(str, params[0].shape))


def layer_grad_norms(groups) -> list[float | None]:
    """The 2-norm of each group's gradients (None for a group without gradients yet)."""
    out = []
    for _, params in groups:
        grads = [p.grad for p in params if p.grad is not None]
        out.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
                   if grads else None)
    return out


class Boundary:
    """The model's P(class 1) on a grid over the 2-D data's box (in raw, un-preprocessed coordinates)."""

    def __init__(self, setup, grid: int = GRID):
        raw = setup.data.train.x
        if setup.preprocessor is not None:
            raw = setup.preprocessor.inverse_transform(raw)
        raw = raw.detach().float().cpu()
        lo, hi = raw.min(0).values, raw.max(0).values
        pad = 0.1 * (hi - lo)
        self.box = [float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])]
        xs = torch.linspace(self.box[0], self.box[1], grid)
        ys = torch.linspace(self.box[3], self.box[2], grid)  # top row first, as an image
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        inputs = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
        if setup.preprocessor is not None:
            inputs = setup.preprocessor.transform(inputs)
        self.inputs = inputs.to(setup.device)
        self.grid = grid
        keep = torch.arange(len(raw))[:MAX_POINTS]
        self.points = [[round(float(a), 4), round(float(b), 4), int(c)]
                       for (a, b), c in zip(raw[keep].tolist(), setup.data.train.y[keep].tolist())]

    @torch.no_grad()
    def probabilities(self, model: torch.nn.Module) -> list[int]:
        """P(class 1) at each grid point, row-major from the top left, scaled to 0..255."""
        was_training = model.training
        model.eval()
        try:
            p = torch.softmax(model(self.inputs).float(), dim=1)[:, 1]
        finally:
            model.train(was_training)
        return (p * 255).round().to(torch.uint8).cpu().tolist()


class LiveView(Callback):
    """Queues frames of a running fit for the page; blocks while the session is paused."""

    def __init__(self, session: "Session", fps: float):
        self.session, self.period = session, 1.0 / fps
        self.last = 0.0
        self.epochs: list[dict] = []
        self.groups: list = []
        self.boundary: Boundary | None = None

    def on_fit_start(self, trainer) -> None:
        s = trainer.setup
        self.session.guess = guessing(s.data)
        self.groups = layer_groups(s.model)
        if trainer.recipe.data["name"] in DATASETS_2D:
            self.boundary = Boundary(s)
        self.session.push({"type": "start", "layers": [label for label, _ in self.groups],
                           "epochs": trainer.epochs,
                           "boundary": None if self.boundary is None else
                           {"box": self.boundary.box, "grid": self.boundary.grid, "points": self.boundary.points}})

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        session = self.session
        now = time.perf_counter()
        if now - self.last >= self.period or session.pause_due():
            self.last = now
            session.push(self.frame(trainer, metrics))
        session.gate(trainer)
        session.throttle()

    def frame(self, trainer, metrics: dict) -> dict:
        out = {"type": "frame", "step": metrics["step"], "epoch": metrics["epoch"], "lr": finite(metrics["lr"]),
               "loss": finite(float(metrics["loss"])), "grad_norm": finite(float(metrics["grad_norm"])),
               "layers": [finite(v) for v in layer_grad_norms(self.groups)], "epochs": self.epochs}
        self.epochs = []
        if self.boundary is not None:
            out["boundary"] = self.boundary.probabilities(trainer.setup.model)
        return out

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.session.last = {k: finite(record.get(k)) for k in ("epoch", "step", "train_loss", "train_acc",
                                                                "val_loss", "val_acc", "lr")}
        self.epochs.append(self.session.last)

    def on_fit_end(self, trainer, summary: dict) -> None:
        last = {"type": "frame", "step": trainer.step, "epoch": summary.get("epochs", trainer.epoch),
                "epochs": self.epochs}
        if self.boundary is not None:
            last["boundary"] = self.boundary.probabilities(trainer.setup.model)
        self.session.push(last)
        self.epochs = []


def guessing(data) -> tuple[float, float] | None:
    """What a model that learned nothing scores: (the validation accuracy of always answering the
    commonest class, the cross-entropy −Σ p_k ln p_k of predicting the training class frequencies
    p_k); None without class labels."""
    train_y, val_y = (getattr(getattr(data, split, None), "y", None) for split in ("train", "val"))
    if any(y is None or len(y) == 0 or y.is_floating_point() or y.ndim != 1 for y in (train_y, val_y)):
        return None
    p = torch.bincount(train_y).double() / len(train_y)
    p = p[p > 0]
    return float(torch.bincount(val_y).max()) / len(val_y), float(-(p * p.log()).sum())


def verdict(last: dict, guess: tuple[float, float] | None) -> str | None:
    """One line when a finished run learned nothing (`last`: its last epoch's record): its val
    accuracy within 0.02 of always answering the commonest class, or its train loss no lower than
    predicting the class frequencies."""
    acc, loss = last.get("val_acc"), last.get("train_loss")
    if guess is None or not isinstance(acc, float):
        return None
    chance, prior = guess
    if acc <= chance + 0.02:
        what = f"stuck at chance: val acc {acc:.3f}, and always answering the commonest class scores {chance:.3f}"
    elif loss is None or loss >= prior:
        shown = "not finite" if loss is None else f"{loss:.3f}"
        what = (f"no better than guessing: train loss {shown} ≥ {prior:.3f}, the loss of predicting the class "
                "frequencies")
    else:
        return None
    return (f"{what}. A too-large lr diverges or saturates the units: lower optimizer.lr. Export the recipe, "
            "nnopt run it, and nnopt doctor RUN_DIR names the cause")


DIVERGED = ("diverged — lower optimizer.lr (or clip gradients); export the recipe, nnopt run it and "
            "nnopt doctor RUN_DIR names the cause")


def finite(x):
    """x, or None when it is a non-finite float (JSON has no inf/nan)."""
    return x if not isinstance(x, float) or x == x and abs(x) != float("inf") else None


class Session:
    """A tab's state: idle → running ⇄ paused → finished | failed | stopped; reset back to idle."""

    def __init__(self, sid: str, fps: float = 8.0):
        self.sid, self.fps = sid, fps
        self.state = "idle"
        self.outbox: collections.deque = collections.deque(maxlen=QUEUE)
        self.lock = threading.Lock()
        self.resume = threading.Event()
        self.pausing = False  # pause at the next step boundary
        self.steps_left: int | None = None  # "step": let this many steps through, then pause
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.run_dir: str | None = None
        self.speed: float | None = None  # steps per second; None = as fast as it trains
        self.next_step = 0.0  # perf_counter time the next step may start at `speed`
        self.guess: tuple[float, float] | None = None  # what learning nothing scores (see guessing)
        self.last: dict = {}  # the run's last epoch record

    # -- the queue the SSE stream drains ---------------------------------------------------------
    def push(self, message: dict) -> None:
        self.outbox.append(message)

    def drain(self) -> list[dict]:
        out = []
        while self.outbox:
            out.append(self.outbox.popleft())
        return out

    def set_state(self, state: str, **extra) -> None:
        self.state = state
        self.push({"type": "state", "state": state, **extra})

    # -- controls (called from the server's request handlers) -------------------------------------
    def start(self, recipe: Recipe, steps: int | None = None) -> None:
        """Build `recipe` (ConfigError raised here, before any thread) and train it in a worker;
        with `steps`, pause after that many steps."""
        with self.lock:
            if self.state in ("running", "paused") or self.thread is not None:
                raise Busy(f"a run is already {self.state}; reset it first")
            try:
                setup = build(recipe, max_parameters=MAX_PARAMETERS)
            except TooManyParameters as exc:
                raise FormError(f"{exc.field} — the model has {exc.count:,} parameters; the playground trains at "
                                f"most {exc.limit:,} (nnopt run trains any size)", exc.field) from None
            finally:
                torch.set_num_threads(THREADS)
            self.run_dir = tempfile.mkdtemp(prefix="nnopt-serve-")
            try:
                trainer = Trainer(setup, self.run_dir, quiet=True, callbacks=[LiveView(self, self.fps)])
            except BaseException:
                shutil.rmtree(self.run_dir, ignore_errors=True)
                raise
            self.stopping, self.pausing, self.steps_left = False, False, steps
            self.set_state("running")
            self.thread = threading.Thread(target=self._fit, args=(trainer, recipe.train["threads"]),
                                           daemon=True, name=f"nnopt-train-{self.sid[:8]}")
            self.thread.start()

    def _fit(self, trainer: Trainer, threads: int) -> None:
        if threads:
            torch.set_num_threads(threads)
        try:
            summary = trainer.fit()
        except Exception as exc:  # noqa: BLE001 — the tab shows any failure; the server keeps running
            self.set_state("failed", error=f"{type(exc).__name__}: {exc}",
                           verdict=DIVERGED if isinstance(exc, DivergedError) else None)
        else:
            clean = {k: finite(v) if isinstance(v, float) else v for k, v in summary.items()}
            self.set_state("stopped" if self.stopping else "finished", summary=clean,
                           verdict=None if self.stopping else verdict(self.last, self.guess))
        finally:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            torch.set_num_threads(THREADS)

    def pause(self) -> None:
        if self.state == "running":
            self.resume.clear()
            self.pausing = True

    def proceed(self, steps: int | None = None) -> None:
        """Resume a paused run: all the way (steps=None) or for `steps` steps, then pause again."""
        if self.state in ("running", "paused"):
            self.steps_left = steps
            self.pausing = False
            self.resume.set()

    def set_speed(self, speed: float | None) -> None:
        """Steps per second from now on (None: as fast as it trains)."""
        self.speed, self.next_step = speed, 0.0

    def throttle(self) -> None:
        """In the training thread, after a step: wait until the next step is due at `speed`, in
        short slices so pause, step and stop answer at once."""
        speed = self.speed
        if speed is None:
            return
        now = time.perf_counter()
        self.next_step = max(self.next_step + 1.0 / speed, now)  # late steps are not made up: never faster
        while not self.stopping and not self.pausing and self.speed == speed and \
                (wait := self.next_step - time.perf_counter()) > 0:
            time.sleep(min(wait, 0.05))

    def pause_due(self) -> bool:
        return self.pausing or (self.steps_left is not None and self.steps_left <= 1)

    def gate(self, trainer) -> None:
        """In the training thread, after a step: stop, count a "step" or wait while paused."""
        if self.steps_left is not None:
            self.steps_left -= 1
            if self.steps_left <= 0:
                self.steps_left, self.pausing = None, True
                self.resume.clear()
        if self.pausing and not self.stopping:
            self.set_state("paused", step=trainer.step)
            self.resume.wait()
            if not self.stopping:
                self.set_state("running")
        if self.stopping:
            trainer.request_stop("stopped from the playground")

    def stop(self, wait: bool = True) -> None:
        """End the run (if any) after its current step; `wait` for its thread."""
        self.stopping = True
        self.resume.set()
        if wait:
            self.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout` s; None: until it ends) for the training thread to end."""
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if not thread.is_alive():
                self.thread = None

    def reset(self) -> None:
        """Stop the run and wait for it (a step is short: MAX_PARAMETERS), then idle."""
        with self.lock:
            self.stop()
            self.outbox.clear()
            self.set_state("idle")
