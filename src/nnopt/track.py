"""Track any training loop into an nnopt run directory, so `nnopt doctor`, `nnopt report` and
`nnopt compare`'s readers work on runs nnopt did not train.

    with nnopt.track.Run("runs/mine", model=model, optimizer=opt) as run:
        for epoch in range(epochs):
            for x, y in loader:
                ...; loss.backward(); opt.step()
                run.step(loss=loss)                        # after each optimizer step
            run.epoch(train_loss=..., val_loss=..., val_acc=...)

It writes the run directory's format (nnopt.train.rundir, docs/trainer.md): recipe.toml (the
recipe or dict you give, else a note that the loop was not nnopt's), metrics.jsonl (a step line
every `log_every` steps — loss, lr read from the optimizer, the global gradient norm read from the
model — and one line per epoch with the metrics you pass), summary.json when the block ends
(status "completed", or "interrupted" / "failed" when it ends by Ctrl-C / an exception; the task
and monitor, final_* and best_<monitor> as the Trainer writes them), model.pt, and with
``layers=True`` layers.jsonl (per-layer gradient/parameter/update norms; dead ReLU units when
`probe` inputs are given). A step costs one device read at a log point and nothing otherwise.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .errors import ConfigError
from .tasks import DEFAULT_MONITOR, METRICS, TASKS, outcome
from .train.layer_stats import LayerStats
from .train.rundir import METRICS as METRICS_FILE, RunDir, check_new

__all__ = ["Run"]


class Run:
    """A run directory written from your own loop (see the module docstring).

    recipe     a `nnopt.Recipe`, a dict of sections (written as TOML, not validated), or None
    task       "classification" or "regression"; None: regression when an epoch reports rmse/mae/r2
    monitor    the metric the run is judged by (default: val_acc / val_loss by task)
    overwrite  write into a directory that already holds files (refused otherwise)
    """

    def __init__(self, path: str | Path, recipe: Any = None, *, model: nn.Module | None = None,
                 optimizer: torch.optim.Optimizer | None = None, task: str | None = None,
                 monitor: str | None = None, log_every: int = 10, layers: bool = False,
                 probe: torch.Tensor | None = None, overwrite: bool = False):
        if task is not None and task not in TASKS:
            raise ConfigError(f"task = {task!r} — must be one of {', '.join(TASKS)}")
        if monitor is not None and monitor not in METRICS:
            raise ConfigError(f"monitor = {monitor!r} — must be a metric nnopt reports ({', '.join(METRICS)})")
        if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
            raise ConfigError(f"log_every = {log_every!r} — must be an integer >= 1")
        if layers and model is None:
            raise ConfigError("layers = True needs model= (the per-layer norms are read from it)")
        self.rundir = RunDir(path)
        check_new(self.rundir.path, overwrite)
        self.recipe, self.model, self.optimizer = recipe, model, optimizer
        self.task, self.monitor, self.log_every, self.probe = task, monitor, log_every, probe
        self.layer_stats = LayerStats() if layers else None
        self.steps = 0
        self.history: list[dict] = []
        self.metrics_file = None

    # -- the block ------------------------------------------------------------------------------
    def __enter__(self) -> "Run":
        self.rundir.create(_recipe_toml(self.recipe))
        self.metrics_file = open(self.rundir.file(METRICS_FILE), "a")
        if self.layer_stats is not None:
            self.layer_stats.start(self.rundir, self.model, self.log_every)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, kind, exc, tb) -> None:
        self.metrics_file.close()
        status = "completed" if kind is None else "interrupted" if issubclass(kind, KeyboardInterrupt) else "failed"
        task = self.task or "classification"
        monitor = self.monitor or DEFAULT_MONITOR[task]
        known = [r for r in self.history if monitor in r]
        if self.history and not known and kind is None:
            raise ConfigError(f"monitor = {monitor!r} — no epoch reported it (pass it to run.epoch, or "
                              f"choose monitor= among {', '.join(sorted(self.history[-1]))})")
        summary = {"status": status, "task": task, "monitor": monitor, "epochs": len(self.history),
                   "steps": self.steps, **outcome(known, task, monitor),
                   "time_s": time.perf_counter() - self.t0, "tracked": True}
        if exc is not None:
            summary["error"] = f"{type(exc).__name__}: {exc}"
        if self.model is not None:
            self.rundir.save_model(self.model.state_dict())
        self.rundir.write_summary(summary)

    # -- records --------------------------------------------------------------------------------
    def step(self, loss: Any = None, lr: float | None = None, grad_norm: Any = None) -> None:
        """After an optimizer step: at every `log_every`-th step a line with the loss, the lr (the
        optimizer's first group when not given) and the global gradient norm ‖g‖ = √Σᵢ‖gᵢ‖² (from
        the model's .grad when not given)."""
        self._check_open()
        for name, value in (("loss", loss), ("lr", lr), ("grad_norm", grad_norm)):
            _check(value, name)  # every step (no device read); the values are read at log points
        self.steps += 1
        if self.steps % self.log_every == 0:
            if lr is None and self.optimizer is not None:
                lr = self.optimizer.param_groups[0]["lr"]
            if grad_norm is None and self.model is not None:
                grads = [p.grad for p in self.model.parameters() if p.grad is not None]
                grad_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else None
            self._write({"kind": "step", "step": self.steps, "epoch": len(self.history) + 1,
                         "lr": _number(lr, "lr"), "loss": _number(loss, "loss"),
                         "grad_norm": _number(grad_norm, "grad_norm")})
        if self.layer_stats is not None:
            self.layer_stats.after_step(self.steps, len(self.history) + 1)

    def epoch(self, **metrics: Any) -> dict:
        """An epoch's metrics (train_loss=…, val_loss=…, val_acc=… or val_rmse=…: the names of
        `nnopt.tasks.METRICS`, others kept as they are); returns the line written."""
        self._check_open()
        values = {k: _number(v, k) for k, v in metrics.items()}
        if self.task is None and any(k.split("_", 1)[-1] in ("rmse", "mae", "r2") for k in values):
            self.task = "regression"
        record = {"kind": "epoch", "epoch": len(self.history) + 1, "step": self.steps, **values,
                  "time": time.perf_counter() - self.t0}
        self._write(record)
        self.history.append(record)
        if self.layer_stats is not None and self.probe is not None:
            self.layer_stats.units(record["epoch"], self.steps, self.probe)
        return record

    def _write(self, line: Mapping[str, Any]) -> None:
        import json

        self.metrics_file.write(json.dumps(line) + "\n")
        self.metrics_file.flush()

    def _check_open(self) -> None:
        if self.metrics_file is None or self.metrics_file.closed:
            raise RuntimeError("use the Run as a context manager: with nnopt.track.Run(...) as run: ...")


def _check(value: Any, name: str) -> None:
    """ConfigError unless `value` is None, a number or a one-element tensor."""
    if torch.is_tensor(value):
        if value.numel() != 1:
            raise ConfigError(f"{name} = a tensor of shape {tuple(value.shape)} — must be one number")
    elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ConfigError(f"{name} = {value!r} — must be a number")


def _number(value: Any, name: str) -> float | None:
    """A float from a number or a one-element tensor (one device read); None stays None."""
    _check(value, name)
    if value is None:
        return None
    return float(value.detach()) if torch.is_tensor(value) else float(value)


def _recipe_toml(recipe: Any) -> str:
    """recipe.toml's text for a Recipe, a dict of sections, or None."""
    from .recipe import Recipe, dump_toml

    if recipe is None:
        return "# written by nnopt.track from a training loop of its own; no nnopt recipe\n"
    if isinstance(recipe, Recipe):
        return recipe.to_toml()
    if isinstance(recipe, Mapping) and all(isinstance(v, Mapping) for v in recipe.values()):
        try:
            return dump_toml(recipe)
        except TypeError as exc:
            raise ConfigError(f"recipe — {exc}") from None
    raise ConfigError(f"recipe = {type(recipe).__name__} — must be an nnopt Recipe, a dict of sections "
                      "({'optimizer': {'lr': 0.1}, ...}) or None")
