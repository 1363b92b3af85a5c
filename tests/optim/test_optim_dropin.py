"""Drop-in means drop-in: ``nnopt.optim.create(name, model.parameters(), **kw)`` is
``torch.optim.X(model.parameters(), **kw)`` — the groups as given (no 1-D split unless asked for),
torch's defaults, torch's trajectory (float64, a model with biases and a norm layer, 30 steps, with
and without weight decay) and a state dict that loads into torch's optimizer and back, training
then continuing identically. Every registered optimizer with a torch counterpart; the oracle is
torch's own class."""
import copy
import inspect

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import nnopt.optim as O
from nnopt.registry import OPTIMIZERS

ENTRIES = [e for e in OPTIMIZERS if isinstance(e.meta.get("torch_class"), type)]
TOL = 1e-12


def torch_defaults(cls) -> dict:
    return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def implied(entry) -> dict:
    """The torch arguments the entry's name stands for: its defaults that are not torch's, and the
    group keys it fixes (``momentum`` is SGD at momentum 0.9; ``nesterov`` adds nesterov=True)."""
    theirs = torch_defaults(entry.meta["torch_class"])
    own = {k: p.default for k, p in entry.params.items() if k in theirs and p.default != theirs[k]}
    return {**own, **entry.meta.get("fixed", {})}


def model(entry) -> nn.Module:
    """float64, with biases and a LayerNorm; torch's Muon takes 2-D parameters only."""
    torch.manual_seed(0)
    if entry.name == "muon":
        return nn.Sequential(nn.Linear(6, 12, bias=False), nn.Tanh(), nn.Linear(12, 3, bias=False)).double()
    return nn.Sequential(nn.Linear(6, 12), nn.LayerNorm(12), nn.Tanh(), nn.Linear(12, 3)).double()


X = torch.randn(96, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
Y = torch.arange(96) % 3


def train(m: nn.Module, opt, steps: int, start: int = 0) -> None:
    for t in range(start, start + steps):
        i = (t % 3) * 32
        opt.zero_grad()
        F.cross_entropy(m(X[i:i + 32]), Y[i:i + 32]).backward()
        opt.step()


def max_diff(a: nn.Module, b: nn.Module) -> float:
    return max(float((pa - pb).abs().max() / pb.abs().max()) for pa, pb in zip(a.parameters(), b.parameters()))


def test_every_counterpart_is_covered():
    assert {e.name for e in ENTRIES} >= {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
                                         "adamw", "nadam", "radam", "adamax", "adafactor", "muon"}


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.name == e.meta["torch_class"].__name__.lower()],
                         ids=lambda e: e.name)
def test_an_entry_named_after_torchs_class_has_torchs_defaults(entry):
    assert implied(entry) == {}, f"{entry.name}: defaults differ from torch's {implied(entry)}"


@pytest.mark.parametrize("decay", [None, 0.0, 0.1], ids=["default", "no_decay", "decay"])
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_trajectory_and_groups_are_torchs(entry, decay):
    kw = {} if decay is None else {"weight_decay": decay}
    a, b = model(entry), model(entry)
    ours = O.create(entry.name, a.parameters(), **kw)
    theirs = entry.meta["torch_class"](b.parameters(), **implied(entry), **kw)
    assert len(ours.param_groups) == len(theirs.param_groups) == 1
    assert ours.param_groups[0]["weight_decay"] == theirs.param_groups[0]["weight_decay"]
    train(a, ours, 30)
    train(b, theirs, 30)
    assert max_diff(a, b) <= TOL


@pytest.mark.parametrize("nnopt_first", [True, False], ids=["nnopt_to_torch", "torch_to_nnopt"])
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_state_dict_loads_both_ways_and_training_continues_identically(entry, nnopt_first):
    cls, kw = entry.meta["torch_class"], {"weight_decay": 0.1}
    make_ours = lambda m: O.create(entry.name, m.parameters(), **kw)  # noqa: E731
    make_theirs = lambda m: cls(m.parameters(), **implied(entry), **kw)  # noqa: E731
    first_make, second_make = (make_ours, make_theirs) if nnopt_first else (make_theirs, make_ours)
    a = model(entry)
    first = first_make(a)
    train(a, first, 10)
    b = copy.deepcopy(a)
    second = cls(b.parameters()) if nnopt_first else O.create(entry.name, b.parameters())  # defaults: loaded over
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    train(a, first, 10, start=10)
    train(b, second, 10, start=10)
    assert max_diff(a, b) <= TOL
    del second_make


def test_the_recipe_default_split_is_an_explicit_option():
    m = model(ENTRIES[0])
    split = O.create("adamw", m.named_parameters(), no_decay_1d=True)
    decay, keep = split.param_groups
    assert decay["weight_decay"] == 0.01 and keep["weight_decay"] == 0.0
    assert keep["param_names"] == ["0.bias", "1.weight", "1.bias", "3.bias"]
    assert len(O.create("adamw", m.parameters()).param_groups) == 1
