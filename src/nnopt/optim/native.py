"""torch's own fused kernels (``torch._fused_sgd_``, ``_fused_adagrad_``, ``_fused_adam_``,
``_fused_adamw_``) for the chains that are exactly torch's algorithm, run on the optimizer's own
state (same slot names, so ``state_dict`` is the same whichever path runs, and switching mid-run
is seamless). RMSprop, which torch does not fuse, is Adam's kernel with β₁ = 0 and t = ∞: then
m = g, both bias corrections are 1 − 0 = 1, and θ ← θ − α·g/(√r + ε) with r ← βr + (1−β)g².

Each ``*_kernel(h)`` decides from the group's structural options (``h``: the `Hyper` view a
chain builder gets) whether the kernel computes the chain — book forms, ε inside the square
root, Adam without bias correction run through the transforms — and returns
``update(params, grads, state, group, step, found)``, which reads lr and the other values from
the group at each call (so schedules need no rebuild), or None. The caller has already
incremented the step counters, as torch does; every parameter passed has the same step t.
``found`` (a 0-d float tensor or None) is GradScaler's ``found_inf``: non-zero, the kernel leaves
parameters and state as they are. The transforms stay the definition; tests check each kernel
against them.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

Update = Callable[..., None]
DEVICES = ("cpu", "cuda", "mps")


def applicable(update: Update, params: list[Tensor]) -> bool:
    """torch's fused kernels need the tensors on one device the kernel supports (``update.devices``,
    default `DEVICES`), of one floating dtype."""
    first = params[0]
    return (first.device.type in getattr(update, "devices", DEVICES) and first.is_floating_point()
            and all(p.device == first.device and p.dtype == first.dtype for p in params))


def _step_tensors() -> Callable[[list[Tensor], float], list[Tensor]]:
    """t as the float32 tensor on the params' device that the kernels read: one per device, kept
    and refilled (a fill is queued on the device, where a new tensor would wait for the host)."""
    kept: dict[torch.device, Tensor] = {}

    def steps(params: list[Tensor], step: float) -> list[Tensor]:
        device = params[0].device
        if device not in kept:
            kept[device] = torch.zeros((), dtype=torch.float32, device=device)
        return [kept[device].fill_(step)] * len(params)
    return steps


def sgd_kernel(h) -> Update | None:
    """torch SGD (momentum, dampening, nesterov, L2): θ ← θ − α·b, b ← ρb + (1−d)(g + λθ)."""
    if h.momentum and h.form != "torch":
        return None
    has_buffer = bool(h.momentum)

    def update(params, grads, state, group, step, found):
        torch._fused_sgd_(params, grads, state.get("momentum_buffer", []), lr=group["lr"],
                          weight_decay=group["weight_decay"], momentum=group["momentum"],
                          dampening=group["dampening"], nesterov=group["nesterov"],
                          maximize=group["maximize"], is_first_step=has_buffer and step == 1, found_inf=found)
    return update


def adagrad_kernel(h) -> Update | None:
    """torch Adagrad: r ← r + g²; θ ← θ − α/(1 + (t−1)·lr_decay)·g/(√r + ε)."""
    if h.eps_inside_sqrt:
        return None
    steps = _step_tensors()

    def update(params, grads, state, group, step, found):
        torch._fused_adagrad_(params, grads, state["sum"], steps(params, step), lr=group["lr"],
                              lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                              eps=group["eps"], maximize=group["maximize"], found_inf=found)
    update.devices = ("cpu", "mps")  # torch has no CUDA kernel for Adagrad
    return update


def rmsprop_kernel(h) -> Update | None:
    """torch RMSprop without momentum, centering and weight decay, through ``_fused_adam_`` with
    β₁ = 0, β₂ = `alpha`, t = ∞. The kernel's m is the gradient itself: it writes m ← 0·m + 1·g,
    which leaves a finite gradient bit for bit as it was (tested); with ``maximize`` it would
    write −g into the gradient, so that case runs through the transforms."""
    if h.momentum or h.centered or h.weight_decay or h.eps_inside_sqrt or h.maximize:
        return None
    steps = _step_tensors()

    def update(params, grads, state, group, step, found):
        torch._fused_adam_(params, grads, grads, state["square_avg"], [], steps(params, float("inf")),
                           lr=group["lr"], amsgrad=False, beta1=0.0, beta2=group["alpha"], weight_decay=0.0,
                           eps=group["eps"], maximize=False, found_inf=found)
    return update


def adam_update(op, betas: str = "betas", eps: str = "eps") -> Update:
    """The update of torch's fused Adam kernel `op` (``_fused_adam_`` or ``_fused_adamw_``), β₁, β₂
    and ε read from the group keys `betas` and `eps` (Muon's AdamW group: ``adamw_betas``),
    amsgrad from ``amsgrad`` where the group has it."""
    steps = _step_tensors()

    def update(params, grads, state, group, step, found):
        b1, b2 = group[betas]
        op(params, grads, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq", []),
           steps(params, step), lr=group["lr"], amsgrad=group.get("amsgrad", False), beta1=b1, beta2=b2,
           weight_decay=group["weight_decay"], eps=group[eps], maximize=group["maximize"], found_inf=found)
    return update


def _adam(op) -> Callable:
    def kernel(h) -> Update | None:
        if not h.bias_correction or h.eps_inside_sqrt:
            return None
        return adam_update(op)
    return kernel


adam_kernel = _adam(torch._fused_adam_)
adam_kernel.__doc__ = "torch Adam (L2 on the gradient, amsgrad): θ ← θ − α·m̂/(√v̂ + ε)."
adamw_kernel = _adam(torch._fused_adamw_)
adamw_kernel.__doc__ = "torch AdamW: θ ← (1 − αλ)θ − α·m̂/(√v̂ + ε)."

__all__ = ["Update", "applicable", "sgd_kernel", "adagrad_kernel", "rmsprop_kernel", "adam_update", "adam_kernel",
           "adamw_kernel"]
