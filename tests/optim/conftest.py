"""Shared pieces of the optimizer tests: a small real CNN on real data, a training loop, a check
that torch.compile compiled what it should."""
import contextlib
import copy
import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F


def _data():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images[:96], dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(bunch.target[:96])


X, Y = _data()


def beyond() -> list[str]:
    """The optimizers beyond the chapter: the entries nnopt.optim.beyond's modules register (by
    where their chain, else their factory, lives)."""
    from nnopt.registry import OPTIMIZERS

    return [e.name for e in OPTIMIZERS
            if (e.meta.get("build") or e.factory).__module__.startswith("nnopt.optim.beyond.")]


def small_cnn(seed: int = 0) -> nn.Module:
    """Conv → ReLU → pool → Linear → LayerNorm → ReLU → Linear: 2-D, 4-D and 1-D parameters."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 10))


def train(model: nn.Module, opt, steps: int, lr=None, start: int = 0, loss_extra=None):
    """`steps` mini-batch steps (batches of 32 in a fixed cycle, in the model's dtype); lr(t) sets
    every group's lr."""
    x = X.to(next(model.parameters()).dtype)
    for t in range(start, start + steps):
        i = (t % 3) * 32
        if lr is not None:
            for g in opt.param_groups:
                g["lr"] = lr(t)
        opt.zero_grad()
        loss = F.cross_entropy(model(x[i:i + 32]), Y[i:i + 32])
        if loss_extra is not None:
            loss = loss + loss_extra(model)
        loss.backward()
        opt.step()
    return model


def rel_err(a: nn.Module, b: nn.Module) -> float:
    """max over parameter tensors of ‖a − b‖/‖b‖."""
    with torch.no_grad():
        return max(float((pa - pb).norm() / pb.norm()) for pa, pb in zip(a.parameters(), b.parameters()))


def runs_native(opt) -> bool:
    """Whether every param group of an nnopt optimizer steps with torch's fused kernel."""
    from nnopt.optim.native import applicable

    kernels = [opt._rules_for(g)[1] for g in opt.param_groups]
    return all(k is not None and applicable(k, g["params"]) and g["fused"] is not False and not g["compile"]
               for k, g in zip(kernels, opt.param_groups))


@pytest.fixture(autouse=True)
def every_test_on_one_thread(one_thread):
    """The optimizer tests' tensors are tiny: each runs on one torch thread (tests/conftest.py)."""


@pytest.fixture
def twins():
    """Two identical copies of the small CNN."""
    m = small_cnn()
    return m, copy.deepcopy(m)


@contextlib.contextmanager
def compiled_exactly(frames: int):
    """Fails when a compile falls back to eager (its RuntimeWarning becomes an error), breaks its
    graph, or does not compile exactly `frames` frames into generated kernels."""
    from torch._dynamo.utils import counters
    from torch._inductor import metrics

    counters.clear()
    metrics.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield
    assert counters["frames"]["ok"] == frames and counters["stats"]["unique_graphs"] == frames
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert metrics.generated_kernel_count >= frames
