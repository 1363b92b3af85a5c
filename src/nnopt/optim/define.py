"""One registration per optimizer: its hyperparameters, its chain, optionally torch's kernel.

    from nnopt.optim.define import register, LR, WEIGHT_DECAY
    from nnopt.optim.transforms import add_l2, chain, scale_by_lr, trace

    @register("heavy_ball", torch_class=torch.optim.SGD, hyper={
        "lr": LR(1e-2), "momentum": Param(float, 0.9, ge=0, lt=1, doc="ρ"), "weight_decay": WEIGHT_DECAY})
    def heavy_ball(h):
        '''Heavy ball: b ← ρb + g + λθ; θ ← θ − αb (torch.optim.SGD with momentum).'''
        return chain(add_l2(h.weight_decay), trace(h.momentum), scale_by_lr())

The decorated function is the chain builder ``build(h)``: ``h.momentum`` is a `Ref` the
transforms read at every step (schedules may move it); booleans and strings come as they are
(see `nnopt.optim.hyper`). From the registration follow the factory (``nnopt.optim.create``,
``OPTIMIZERS.create``), validation with ConfigErrors naming the field, ``nnopt list``, recipes,
HPO spaces, the docs table check and the tests parametrized over the registry. Every optimizer
also takes `OPTIONS`. Adding an optimizer whose math is new = one transform (see the contract in
`nnopt.optim.transforms`) + one registration + its oracle test.

register(name, hyper=..., torch_class=None, kernel=None, structural=(), check=None, fixed=None,
         torch_names=None, optimizer=ChainOptimizer)
  hyper        {name: Param}: defaults, ranges, docs (lr first) — torch's defaults where torch has
               the algorithm; weight_decay > 0 with ``no_decay_1d=True`` (a recipe's default)
               puts 1-D parameters in a group without decay
  torch_class  torch.optim's class of the same algorithm (the tests' oracle, state_dict parity)
  kernel       ``kernel(h) -> update | None``: torch's fused kernel when it computes the chain
               (see `nnopt.optim.native`)
  structural   numeric hyperparameters read once (not per step), e.g. an initial value
  check        ``check(values)`` raising ValueError for a cross-field rule (run on the validated
               values when a recipe is read and by ``create``: `nnopt.registry.Registry.check`)
  fixed        group keys every group gets (e.g. ``nesterov=True`` for "nesterov")
  torch_names  {torch argument: `nnopt.torch_names.TorchName`}: torch_class's arguments this entry
               spells differently or does not take (the unknown-field hint, ``nnopt list``, docs)
  optimizer    ``optimizer(params, build, **values)`` makes the optimizer: a ChainOptimizer
               subclass (e.g. with train()/eval()), or a function that arranges the groups first
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from ..params import Param
from ..registry import OPTIMIZERS
from .groups import split_no_decay
from .nonfinite import NONFINITE, NONFINITE_DEFAULT
from .optimizer import ChainOptimizer


def LR(default: float) -> Param:
    """The learning-rate field with its default."""
    return Param(float, default, ge=0, doc="learning rate α")


WEIGHT_DECAY = Param(float, 0.0, ge=0, doc="λ: L2 added to the gradient, g + λθ (torch)")

OPTIONS = {
    # the one default a recipe changes (recipe.py: true there): the library keeps torch's groups
    "no_decay_1d": Param(bool, False, doc="put 1-D params (biases, norm weights) in a group without weight decay "
                                          "(false: the groups as given, torch's; a recipe's default is true)"),
    "nonfinite": Param(str, NONFINITE_DEFAULT, choices=NONFINITE,
                       doc="for library use (a run's Trainer screens itself): on a NaN/inf gradient "
                           "ignore (torch's behaviour, free), skip the step decided on the device "
                           "(one more read of the gradients; skipped_steps counts them) or raise "
                           "naming the parameter (a host read per step)"),
    "fused": Param(bool, None, nullable=True,
                   doc="torch's fused kernel: true = required (an error where there is none), false = "
                       "never, none = where available"),
    "compile": Param(bool, None, nullable=True,
                     doc="torch.compile'd update: true = from step 2, false = never, none = from step 2000 "
                         "with ≥ 1M elements, where no fused kernel runs"),
    "foreach": Param(bool, None, nullable=True, doc="false: one tensor at a time (torch's for-loop)"),
    "maximize": Param(bool, False, doc="ascend the objective: the update of −g (torch)"),
    "capturable": Param(bool, False, doc="torch's CUDA-graph option: only false (steps are counted on the host)"),
    "differentiable": Param(bool, False, doc="torch's option: only false (updates run in place under no_grad)"),
}


def register(name: str, *, hyper: Mapping[str, Param], torch_class: type | None = None,
             kernel: Callable | None = None, structural: tuple[str, ...] = (),
             check: Callable[[dict], None] | None = None, fixed: Mapping[str, Any] | None = None,
             torch_names: Mapping[str, Any] | None = None, optimizer: Callable = ChainOptimizer) -> Callable:
    """Register `build` (the decorated chain builder) as optimizer `name` (see the module doc)."""
    def decorate(build: Callable) -> Callable:
        build.kernel, build.structural, build.torch_class = kernel, frozenset(structural), torch_class

        def factory(params, **values):
            decay_1d = values.pop("no_decay_1d", False)
            if values.get("weight_decay", 0.0) > 0 and decay_1d:
                params = split_no_decay(params, values["weight_decay"])
            return optimizer(params, build, **values, **(fixed or {}))

        factory.__doc__, factory.__name__ = build.__doc__, name
        OPTIMIZERS.register(name, params={**hyper, **OPTIONS}, skip=1, torch_class=torch_class, check=check,
                            build=build, fixed=dict(fixed or {}), torch_names=dict(torch_names or {}))(factory)
        return build
    return decorate


__all__ = ["register", "OPTIONS", "LR", "WEIGHT_DECAY"]
