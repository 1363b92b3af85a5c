"""One registration per optimizer: everything follows from it (factory, validation, nnopt list,
recipes, docs); a new optimizer is a transform + a registration; a plain function is a
transform on every path; scheduled hyperparameters are read per step, not cache keys."""
import contextlib
import re
from pathlib import Path

import pytest
import torch
from conftest import X, Y, compiled_exactly, rel_err, small_cnn, train
from torch.nn import functional as F

import nnopt.optim as O
from nnopt.errors import ConfigError
from nnopt.optim import transforms as T
from nnopt.optim.define import LR, register
from nnopt.params import Param, describe_spec
from nnopt.recipe import Recipe
from nnopt.registry import OPTIMIZERS

DOCS = Path(__file__).resolve().parents[2] / "docs"
NAMES = O.available()


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_optimizer_builds_as_the_builder_calls_it(name):
    """The Trainer's builder: OPTIMIZERS.create(name, named_parameters(), field=..., nonfinite="ignore")."""
    model = small_cnn()
    opt = OPTIMIZERS.create(name, model.named_parameters(), field="optimizer", nonfinite="ignore")
    assert isinstance(opt, torch.optim.Optimizer) and opt.nonfinite == "ignore"
    entry = OPTIMIZERS.get(name)
    assert entry.description and {"lr", "nonfinite", "fused", "compile", "maximize"} <= set(entry.params)
    before = [p.detach().clone() for p in model.parameters()]

    def closure():  # some optimizers (SAM) take a second gradient
        opt.zero_grad()
        loss = F.cross_entropy(model(X[:32]), Y[:32])
        loss.backward()
        return loss
    for _ in range(2):
        closure()
        opt.step(closure)
    assert not all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_every_registered_optimizer_is_in_the_docs():
    rows = set()
    for page in DOCS.glob("optimizers*.md"):
        rows |= set(re.findall(r"^\| `(\w+)` \|", page.read_text(), flags=re.M))
    missing = [name for name in NAMES if name not in rows]
    assert not missing, f"registered optimizers missing from docs/optimizers*.md tables: {missing}"


@pytest.fixture
def sign_sgd():
    """A new optimizer as a user adds one: a plain function (its math) + a registration."""
    @register("test_sign_sgd", torch_class=None, hyper={
        "lr": LR(0.01), "weight_decay": Param(float, 0.0, ge=0, doc="λ")})
    def build(h):
        """signSGD: θ ← θ − α·sign(g + λθ)."""
        return T.chain(T.add_l2(h.weight_decay), torch.sign, T.scale_by_lr())
    yield "test_sign_sgd"
    OPTIMIZERS._entries.pop("test_sign_sgd")


def test_a_registration_gives_factory_validation_listing_and_recipes(sign_sgd):
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 0.0]))
    opt = O.create(sign_sgd, [p], lr=0.1, weight_decay=0.5, no_decay_1d=False)
    p.grad = torch.tensor([0.3, 0.4, -2.0, 0.0])
    opt.step()
    expected = torch.tensor([1.0, -2.0, 0.5, 0.0]) - 0.1 * torch.tensor([1.0, -1.0, -1.0, 0.0])  # sign(g + λθ)
    assert torch.equal(p.detach(), expected)
    with pytest.raises(ConfigError, match=r"optimizer.weight_decay = -1 — must be >= 0"):
        O.create(sign_sgd, [p], weight_decay=-1)
    assert any(line.startswith("lr = 0.01") for line in describe_spec(OPTIMIZERS.get(sign_sgd).params))
    assert Recipe({"optimizer": {"name": sign_sgd}}).optimizer["lr"] == 0.01
    assert OPTIMIZERS.get(sign_sgd).description == "signSGD: θ ← θ − α·sign(g + λθ)"


class Halve:
    """A user's transform that writes into u in place and never heard of `materialize`."""

    slots = ()

    def init(self, params):
        return {}

    def update(self, updates, state, ctx):
        torch._foreach_mul_(updates, 0.5)
        return updates


class HalfKeepLast(T.Stateful):
    """A user's stateful transform on the `Stateful` base: halves u in place and keeps a copy.
    After Adam it gets u with Adam's pending scale and division applied, and no pending factors."""

    slots = ("last",)

    def apply(self, updates, state, ctx):
        assert not isinstance(ctx, T.FusionContext) and not hasattr(ctx, "scale")
        torch._foreach_mul_(updates, 0.5)
        torch._foreach_copy_(state["last"], updates)
        return updates


def _ema(u, s):
    new = 0.9 * s["ema"] + u
    return new, {"ema": new}


# Each user chain and the torch optimizer computing the same update.
USER = {
    "stateless": (T.chain(Halve(), T.scale_by_lr()), lambda ps: torch.optim.SGD(ps, lr=0.05)),
    "pure_stateful": (T.chain(T.pure(_ema, state={"ema": torch.zeros_like}), T.scale_by_lr()),
                      lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    "after_rms": (T.chain(T.scale_by_rms(0.9), Halve(), T.scale_by_lr()),
                  lambda ps: torch.optim.RMSprop(ps, lr=0.05, alpha=0.9)),
    "stateful_after_adam": (T.chain(T.scale_by_adam(), HalfKeepLast(), T.scale_by_lr()),
                            lambda ps: torch.optim.Adam(ps, lr=0.05)),
}


@pytest.mark.parametrize("path", [dict(compile=False), dict(foreach=False), dict(compile=True)])
@pytest.mark.parametrize("case", USER)
def test_user_transforms_run_correctly_on_every_path(case, path):
    """A transform writing into u in place, and a pure function with state: on the eager,
    per-tensor and compiled paths (one graph, no break) they follow torch, and p.grad is never
    written."""
    chain, oracle = USER[case]
    a, b = small_cnn(), small_cnn()
    ours = O.ChainOptimizer(a.parameters(), chain, lr=0.1, **path)
    theirs = oracle(list(b.parameters()))
    with compiled_exactly(1) if path.get("compile") else contextlib.nullcontext():
        train(a, ours, 6)
    train(b, theirs, 6)
    assert rel_err(a, b) <= 1e-6
    before = [p.grad.clone() for p in a.parameters()]
    ours.step()
    assert all(torch.equal(g, p.grad) for g, p in zip(before, a.parameters()))


def test_scheduled_momentum_is_read_per_step_without_new_chains():
    """One-cycle with cycle_momentum drives momentum each step: the eager transforms follow torch
    SGD under the same schedule, and the optimizer builds one chain (the first one-cycle step
    values differ from every later one)."""
    from nnopt.schedules import ScheduleLR, create

    a, b = small_cnn(), small_cnn()
    ours = O.create("momentum", a.parameters(), lr=0.1, fused=False)
    theirs = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    for model, opt in ((a, ours), (b, theirs)):
        sched = ScheduleLR(opt, create("one_cycle", lr=0.1, total_steps=30, cycle_momentum=True))
        for t in range(30):
            opt.zero_grad()
            F.cross_entropy(model(X[:32]), Y[:32]).backward()
            opt.step()
            sched.step()
    assert len({round(m, 6) for m in [create("one_cycle", lr=0.1, total_steps=30, cycle_momentum=True)
                                       .drives["momentum"](t) for t in range(30)]}) > 20
    assert rel_err(a, b) <= 1e-6
    assert len(ours._chains) == 1


def test_a_number_becoming_zero_or_not_is_structural():
    """weight_decay 0 → 0.1 → 0.2 mid-run: one new chain for 0 → non-zero (add_l2 joins the chain),
    none for 0.1 → 0.2 (read per step); the trajectory is torch's under the same changes."""
    a, b = small_cnn(), small_cnn()
    ours = O.create("momentum", a.parameters(), lr=0.05, no_decay_1d=False, fused=False)
    theirs = torch.optim.SGD(b.parameters(), lr=0.05, momentum=0.9)
    for start, wd in ((0, 0.0), (5, 0.1), (10, 0.2)):
        for model, opt in ((a, ours), (b, theirs)):
            opt.param_groups[0]["weight_decay"] = wd
            train(model, opt, 5, start=start)
    assert len(ours._chains) == 2
    assert rel_err(a, b) <= 1e-6
