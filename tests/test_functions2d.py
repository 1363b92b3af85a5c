"""2-D toy functions: trajectories equal hand-written updates; critical points found and classified."""
import numpy as np
import pytest
import torch

from nnopt import ConfigError
from nnopt.toy import SURFACES, classify, find_critical_points, quadratic, trajectory


def test_gd_trajectory_on_a_quadratic_is_the_closed_form():
    """GD on a·x² + b·y²: θ_t = (1 − 2αa)^t x0, (1 − 2αb)^t y0 (closed form)."""
    s, lr, steps = quadratic(0.1, 2.0), 0.2, 30
    run = trajectory(s, "sgd", start=(-9.0, 2.0), steps=steps, lr=lr)
    t = np.arange(steps + 1)
    np.testing.assert_allclose(run.points[:, 0], -9.0 * (1 - 2 * lr * 0.1) ** t, rtol=1e-12)
    np.testing.assert_allclose(run.points[:, 1], 2.0 * (1 - 2 * lr * 2.0) ** t, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(run.losses, 0.1 * run.points[:, 0] ** 2 + 2 * run.points[:, 1] ** 2)


def test_momentum_trajectory_equals_torch_sgd():
    """Oracle: torch.optim.SGD with momentum on the same function and start."""
    s = SURFACES["rosenbrock"]
    run = trajectory(s, "momentum", steps=50, lr=1e-4, momentum=0.9)
    theta = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=1e-4, momentum=0.9)
    for _ in range(50):
        opt.zero_grad()
        s.f(theta).backward()
        opt.step()
    np.testing.assert_allclose(run.points[-1], theta.detach().numpy(), rtol=1e-10)


def test_schedule_and_noise():
    s = SURFACES["quadratic"]
    run = trajectory(s, "sgd", steps=5, schedule=lambda t: 0.01 * (t + 1), lr=1.0)
    assert run.lrs.tolist() == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    a = trajectory(s, "sgd", steps=5, lr=0.01, noise=0.5, seed=1)
    b = trajectory(s, "sgd", steps=5, lr=0.01, noise=0.5, seed=1)
    c = trajectory(s, "sgd", steps=5, lr=0.01, noise=0.5, seed=2)
    assert np.array_equal(a.points, b.points) and not np.array_equal(a.points, c.points)


def test_divergence_is_reported_and_the_trajectory_stops():
    run = trajectory(SURFACES["quadratic"], "sgd", steps=2000, lr=10.0)
    assert run.diverged and len(run.points) < 2001
    assert np.isfinite(run.points).all() and np.isfinite(run.losses).all()


def test_critical_points_of_the_double_well_by_hand():
    """(x² − 1)² + y²: ∇f = (4x(x² − 1), 2y) → (0,0) with Hessian diag(−4, 2): a saddle; (±1, 0) with
    diag(8, 2): minima."""
    points = find_critical_points(SURFACES["double_well"])
    kinds = {(round(c.point[0], 6), round(c.point[1], 6)): c for c in points}
    assert set(kinds) == {(-1.0, 0.0), (0.0, 0.0), (1.0, 0.0)}
    assert kinds[(0.0, 0.0)].kind == "saddle" and kinds[(0.0, 0.0)].eigenvalues == pytest.approx((-4, 2))
    assert kinds[(1.0, 0.0)].kind == "minimum" and kinds[(1.0, 0.0)].eigenvalues == pytest.approx((2, 8))
    assert classify(SURFACES["saddle"], (0, 0)).kind == "saddle"


def test_himmelblau_minima_are_minima():
    for m in SURFACES["himmelblau"].minima:
        c = classify(SURFACES["himmelblau"], m)
        assert c.kind == "minimum" and c.value == pytest.approx(0, abs=1e-8)


def test_bad_input():
    with pytest.raises(ConfigError, match="steps"):
        trajectory(SURFACES["saddle"], "sgd", steps=-1)
    with pytest.raises(ConfigError, match="quadratic"):
        quadratic(0, 1)
    with pytest.raises(ConfigError, match="optimizer"):
        trajectory(SURFACES["saddle"], "sgd", steps=1, lr=-1.0)
