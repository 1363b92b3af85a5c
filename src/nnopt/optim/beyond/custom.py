"""Registration of an optimizer whose factory does more than `nnopt.optim.define.register`'s
(one ChainOptimizer over the given groups): Muon splits the parameters into two groups,
schedule-free returns a ChainOptimizer with train()/eval(), SAM wraps another optimizer. Same
registry entry as `define.register` (hyperparameters + `OPTIONS`, the chain builder as ``build``,
the reference class as ``torch_class``), so recipes, ``nnopt list`` and HPO spaces see no difference."""
from __future__ import annotations

from typing import Callable, Mapping

from ...params import Param
from ...registry import OPTIMIZERS
from ..define import OPTIONS


def register(name: str, factory: Callable, build: Callable | None, *, hyper: Mapping[str, Param], doc: str,
             torch_class: type | None = None, options: Mapping[str, Param] = OPTIONS) -> None:
    """Register ``factory(params, **values)`` under `name`; `doc` is the entry's description (its
    first paragraph) and the factory's docstring."""
    def create(params, **values):
        return factory(params, **values)

    create.__doc__, create.__name__ = doc, name
    OPTIMIZERS.register(name, params={**hyper, **options}, skip=1, torch_class=torch_class, build=build)(create)


__all__ = ["register"]
