"""The Trainer's device reads: each step queues its device tensors; one transfer reads many steps.

A step leaves on the device its loss (0-d), its gradients' 2-norms (at logged steps, or every step
under ``nonfinite = "skip"``), its outputs and its targets. `ReadQueue.read` reduces the queued
steps on the device — each step's global gradient norm ‖g‖ = √Σᵢ‖gᵢ‖², the task's metric sums
(`nnopt.tasks.queue_sums`), the losses and sums added over the ranks — and reads them in ONE
device→host transfer. The Trainer reads every `READ_STEPS` steps (sooner once the queued outputs
hold `READ_ELEMENTS` numbers) and at the epoch end; lines are written at the epoch end, so how
often it reads changes no output.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks import queue_sums

READ_STEPS = 50  # queued steps per device read: the read's ~12 small ops then cost < 1% of a tiny step
READ_ELEMENTS = 1 << 22  # or fewer steps, once their queued outputs hold this many numbers


@dataclass
class StepRead:
    """One step as read: its number, lr, batch size (all ranks), loss (without the penalty; all
    ranks' mean), global gradient norm (None where not taken) and its device tensors."""

    step: int
    lr: float
    samples: int
    loss: float
    norm: float | None
    tensors: dict


class ReadQueue:
    """Steps not yet read. ``add`` a step's tensors (``loss``, ``tensor_norms`` or None, ``out``,
    ``y``, ``share`` = this rank's part of the batch); ``read()`` empties the queue."""

    def __init__(self, task: str, dist):
        self.task, self.dist = task, dist
        self.items: list[tuple[int, float, int, dict]] = []
        self.queued = 0  # numbers in the queued outputs

    def add(self, step: int, lr: float, samples: int, tensors: dict) -> bool:
        """Queue a step; True when the queue is due for a read."""
        self.items.append((step, lr, samples, tensors))
        self.queued += tensors["out"].numel()
        return len(self.items) >= READ_STEPS or self.queued >= READ_ELEMENTS

    def clear(self) -> None:
        self.items, self.queued = [], 0

    def read(self) -> tuple[list[StepRead], list[list[float]]]:
        """The queued steps, read in one transfer, and the rows of their task sums (to add up on
        the host in order)."""
        if not self.items:
            return [], []
        items = self.items
        self.clear()
        ms = [m for *_, m in items]
        losses = torch.stack([m["loss"] for m in ms])
        if self.dist.world > 1:  # each rank's loss is the mean over its shard: weight by shares
            losses = losses * torch.tensor([m["share"] for m in ms], dtype=torch.float64, device=losses.device)
        sums = queue_sums(self.task, torch.cat([m["out"] for m in ms]), torch.cat([m["y"] for m in ms]),
                          [m["out"].shape[0] for m in ms])
        summed = self.dist.sum_(torch.cat((losses.double(), sums.flatten())))
        normed = [m["tensor_norms"] for m in ms if m["tensor_norms"] is not None]
        values = torch.cat((summed, step_norms(normed, losses.device))).tolist()  # the one read
        k, width = len(ms), sums.shape[1]
        rows = [values[k + i * width:k + (i + 1) * width] for i in range(sums.shape[0])]
        norms = iter(values[k + sums.numel():])
        reads = [StepRead(step, lr, samples, loss, None if m["tensor_norms"] is None else next(norms), m)
                 for (step, lr, samples, m), loss in zip(items, values[:k])]
        return reads, rows


def step_norms(tensor_norms: list[list[torch.Tensor]], device: torch.device) -> torch.Tensor:
    """Each step's global norm √Σᵢ‖gᵢ‖² (float64) from its per-tensor norms ‖gᵢ‖; a step without
    gradients has norm 0. One reduction when every step has the same tensors (the usual case)."""
    flat = [t for norms in tensor_norms for t in norms]
    if not flat:
        return torch.zeros(len(tensor_norms), dtype=torch.float64, device=device)
    k = len(tensor_norms[0])
    if all(len(norms) == k for norms in tensor_norms):
        return torch.linalg.vector_norm(torch.stack(flat).view(len(tensor_norms), k), dim=1, dtype=torch.float64)
    owner = torch.tensor([i for i, norms in enumerate(tensor_norms) for _ in norms], device=device)
    squares = torch.stack(flat).double().square()
    return torch.zeros(len(tensor_norms), dtype=torch.float64, device=device).index_add_(0, owner, squares).sqrt()
