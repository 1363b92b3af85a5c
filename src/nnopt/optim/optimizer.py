"""`ChainOptimizer`: a torch.optim.Optimizer that runs a transform chain per param group.

Per group and step: u = chain(g) over the parameters that have a gradient, then θ ← θ + u.
Hyperparameters live in the param groups (as in torch), so per-group settings, schedulers and
``state_dict`` work as torch users expect; ``optimizer.param_groups[i]["lr"]`` is the lr in use,
and a schedule may set any numeric hyperparameter (``momentum``, ``betas``) between steps: it is
read at the next step, like lr. Each parameter's state holds the chain's buffers, under torch's
names; steps are counted on the host, per group (`nnopt.optim.steps`), and ``state_dict()`` adds
torch's per-parameter ``step`` tensors, so state dicts load into torch's optimizer of the same
algorithm and back.

Which update runs, per group (``fused``, ``compile``; same numbers up to float rounding):

| fused | compile | update |
|---|---|---|
| None (default) | None (default) | torch's fused kernel where it computes this chain on this device; else the transforms' ``_foreach`` ops (eager), compiled from step 2000 on when ≥ 1M elements are updated |
| True | None / False | torch's fused kernel; ConfigError where there is none |
| None / False | True | the compiled update from step 2 (step 1, which creates buffers, runs eager) |
| False | None / False | the transforms only (``foreach=False``: one tensor at a time, torch's for-loop) |

The default step does no ``.item()`` and no device→host sync: step counts live on the host. The NaN/inf screen is opt-in: ``nonfinite="skip"`` decides on the device, without a sync, but
costs one more read of every gradient (no kernel can fold it into the update: the decision needs
all gradients before the first write), so the default is torch's: no screen. A run's Trainer
screens with the norms it takes anyway (``train.nonfinite``).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import Tensor

from ..errors import NonFiniteGradientError
from .blocks import blocks
from .compiled import CompiledRule, apply_update, hyper_values
from .groups import normalize_groups
from .hyper import Hyper, structure
from .native import Update, applicable
from .nonfinite import NONFINITE, NONFINITE_DEFAULT, check_finite, found_nonfinite
from .steps import GroupSteps, step_tensor
from .transforms import Transform, refs_of

class ChainOptimizer(torch.optim.Optimizer):
    """Run `transform` on each param group: θ ← θ + transform(g).

    transform   a Transform (the same for every group), or ``build(h) -> Transform`` building one
                per group from its hyperparameters (`nnopt.optim.hyper.Hyper`); ``build.kernel(h)``
                may offer torch's fused kernel, ``build.structural`` names numbers read once
    lr          the learning rate α (a float or a 0-d tensor), per group
    nonfinite   on a NaN/inf gradient: "ignore" (default: no check, torch's behaviour), "skip"
                (decided on the device, no sync, one more read of the gradients: parameters and
                buffers keep their values, ``skipped_steps`` counts it; on the CPU eager path the
                flag, in host memory, is read once) or "raise" (NonFiniteGradientError naming the
                parameter; reads the device every step)
    fused, compile, foreach, maximize   see the module doc; ``maximize`` ascends, as in torch
    capturable, differentiable   torch's options; only False is supported (see `refuse`)
    hyper       further group defaults read by `build`
    """

    def __init__(self, params: Iterable, transform: Transform | Callable[[Hyper], Transform], *,
                 lr: float | Tensor = 1e-3, nonfinite: str = NONFINITE_DEFAULT, fused: bool | None = None,
                 compile: bool | None = None, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, **hyper: Any):
        if not isinstance(lr, Tensor) and lr < 0:
            raise ValueError(f"lr = {lr!r} — must be >= 0")
        if nonfinite not in NONFINITE:
            raise ValueError(f"nonfinite = {nonfinite!r} — must be one of {', '.join(map(repr, NONFINITE))}")
        for name, value in (("fused", fused), ("compile", compile), ("foreach", foreach)):
            if value not in (None, True, False):
                raise ValueError(f"{name} = {value!r} — must be true, false or none")
        refuse(capturable=capturable, differentiable=differentiable)
        if fused and (compile or foreach):
            raise ValueError(f"fused = true — cannot be combined with {'compile' if compile else 'foreach'} = true "
                             "(torch's fused kernel is the whole update)")
        defaults = dict(lr=lr, maximize=maximize, foreach=foreach, fused=fused, compile=compile,
                        capturable=False, differentiable=False, **hyper)
        super().__init__(normalize_groups(params), defaults)
        self._build = transform if callable(transform) and not hasattr(transform, "update") else None
        self._fixed = None if self._build else transform
        self._kernel = getattr(self._build, "kernel", None)
        self._structural = frozenset(getattr(self._build, "structural", ()))
        self._chains: dict[tuple, tuple[Transform, Update | None, tuple]] = {}
        self._steps: dict[int, GroupSteps] = {}  # id(group) → its counts (`_steps_of`)
        self._rule = CompiledRule()
        self._skipped: Tensor | None = None
        self._host_found: tuple[Tensor, bool] | None = None
        self.nonfinite = nonfinite
        for group in self.param_groups:
            if group["fused"]:
                self._check_fused(group)

    def _check_fused(self, group: dict) -> None:
        kernel = self._rules_for(group)[1]
        if kernel is None or not applicable(kernel, group["params"]):
            where = "for this algorithm and these options" if kernel is None else \
                f"on {group['params'][0].device.type} for {group['params'][0].dtype}"
            raise ValueError(f"fused = true — torch has no fused kernel {where}; use compile = true (one "
                             "compiled kernel), fused = none (the fastest available) or fused = false")

    # -- the chain of a group --------------------------------------------------------------
    def transform_for(self, group: dict) -> Transform:
        """The group's transform, rebuilt only when a structural option changes."""
        return self._rules_for(group)[0]

    def _rules_for(self, group: dict) -> tuple[Transform, Update | None, tuple]:
        """(transform, torch's fused kernel for it or None, the Refs it reads), cached by structure."""
        if self._fixed is not None:
            return self._fixed, None, refs_of(self._fixed)
        key = structure(group, self._structural)
        if key not in self._chains:
            h = Hyper(group, self._structural)
            transform = self._build(h)
            self._chains[key] = (transform, self._kernel(h) if self._kernel else None, refs_of(transform))
        return self._chains[key]

    @property
    def skipped_steps(self) -> Tensor | None:
        """How many steps ``nonfinite="skip"`` skipped: a 0-d tensor on the parameters' device
        (reading it is a sync; read it where you read the loss). None before the first step."""
        return self._skipped

    # -- torch compatibility ---------------------------------------------------------------
    def __setstate__(self, state: dict) -> None:
        """Groups from another optimizer's state dict (torch's) get this one's defaults for the
        keys they lack; the ``step`` tensors become the groups' host counts."""
        super().__setstate__(state)
        self._steps = {}
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)
            self._steps[id(group)] = GroupSteps.loaded(group, self.state)

    def state_dict(self) -> dict:
        """torch's state dict, each stepped parameter's state with torch's ``step`` tensor."""
        out = super().state_dict()
        index = 0
        for group in self.param_groups:
            steps = self._steps_of(group)
            for p in group["params"]:
                count = steps.count(p)
                if count:
                    out["state"][index] = {"step": step_tensor(count), **out["state"].get(index, {})}
                index += 1
        return out

    def _steps_of(self, group: dict) -> GroupSteps:
        """The group's step counts (a group added by ``add_param_group`` starts at 0)."""
        steps = self._steps.get(id(group))
        if steps is None or steps.group is not group:
            steps = self._steps[id(group)] = GroupSteps(group)
        return steps

    # -- the step ----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None):
        """One update of every parameter that has a gradient. Returns closure's loss, if any."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work = []
        for index, group in enumerate(self.param_groups):
            members = group["params"]
            grads = [p.grad for p in members]
            chosen = None
            if any(g is None for g in grads):
                chosen = [i for i, g in enumerate(grads) if g is not None]
                if not chosen:
                    continue
                grads = [grads[i] for i in chosen]
            if any(g.is_sparse for g in grads):
                raise ValueError("nnopt optimizers do not support sparse gradients")
            params = members if chosen is None else [members[i] for i in chosen]
            work.append((index, chosen, group, params, grads))
        if not work:
            return loss
        all_grads = [g for w in work for g in w[4]] if len(work) > 1 else work[0][4]
        found = None
        if self.nonfinite == "raise":
            labels = [(index, group.get("param_names"), i) for index, chosen, group, params, _ in work
                      for i in (range(len(params)) if chosen is None else chosen)]
            bad = check_finite(all_grads, lambda k: _label(*labels[k]))
            if bad is not None:
                raise NonFiniteGradientError(bad)
        elif self.nonfinite == "skip":
            found = found_nonfinite(all_grads)
            if self._skipped is None:
                self._skipped = torch.zeros((), dtype=found.dtype, device=found.device)
            self._skipped.add_(found)
        numel = _Lazy(lambda: sum(p.numel() for w in work for p in w[3]))
        for _, chosen, group, params, grads in work:
            self._update_group(group, chosen, params, grads, found, numel)
        return loss

    def _skip_on_host(self, found: Tensor) -> bool:
        """The CPU flag `found` as a bool, read once per step."""
        if self._host_found is None or self._host_found[0] is not found:
            self._host_found = (found, bool(found))
        return self._host_found[1]

    def _update_group(self, group: dict, chosen: list[int] | None, params: list[Tensor], grads: list[Tensor],
                      found, numel: "_Lazy"):
        transform, kernel, refs = self._rules_for(group)
        if kernel is not None and (group["fused"] is False or group["compile"] or not applicable(kernel, params)):
            kernel = None
        steps = self._steps_of(group)
        hyper = hyper_values(group, refs)
        for step, idx in steps.advance(chosen):
            pick = (lambda xs: xs) if idx is None else (lambda xs: [xs[i] for i in idx])
            ps, gs = pick(params), pick(grads)
            state = steps.state(transform, ps, self.state, step == 1)
            if kernel is not None:
                kernel(ps, gs, state, group, step, found)
            elif step > 1 and self._rule.use(group["compile"], step - 1, numel):
                self._rule.run(transform, ps, gs, state, hyper, step, found, group["maximize"])
            elif found is not None and found.device.type == "cpu":
                # On the CPU the flag is in host memory: reading it waits for nothing, and skipping
                # costs less than the device-side select over everything the update writes.
                if not self._skip_on_host(found):
                    for bp, bg, bs in blocks(transform, ps, gs, state, group["foreach"] is False, steps.numel):
                        apply_update(transform, bp, bg, bs, hyper, step, step == 1, None, group["maximize"])
            else:
                for bp, bg, bs in blocks(transform, ps, gs, state, group["foreach"] is False, steps.numel):
                    apply_update(transform, bp, bg, bs, hyper, step, step == 1, found, group["maximize"])


class _Lazy:
    """A number computed on first use (the step's element count, which only the compile rule
    reads, and only from step 2000 on)."""

    def __init__(self, compute: Callable[[], int]):
        self._compute, self._value = compute, None

    def __int__(self) -> int:
        if self._value is None:
            self._value = self._compute()
        return self._value


def refuse(**options: bool) -> None:
    """ValueError for torch's ``capturable`` / ``differentiable`` set true, saying why."""
    why = {"capturable": "nnopt counts steps on the host, which a CUDA graph cannot capture; "
                         "use torch.optim's optimizer with capturable=True",
           "differentiable": "nnopt updates parameters in place under no_grad, so the step is not "
                             "differentiable; use torch.optim's optimizer with differentiable=True"}
    for name, value in options.items():
        if value:
            raise ValueError(f"{name} = true — not supported: {why[name]}")


def _label(index: int, names: list[str] | None, i: int) -> str:
    """How a message names parameter i of group `index`."""
    return names[i] if names else f"param_groups[{index}]['params'][{i}]"


__all__ = ["ChainOptimizer", "refuse"]
