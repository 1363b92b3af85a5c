"""The lab's claims 9–13: each experiment with --fast reaches the verdict asserted here with every part's
negative control failing (`fast_checks`), plus oracle tests of the measurements the experiments compute
themselves. Claims 14–17: tests/lab/test_claims_14_17.py."""
import pytest
import torch
from fast_checks import check_fast_finding

from nnopt.lab import HOLDS, HOLDS_IN_PART, run_experiment
from nnopt.lab.experiments import c09_momentum, c10_nesterov, c11_adam, c12_clipping, c13_zero_init

VERDICTS = {"momentum": HOLDS, "nesterov": HOLDS, "adam": HOLDS, "zero_init": HOLDS,
            "clipping": HOLDS_IN_PART}  # clipping: 1 epoch of the RNN cannot separate the arms (full run: 6)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_fast_verdict(name, tmp_path):
    record = run_experiment(name, tmp_path, seeds=3, fast=True)
    check_fast_finding(record, tmp_path, VERDICTS[name])


def test_pairwise_differences_against_a_loop():
    w = torch.randn(5, 7)
    loop = torch.tensor([[max(abs(a - b) for a, b in zip(w[i].tolist(), w[j].tolist())) for j in range(5)]
                         for i in range(5)])
    assert torch.allclose(c13_zero_init.pairwise_differences(w), loop)
    state = {"1.weight": torch.ones(4, 3), "2.weight": w, "3.weight": torch.randn(2, 5)}
    assert c13_zero_init.unit_spread(state)[0] == pytest.approx(float(loop.max()))
    assert c13_zero_init.unit_spread({"1.weight": torch.ones(4, 3), "3.weight": w})[0] == 0.0


def test_theory_rates_are_the_spectral_radius_of_the_iteration():
    import numpy as np

    for kappa in (10.0, 300.0):
        hyper = c09_momentum.optimal_hyper(kappa)
        radius = {}
        for method, (_, h) in hyper.items():
            lr, rho = h["lr"], h.get("momentum", 0.0)
            # (θ_{t+1}, θ_t) = M (θ_t, θ_{t−1}) on each eigen-direction λ of the Hessian
            radius[method] = max(max(abs(np.linalg.eigvals(np.array([[1 + rho - lr * lam, -rho], [1.0, 0.0]]))))
                                 for lam in (1.0, 1.0 / kappa))
        theory = c09_momentum.theory_rates(kappa)
        assert radius["gd"] == pytest.approx(theory["gd"], rel=1e-9)
        assert radius["heavy ball"] == pytest.approx(theory["heavy ball"], rel=1e-6)


def test_measured_rate_of_a_geometric_sequence():
    import numpy as np

    points = np.array([[0.8 ** t, 0.0] for t in range(201)])
    assert c09_momentum.measured_rate(points) == pytest.approx(0.8, rel=1e-9)


def test_oscillation_counts_the_sign_changes_of_x():
    import numpy as np

    points = np.array([[1.0, 2.0], [-0.5, -1.0], [0.25, 0.5], [0.1, 0.0]])
    swing, crossings = c10_nesterov.oscillation(points)
    assert swing == pytest.approx((1.0 + 0.5 + 0.0) / 3 / 2.0) and crossings == 2
    at = c10_nesterov.DECAY_AT
    assert c10_nesterov.step_decay(at - 1) == 0.1 and c10_nesterov.step_decay(at) == 0.01


def test_momentum_over_rms_against_the_closed_form():
    b1, b2, eps = c11_adam.B1, c11_adam.B2, c11_adam.EPS
    g1, g2 = torch.tensor([0.5, -2.0]), torch.tensor([1.0, 3.0])
    state = {"m": torch.zeros(2), "v": torch.zeros(2)}
    step = c11_adam.momentum_over_rms(b1)
    _, state = step(g1, state)
    u, state = step(g2, state)
    m = (1 - b1) * (b1 * g1 + g2)
    v = (1 - b2) * (b2 * g1 ** 2 + g2 ** 2)
    assert torch.allclose(u, m / (v.sqrt() + eps)) and torch.allclose(state["v"], v)


def test_bias_correction_ratio_and_the_l2_optimum():
    ratios = c11_adam.step_ratios(0)
    b1, b2 = c11_adam.B1, c11_adam.B2
    assert ratios[0] == pytest.approx((1 - b1) / (1 - b2) ** 0.5, rel=1e-3)  # Kingma & Ba's m̂, v̂ at t = 1
    # Adam with L2 converges to the minimum of f + ½λ‖θ‖²: θᵢ = cᵢ/(cᵢ + λ)
    c, lam = c11_adam.CURVATURES, c11_adam.DECAY
    ratio, _ = c11_adam.decay_ratio("adam", (2.0, 2.0), 1500)
    assert ratio == pytest.approx((c[0] / (c[0] + lam)) / (c[1] / (c[1] + lam)), rel=0.02)


def test_one_unit_rnn_against_a_scalar_loop():
    import math

    for w, b in ((5.0, -3.0), (8.2, -4.1)):
        h = c12_clipping.H0
        for _ in range(c12_clipping.T_STEPS):
            h = 1 / (1 + math.exp(-(w * h + b)))
        theta = torch.tensor([w, b], dtype=torch.float64)
        assert float(c12_clipping.one_unit_rnn(theta)) == pytest.approx((h - c12_clipping.TARGET) ** 2, rel=1e-12)


def test_clip_rows_is_nnopts_clipping_per_cell():
    from nnopt import clip

    g = torch.tensor([[3.0, 4.0], [0.3, -0.4], [-2.0, 0.5]], dtype=torch.float64)
    for how, oracle in (("norm", lambda p: clip.by_global_norm(p, c12_clipping.BOUND)),
                        ("value", lambda p: clip.by_value(p, -c12_clipping.BOUND, c12_clipping.BOUND))):
        rows = c12_clipping.clip_rows(g, how)
        for i in range(len(g)):
            p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
            p.grad = g[i].clone()
            oracle([p])
            assert torch.allclose(rows[i], p.grad, rtol=1e-5), (how, i)
    assert torch.equal(c12_clipping.clip_rows(g, "never"), g) and torch.equal(c12_clipping.clip_rows(g, "none"), g)


def test_clipped_descent_bounds_each_step_and_matches_one_cell_at_a_time():
    from nnopt.toy.functions2d import Trajectory
    import numpy as np

    starts, lrs = [(5.0, -3.0), (7.0, -3.8)], [0.3, 1.0]
    both = c12_clipping.clipped_descent(starts, lrs, "norm", 40)
    for (start, lr), (run, norms) in zip(zip(starts, lrs), both):
        alone, alone_norms = c12_clipping.clipped_descent([start], [lr], "norm", 40)[0]
        assert np.allclose(run.points, alone.points) and np.allclose(norms, alone_norms)
        assert c12_clipping.largest_step(run) <= lr * c12_clipping.BOUND * (1 + 1e-6)
    points = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0]])
    assert c12_clipping.largest_step(Trajectory(points, np.zeros(3))) == 5.0
    assert c12_clipping.largest_step(Trajectory(points, np.zeros(3), diverged=True)) == float("inf")


def test_measured_rate_stops_before_underflow():
    import numpy as np

    points = np.array([[0.5 ** t, 0.0] for t in range(3000)])  # reaches 0.0 in float64 after ~1075 steps
    assert c09_momentum.measured_rate(points) == pytest.approx(0.5, rel=1e-9)