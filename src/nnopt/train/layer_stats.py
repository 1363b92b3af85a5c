"""Per-layer gradient/update statistics and dead ReLU units, logged to ``layers.jsonl`` (``train.log_layers``).

At every log point (``step % train.log_every == 0``) one line per step, for each parameter tensor p:

    {"kind": "step", "step": t, "epoch": e, "layers": {name: {"grad": ‖∇p‖, "param": ‖p‖, "update": ‖Δp‖}}}

with ∇p the gradient the optimizer used (after clipping) and Δp = p_t − p_{t−1} the step's update
(the rule of thumb: ‖Δp‖/‖p‖ ≈ 1e-3). At every epoch end, the fraction of dead units of each ReLU:

    {"kind": "units", "epoch": e, "step": t, "dead": {module name: fraction}}

a unit being dead when its output is 0 on every sample of a fixed probe batch (the first 512
training samples), i.e. it passes no gradient. Reads the device once per log point.
"""
from __future__ import annotations

import json

import torch
from torch import nn

from .callbacks import Callback
from .rundir import LAYERS

PROBE = 512


class LayerStats(Callback):
    """Writes ``layers.jsonl`` into the run directory (see the module docstring). As a Trainer
    callback it follows the fit; `nnopt.track.Run` drives the same methods from any loop:
    `start`, then `after_step` after every optimizer step, `units` at each epoch end."""

    def on_fit_start(self, trainer) -> None:
        self.start(trainer.rundir, trainer.setup.model, trainer.log_every, trainer.step)

    def on_step_end(self, trainer, step: int, metrics: dict) -> None:
        self.after_step(step, metrics["epoch"])

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.units(epoch, trainer.step, trainer.setup.data.train.x[:PROBE])

    def start(self, rundir, model: nn.Module, every: int, step: int = 0) -> None:
        """Begin (or, at `step` > 0, continue: the lines up to `step` are kept) the file of a run
        whose model is `model`, logging every `every` steps."""
        self.path, self.every = rundir.file(LAYERS), every
        self.named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.model = model
        self.before: list[torch.Tensor] | None = None
        kept = [line for line in rundir.layers() if line["step"] <= step] if step else []
        self.path.write_text("".join(json.dumps(line) + "\n" for line in kept))
        if step % self.every == self.every - 1 or self.every == 1:
            self._snapshot()

    def _snapshot(self) -> None:
        self.before = [p.detach().clone() for _, p in self.named]

    def after_step(self, step: int, epoch: int) -> None:
        """After optimizer step `step` (1-based) of `epoch`: at a log point, one line of norms."""
        if step % self.every == 0 and self.before is not None:
            params = [p.detach() for _, p in self.named]
            zero = torch.zeros((), device=params[0].device)
            grads = [torch.linalg.vector_norm(p.grad) if p.grad is not None else zero for _, p in self.named]
            rows = torch.stack([torch.stack(grads), torch.stack(torch._foreach_norm(params)),
                                torch.stack(torch._foreach_norm(torch._foreach_sub(params, self.before)))])
            values = rows.double().T.tolist()  # one device read
            layers = {name: {"grad": g, "param": p, "update": u} for (name, _), (g, p, u) in zip(self.named, values)}
            self._write({"kind": "step", "step": step, "epoch": epoch, "layers": layers})
            self.before = None
        if (step + 1) % self.every == 0:
            self._snapshot()

    def units(self, epoch: int, step: int, probe: torch.Tensor) -> None:
        """At an epoch end: the dead fraction of each ReLU on the `probe` inputs."""
        dead = dead_units(self.model, probe)
        if dead:
            self._write({"kind": "units", "epoch": epoch, "step": step, "dead": dead})

    def _write(self, line: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")


@torch.no_grad()
def dead_units(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """{ReLU module name: fraction of its units that output 0 for every sample of x} (eval mode).
    A unit is one feature (dense) or one channel (conv: dead on every position too)."""
    outputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: outputs.__setitem__(name, out))
             for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    was = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    dead = {}
    for name, out in outputs.items():
        alive = (out > 0).flatten(2).any(-1) if out.dim() > 2 else out > 0  # (N, units)
        dead[name] = float((~alive.any(0)).float().mean())
    return dead
