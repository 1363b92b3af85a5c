"""`ChainOptimizer`: a torch.optim.Optimizer that runs a transform chain per param group.

Per group and step: u = chain(g) over the parameters that have a gradient, then θ ← θ + u.
Hyperparameters live in the param groups (as in torch), so per-group settings, schedulers and
``state_dict`` work as torch users expect; ``optimizer.param_groups[i]["lr"]`` is the lr in use,
and a schedule may set any numeric hyperparameter (``momentum``, ``betas``) between steps: it is
read at the next step, like lr. Each parameter's state holds ``step`` (a float tensor on the CPU,
as in torch) and the chain's buffers; state dicts load into torch's optimizer of the same
algorithm and back.

Which update runs, per group (``fused``, ``compile``; same numbers up to float rounding):

| fused | compile | update |
|---|---|---|
| None (default) | None (default) | torch's fused kernel where it computes this chain on this device; else the transforms' ``_foreach`` ops (eager), compiled from step 2000 on when ≥ 1M elements are updated |
| True | None / False | torch's fused kernel; ConfigError where there is none |
| None / False | True | the compiled update from step 2 (step 1, which creates buffers, runs eager) |
| False | None / False | the transforms only (``foreach=False``: one tensor at a time, torch's for-loop) |

The default step does no ``.item()`` and no device→host sync: step counts are mirrored on the
host. The NaN/inf screen is opt-in: ``nonfinite="skip"`` decides on the device, without a sync, but
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
        self._counts: dict[Tensor, tuple[Tensor, int]] = {}
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
        keys they lack; step counters become float32 CPU tensors (torch's fused kernels keep
        them on the device)."""
        super().__setstate__(state)
        for group in self.param_groups:
            for key, value in self.defaults.items():
                group.setdefault(key, value)
            for p in group["params"]:
                st = self.state.get(p)
                if st and torch.is_tensor(st.get("step")) and st["step"].device.type != "cpu":
                    st["step"] = st["step"].to("cpu", torch.float32)

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
            chosen = [i for i, p in enumerate(group["params"]) if p.grad is not None]
            if not chosen:
                continue
            params = [group["params"][i] for i in chosen]
            grads = [p.grad for p in params]
            if any(g.is_sparse for g in grads):
                raise ValueError("nnopt optimizers do not support sparse gradients")
            work.append((index, chosen, group, params, grads))
        if not work:
            return loss
        all_grads = [g for w in work for g in w[4]]
        found = None
        if self.nonfinite == "raise":
            labels = [(index, group.get("param_names"), i) for index, chosen, group, *_ in work for i in chosen]
            bad = check_finite(all_grads, lambda k: _label(*labels[k]))
            if bad is not None:
                raise NonFiniteGradientError(bad)
        elif self.nonfinite == "skip":
            found = found_nonfinite(all_grads)
            if self._skipped is None:
                self._skipped = torch.zeros((), dtype=found.dtype, device=found.device)
            self._skipped.add_(found)
        numel = sum(p.numel() for w in work for p in w[3])
        for *_, group, params, grads in work:
            self._update_group(group, params, grads, found, numel)
        return loss

    def _skip_on_host(self, found: Tensor) -> bool:
        """The CPU flag `found` as a bool, read once per step."""
        if self._host_found is None or self._host_found[0] is not found:
            self._host_found = (found, bool(found))
        return self._host_found[1]

    def _steps(self, params: list[Tensor], states: list[dict], transform: Transform) -> list[int]:
        """Each parameter's step t after this update, from the host mirror (a counter loaded or
        set from outside is read once); the state tensors are incremented in one op."""
        out = []
        for p, st in zip(params, states):
            seen = self._counts.get(p)
            if not st:
                st["step"], done = torch.tensor(0.0), 0
                st.update({k: v[0] for k, v in transform.init([p]).items()})
            elif "step" not in st:  # torch's SGD counts no steps: its buffers mean t ≥ 1
                st["step"], done = torch.tensor(1.0), 1
            else:
                done = seen[1] if seen is not None and seen[0] is st["step"] else int(st["step"])
            self._counts[p] = (st["step"], done + 1)
            out.append(done + 1)
        counters = [st["step"] for st in states]
        torch._foreach_add_(counters, 1.0)
        return out

    def _update_group(self, group: dict, params: list[Tensor], grads: list[Tensor], found, numel: int):
        transform, kernel, refs = self._rules_for(group)
        if kernel is not None and (group["fused"] is False or group["compile"] or not applicable(kernel, params)):
            kernel = None
        states = [self.state[p] for p in params]
        by_step: dict[int, list[int]] = {}
        for i, t in enumerate(self._steps(params, states, transform)):
            by_step.setdefault(t, []).append(i)
        hyper = hyper_values(group, refs)
        for step, idx in by_step.items():
            pick = (lambda xs: [xs[i] for i in idx]) if len(idx) < len(params) else (lambda xs: xs)
            ps, gs, sts = pick(params), pick(grads), pick(states)
            state = {k: [st[k] for st in sts] for k in transform.slots}
            if kernel is not None:
                kernel(ps, gs, state, group, step, found)
            elif self._rule.use(group["compile"], step - 1, numel) and step > 1:
                self._rule.run(transform, ps, gs, state, hyper, step, found, group["maximize"])
            elif found is not None and found.device.type == "cpu":
                # On the CPU the flag is in host memory: reading it waits for nothing, and skipping
                # costs less than the device-side select over everything the update writes.
                if not self._skip_on_host(found):
                    for bp, bg, bs in blocks(transform, ps, gs, state, per_tensor=group["foreach"] is False):
                        apply_update(transform, bp, bg, bs, hyper, step, step == 1, None, group["maximize"])
            else:
                for bp, bg, bs in blocks(transform, ps, gs, state, per_tensor=group["foreach"] is False):
                    apply_update(transform, bp, bg, bs, hyper, step, step == 1, found, group["maximize"])


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
