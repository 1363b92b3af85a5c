"""Clipping equals torch's clip_grad_value_/clip_grad_norm_; per-tensor norm and AGC by hand."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nnopt import ConfigError, clip
from nnopt.registry import CLIPPING

SHAPES = [(4, 3), (3,), (2, 3, 2, 2), ()]


def params_with_grads(seed, scale=3.0, shapes=SHAPES):
    g = torch.Generator().manual_seed(seed)
    ps = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.randn(shape, generator=g, dtype=torch.float64))
        p.grad = torch.randn(shape, generator=g, dtype=torch.float64) * scale
        ps.append(p)
    return ps


def twin(ps):
    out = [torch.nn.Parameter(p.detach().clone()) for p in ps]
    for q, p in zip(out, ps):
        q.grad = p.grad.clone()
    return out


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), max_norm=st.floats(0.01, 20.0), norm_type=st.sampled_from([2.0, 1.0, 3.0]))
def test_global_norm_equals_torch(seed, max_norm, norm_type):
    ours, theirs = params_with_grads(seed), None
    theirs = twin(ours)
    n1 = clip.by_global_norm(ours, max_norm, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=True)
    assert float(n1) == pytest.approx(float(n2), rel=1e-12)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), bound=st.floats(0.01, 5.0))
def test_value_equals_torch(seed, bound):
    ours = params_with_grads(seed)
    theirs = twin(ours)
    before = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours]))
    n = clip.by_value(ours, -bound, bound)
    torch.nn.utils.clip_grad_value_(theirs, bound, foreach=True)
    assert float(n) == pytest.approx(float(before), rel=1e-12)
    for a, b in zip(ours, theirs):
        assert torch.equal(a.grad, b.grad)


def test_value_asymmetric_bounds():
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([-3.0, -0.5, 0.5, 3.0])
    clip.by_value([p], -1.0, 2.0)
    assert p.grad.tolist() == [-1.0, -0.5, 0.5, 2.0]


def test_per_tensor_norm_scales_only_tensors_above_the_bound():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    a.grad, b.grad = torch.tensor([3.0, 4.0]), torch.tensor([0.3, 0.4])  # norms 5 and 0.5
    norms = clip.by_norm([a, b], 1.0)
    assert norms.tolist() == pytest.approx([5.0, 0.5])
    assert a.grad.tolist() == pytest.approx([0.6, 0.8]) and b.grad.tolist() == pytest.approx([0.3, 0.4])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10**6), max_norm=st.floats(0.01, 10.0))
def test_per_tensor_norm_equals_torch_on_each_tensor_alone(seed, max_norm):
    ours = params_with_grads(seed)
    theirs = twin(ours)
    clip.by_norm(ours, max_norm)
    for a, b in zip(ours, theirs):
        g = b.grad.numpy().copy()
        n = float(np.linalg.norm(g))
        np.testing.assert_allclose(a.grad.numpy(), g * min(1.0, max_norm / n), rtol=1e-12)
        torch.nn.utils.clip_grad_norm_([b], max_norm)  # torch divides by ‖g‖ + 1e-6
        torch.testing.assert_close(a.grad, b.grad, rtol=2e-6 / n + 1e-12, atol=0)


def agc_by_hand(w, g, ratio, eps):
    """Row by row in numpy: unit i is W[i] (every dim but the first); 0-/1-D tensors are one unit."""
    w, g = w.numpy(), g.numpy().copy()
    rows = [Ellipsis] if w.ndim <= 1 else range(w.shape[0])
    for i in rows:
        wn, gn = max(np.linalg.norm(w[i]), eps), np.linalg.norm(g[i])
        if gn / wn > ratio:
            g[i] = g[i] * ratio * wn / gn
    return g


@pytest.mark.parametrize("ratio", [0.01, 0.5, 5.0])
def test_agc_equals_the_unitwise_rule_by_hand(ratio):
    ps = params_with_grads(3)
    ps[1].data.zero_()  # ‖W‖ = 0 → the ε floor
    expected = [agc_by_hand(p.detach(), p.grad, ratio, 1e-3) for p in ps]
    before = [float(torch.linalg.vector_norm(p.grad)) for p in ps]
    norms = clip.agc(ps, ratio, 1e-3)
    assert norms.tolist() == pytest.approx(before, rel=1e-12)
    for p, e in zip(ps, expected):
        np.testing.assert_allclose(p.grad.numpy(), e, rtol=1e-12)


@pytest.mark.parametrize("name, params, direct", [
    ("value", {"max": 0.5}, lambda ps: clip.by_value(ps, -0.5, 0.5)),
    ("norm", {"max_norm": 0.7}, lambda ps: clip.by_norm(ps, 0.7)),
    ("global_norm", {"max_norm": 0.7}, lambda ps: clip.by_global_norm(ps, 0.7)),
    ("agc", {"ratio": 0.1}, lambda ps: clip.agc(ps, 0.1)),
])
def test_registered_clips_return_the_pre_clip_global_norm(name, params, direct):
    ours = params_with_grads(7)
    theirs = twin(ours)
    total = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours]))
    fn = CLIPPING.create(name, field="clip", **params)
    assert float(fn(ours)) == pytest.approx(float(total), rel=1e-12)
    direct(theirs)
    for a, b in zip(ours, theirs):
        assert torch.equal(a.grad, b.grad)


def test_none_and_bad_input():
    assert CLIPPING.create("none", field="clip") is None
    with pytest.raises(ConfigError, match="clip.max_norm = 0"):
        CLIPPING.create("global_norm", field="clip", max_norm=0)
    with pytest.raises(ConfigError, match="min = 2.0 — must be < max = 1.0"):
        CLIPPING.create("value", field="clip", min=2.0, max=1.0)
    with pytest.raises(ConfigError, match="clip.ratio = -1"):
        CLIPPING.create("agc", field="clip", ratio=-1)


def test_params_without_grads_are_skipped():
    p, q = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    p.grad = torch.tensor([3.0, 4.0])
    assert float(clip.by_global_norm([p, q], 1.0)) == pytest.approx(5.0)
    assert q.grad is None and float(torch.linalg.vector_norm(p.grad)) == pytest.approx(1.0, rel=1e-5)
