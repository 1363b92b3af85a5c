"""Conventions against literal formulas: L2 vs decoupled weight decay, the book's momentum and
Nesterov forms, ε inside the square root, Adam without bias correction, user chains."""

import pytest
import torch
from conftest import rel_err, small_cnn, train

import nnopt.optim as O
from nnopt.optim import ChainOptimizer, named, transforms as T

def l2_penalty(lam):
    return lambda model: 0.5 * lam * sum((p ** 2).sum() for p in model.parameters())

def test_l2_equals_weight_decay_for_sgd():
    """SGD: θ − α(g + λθ) = (1 − αλ)θ − αg, so L2 in the loss ≡ L2 on the gradient ≡ decoupled."""
    lam, lr = 0.1, 0.05
    a, b, c = small_cnn(), small_cnn(), small_cnn()
    train(a, O.create("sgd", a.parameters(), lr=lr, weight_decay=lam, no_decay_1d=False), 30)
    train(b, O.create("sgd", b.parameters(), lr=lr), 30, loss_extra=l2_penalty(lam))
    decoupled = T.chain(T.scale_by_lr(), T.decoupled_weight_decay(lam))
    train(c, ChainOptimizer(c.parameters(), decoupled, lr=lr), 30)
    assert rel_err(a, b) <= 1e-5
    assert rel_err(a, c) <= 1e-5

def test_l2_differs_from_weight_decay_for_adam():
    """Adam divides the L2 gradient λθ by √v̂ too; AdamW's decay is not rescaled: they differ."""
    lam, lr = 0.1, 1e-2
    a, b, c = small_cnn(), small_cnn(), small_cnn()
    train(a, O.create("adam", a.parameters(), lr=lr, weight_decay=lam, no_decay_1d=False), 30)
    train(b, O.create("adam", b.parameters(), lr=lr), 30, loss_extra=l2_penalty(lam))
    train(c, O.create("adamw", c.parameters(), lr=lr, weight_decay=lam, no_decay_1d=False), 30)
    assert rel_err(a, b) <= 1e-4          # L2 on the gradient is L2 in the loss
    assert rel_err(a, c) > 1e-2           # ... and is not decoupled weight decay

def _f(theta):
    """A small nonconvex loss of one tensor."""
    A = torch.linspace(-1, 1, 12).reshape(4, 3)
    return ((torch.tanh(A @ theta) - torch.tensor([0.5, -0.2, 0.3, 0.9])) ** 2).sum() + 0.1 * theta.pow(4).sum()

def _grad(theta):
    theta = theta.detach().requires_grad_(True)
    _f(theta).backward()
    return theta.grad

def _run(name, lrs, **kw):
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = O.create(name, [p], lr=lrs[0], **kw) if isinstance(name, str) else name([p], lr=lrs[0], **kw)
    for lr in lrs:
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad()
        _f(p).backward()
        opt.step()
    return p.detach()

def _book(lrs, rho, nesterov):
    """Literal book: v ← ρv − α∇f(θ [+ ρv]); θ ← θ + v. Returns θ (+ ρv for Nesterov)."""
    theta, v = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for lr in lrs:
        g = _grad((theta + rho * v).float() if nesterov else theta.float()).double()
        v = rho * v - lr * g
        theta = theta + v
    return (theta + rho * v if nesterov else theta).float()

CONSTANT, CHANGING = [0.05] * 40, [0.05 / (1 + t % 7) for t in range(40)]

def test_book_nesterov_is_torch_nesterov_trajectory():
    """At constant α the look-ahead point θ + ρv of the book's Nesterov is torch's parameter."""
    book = _book(CONSTANT, 0.9, nesterov=True)
    theirs = _run(torch.optim.SGD, CONSTANT, momentum=0.9, nesterov=True)
    assert torch.allclose(theirs, book, rtol=1e-5, atol=1e-6)
    assert torch.allclose(_run("nesterov", CONSTANT, momentum=0.9, form="book"), book, rtol=1e-5, atol=1e-6)
    assert torch.allclose(_run("nesterov", CONSTANT, momentum=0.9), book, rtol=1e-5, atol=1e-6)

def test_book_forms_follow_the_book_when_lr_changes():
    for name, nesterov in (("momentum", False), ("nesterov", True)):
        book = _book(CHANGING, 0.9, nesterov)
        ours = _run(name, CHANGING, momentum=0.9, form="book")
        torch_form = _run(name, CHANGING, momentum=0.9)
        assert torch.allclose(ours, book, rtol=1e-5, atol=1e-6), name
        assert not torch.allclose(torch_form, book, rtol=1e-3, atol=1e-4), name

def _one_step(name, g, **kw):
    p = torch.nn.Parameter(torch.tensor([0.3, -1.0, 2.0]))
    opt = O.create(name, [p], **kw)
    p.grad = g.clone()
    opt.step()
    return p.detach()

G = torch.tensor([0.5, -0.01, 2.0])
THETA = torch.tensor([0.3, -1.0, 2.0])

@pytest.mark.parametrize("name, kw, expected", [
    # Adagrad: r = g²; θ − α g/√(r + ε)
    ("adagrad", dict(lr=0.1, eps=0.5), THETA - 0.1 * G / torch.sqrt(G ** 2 + 0.5)),
    # RMSprop: r = (1−β)g²; θ − α g/√(r + ε)
    ("rmsprop", dict(lr=0.1, alpha=0.9, eps=0.5), THETA - 0.1 * G / torch.sqrt(0.1 * G ** 2 + 0.5)),
    # Adam: m̂ = g, v̂ = g²; θ − α g/√(g² + ε)
    ("adam", dict(lr=0.1, eps=0.5), THETA - 0.1 * G / torch.sqrt(G ** 2 + 0.5)),
])
def test_eps_inside_sqrt(name, kw, expected):
    assert torch.allclose(_one_step(name, G, eps_inside_sqrt=True, **kw), expected, rtol=1e-6)
    assert not torch.allclose(_one_step(name, G, **kw), expected, rtol=1e-3)

def test_adadelta_eps_outside_sqrt():
    """Adadelta, ε outside: Δ = (√s + ε)/(√r + ε)·g with s = 0, r = (1−ρ)g²."""
    expected = THETA - 1.0 * (0 + 0.1) / (torch.sqrt(0.1 * G ** 2) + 0.1) * G
    assert torch.allclose(_one_step("adadelta", G, rho=0.9, eps=0.1, eps_inside_sqrt=False), expected, rtol=1e-6)

def test_adam_without_bias_correction():
    """One step: m = (1−β₁)g, v = (1−β₂)g²; θ − α m/(√v + ε)."""
    expected = THETA - 0.1 * (0.1 * G) / (torch.sqrt(0.001 * G ** 2) + 1e-8)
    assert torch.allclose(_one_step("adam", G, lr=0.1, bias_correction=False), expected, rtol=1e-6)
    corrected = THETA - 0.1 * G / (G.abs() + 1e-8)
    assert torch.allclose(_one_step("adam", G, lr=0.1), corrected, rtol=1e-6)

def test_user_chain_rmsprop_nesterov():
    """chain(scale_by_rms, trace(nesterov), scale_by_lr) against a hand loop."""
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = ChainOptimizer([p], T.chain(T.scale_by_rms(0.9, 1e-8), T.trace(0.8, nesterov=True), T.scale_by_lr()),
                         lr=0.01)
    theta, r, b = p.detach().clone().double(), torch.zeros(3, dtype=torch.float64), None
    for _ in range(10):
        opt.zero_grad()
        _f(p).backward()
        opt.step()
        g = _grad(theta.float()).double()
        r = 0.9 * r + 0.1 * g ** 2
        u = g / (r.sqrt() + 1e-8)
        b = u if b is None else 0.8 * b + u
        theta = theta - 0.01 * (u + 0.8 * b)
    assert torch.allclose(p.detach(), theta.float(), rtol=1e-5, atol=1e-6)
    assert set(opt.state[p]) == {"square_avg", "momentum_buffer"}  # the step is counted on the host
    assert set(opt.state_dict()["state"][0]) == {"step", "square_avg", "momentum_buffer"}

def test_chain_rejects_colliding_state():
    with pytest.raises(ValueError, match="momentum_buffer"):
        T.chain(T.trace(0.9), T.trace(0.5))

@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("name", named.__all__)
def test_grads_are_not_modified(name, fused):
    """On torch's fused kernel and on the transforms (maximize: the sign flip is pending, never
    written), p.grad after a step is what backward left."""
    m = small_cnn()
    opt = O.create(name, m.parameters(), weight_decay=0.1, fused=fused, maximize=name == "adam")
    train(m, opt, 2)
    before = [p.grad.clone() for p in m.parameters()]
    opt.step()
    assert all(torch.equal(a, p.grad) for a, p in zip(before, m.parameters()))
