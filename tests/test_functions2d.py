"""2-D toy functions: trajectories equal hand-written updates; critical points found and classified."""
import math

import numpy as np
import pytest
import torch

from nnopt import ConfigError
from nnopt.toy import SURFACES, classify, find_critical_points, quadratic, trajectory
from nnopt.toy.functions2d import gradient, hessian


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


# -- flat_sharp: the chapter's landscape, against the closed form in its docstring ---------------------
FLAT, SADDLE, SHARP = (0.0, 0.0), (math.asinh(1.5), 0.0), (math.asinh(3.0), 0.0)


def flat_sharp_grad(x, y):
    """∇f by hand: f = q(s)² + y²cosh²x, s = sinh x, q = 4s(s − 3)/9, q' = 4(2s − 3)/9."""
    s, c = math.sinh(x), math.cosh(x)
    q, dq = 4 * s * (s - 3) / 9, 4 * (2 * s - 3) / 9
    return np.array([2 * q * dq * c + 2 * y * y * s * c, 2 * y * c * c])


def test_flat_sharp_gradient_is_the_closed_form():
    surface = SURFACES["flat_sharp"]
    for x, y in np.random.default_rng(0).uniform((-1.2, -1.5), (2.4, 1.5), size=(25, 2)):
        np.testing.assert_allclose(gradient(surface.f, (x, y)), flat_sharp_grad(x, y), rtol=1e-12, atol=1e-12)


def test_flat_sharp_stationary_points_are_the_closed_form():
    """Three stationary points: the flat minimum diag(32/9, 2), the sharp one diag(320/9, 20), the saddle
    diag(−52/9, 13/2) at f = 1; Newton from a grid over the view box finds exactly these."""
    surface = SURFACES["flat_sharp"]
    expect = {FLAT: ("minimum", (32 / 9, 2), 0.0), SHARP: ("minimum", (320 / 9, 20), 0.0),
              SADDLE: ("saddle", (-52 / 9, 13 / 2), 1.0)}  # (f_xx, f_yy); f_xy = 0 on y = 0
    for point, (kind, diag, value) in expect.items():
        assert np.abs(flat_sharp_grad(*point)).max() < 1e-12
        np.testing.assert_allclose(hessian(surface.f, point), np.diag(diag), rtol=1e-10, atol=1e-12)
        c = classify(surface, point)
        assert (c.kind, c.value) == (kind, pytest.approx(value, abs=1e-12))
        assert c.eigenvalues == pytest.approx(sorted(diag), rel=1e-10)
    found = find_critical_points(surface)
    assert len(found) == 3
    for c in found:
        assert min(np.hypot(c.point[0] - p[0], c.point[1] - p[1]) for p in expect) < 1e-7
    lam_flat, lam_sharp = classify(surface, FLAT).eigenvalues[1], classify(surface, SHARP).eigenvalues[1]
    assert lam_sharp / lam_flat == pytest.approx(10)
    np.testing.assert_allclose(surface.minima, (FLAT, SHARP), rtol=1e-15)


def test_sgd_is_stable_in_the_sharp_minimum_only_below_two_over_lambda_max():
    """GD near a minimum multiplies the x-offset by 1 − α·f_xx each step: stable iff α < 2/λ_max = 9/160."""
    start = (SHARP[0] + 1e-3, 0.0)
    below = trajectory(SURFACES["flat_sharp"], "sgd", start=start, steps=300, lr=0.95 * 9 / 160)
    above = trajectory(SURFACES["flat_sharp"], "sgd", start=start, steps=300, lr=1.05 * 9 / 160)
    assert abs(below.points[-1][0] - SHARP[0]) < 1e-8
    assert np.abs(above.points[100:, 0] - SHARP[0]).max() > 1e-2
    # the flat minimum holds steps up to 9/16, ten times as large
    flat = trajectory(SURFACES["flat_sharp"], "sgd", start=(1e-3, 1e-3), steps=300, lr=0.95 * 9 / 16)
    assert np.hypot(*flat.points[-1]) < 1e-8
    off = trajectory(SURFACES["flat_sharp"], "sgd", start=(1e-3, 1e-3), steps=300, lr=1.05 * 9 / 16)
    assert np.abs(off.points[100:, 0]).max() > 1e-2


def test_from_the_default_start_sgd_and_momentum_choose_different_basins():
    """The playground's defaults (lr 0.05, 60 steps): SGD settles in the sharp minimum, momentum 0.9
    overshoots it into the flat one; the start lies between the saddle and the sharp minimum."""
    surface = SURFACES["flat_sharp"]
    assert SADDLE[0] < surface.start[0] < SHARP[0]
    sgd = trajectory(surface, "sgd", steps=60, lr=0.05)
    momentum = trajectory(surface, "momentum", steps=60, lr=0.05, momentum=0.9)
    assert np.hypot(*(sgd.points[-1] - SHARP)) < 1e-6
    assert np.hypot(*(momentum.points[-1] - FLAT)) < 0.05
    assert surface.xlim[0] < FLAT[0] < SADDLE[0] < SHARP[0] < surface.xlim[1]


def test_surfaces_open_their_lab_experiment():
    from nnopt.serve.lab_links import lab_links

    names = [link["name"] for link in lab_links([("surface", "flat_sharp", True), ("surface", "saddle", True)])]
    assert names == ["flat_minima", "saddle_points"]
