"""The lab's claims 9–17: each experiment with --fast reaches the verdict asserted here, plus oracle
tests of the measurements the experiments compute themselves."""
import pytest
import torch

from nnopt.lab import DOES_NOT_HOLD, HOLDS, run_experiment
from nnopt.lab.experiments import (c09_momentum, c10_nesterov, c11_adam, c12_clipping, c13_zero_init,
                                   c14_init_depth, c15_preprocessing, c16_batch_norm, c17_layer_weight_lrn_norm)

VERDICTS = {"momentum": HOLDS, "nesterov": HOLDS, "adam": DOES_NOT_HOLD, "clipping": DOES_NOT_HOLD,
            "zero_init": HOLDS, "init_depth": DOES_NOT_HOLD, "preprocessing": HOLDS, "batch_norm": HOLDS,
            "layer_weight_lrn_norm": DOES_NOT_HOLD}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_fast_verdict(name, tmp_path):
    record = run_experiment(name, tmp_path, seeds=3, fast=True)
    assert record["verdict"] == VERDICTS[name], record["measured"]
    assert record["figures"] and all((tmp_path / f).stat().st_size > 10_000 for f in record["figures"])
    assert record["table"]["rows"]


def test_pairwise_differences_against_a_loop():
    w = torch.randn(5, 7)
    loop = torch.tensor([[max(abs(a - b) for a, b in zip(w[i].tolist(), w[j].tolist())) for j in range(5)]
                         for i in range(5)])
    assert torch.allclose(c13_zero_init.pairwise_differences(w), loop)
    state = {"1.weight": torch.ones(4, 3), "2.weight": w, "3.weight": torch.randn(2, 5)}
    assert c13_zero_init.unit_spread(state)[0] == pytest.approx(float(loop.max()))
    assert c13_zero_init.unit_spread({"1.weight": torch.ones(4, 3), "3.weight": w})[0] == 0.0


def test_init_overrides_make_the_recipe_of_the_diagnose_string():
    from nnopt import Recipe

    overrides = c14_init_depth.init_overrides("xavier_normal:activation=logistic")
    assert overrides == {"init.name": "xavier_normal", "init.activation": "logistic"}
    assert Recipe({}).override(overrides).init["activation"] == "logistic"
    assert c14_init_depth.init_overrides("he_normal") == {"init.name": "he_normal"}


def test_condition_number_against_numpy():
    import numpy as np

    x = torch.randn(50, 4, dtype=torch.float64) * torch.tensor([1.0, 10.0, 100.0, 0.1], dtype=torch.float64)
    xt = np.hstack([x.numpy(), np.ones((50, 1))])
    assert c15_preprocessing.condition_number(x) == pytest.approx(np.linalg.cond(xt.T @ xt / 50), rel=1e-9)
    # centred, uncorrelated, unit-variance columns: E[x̃x̃ᵀ] = I, κ = 1
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert c15_preprocessing.condition_number(z) == pytest.approx(1.0, abs=1e-12)


def test_steps_to_target():
    assert c15_preprocessing.steps_to_target([1.0, 0.5, c15_preprocessing.TARGET]) == 3
    assert c15_preprocessing.steps_to_target([1.0, 0.5]) == float("inf")


def test_epochs_to_and_val_curve():
    from types import SimpleNamespace as Run

    run = Run(epochs=[{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": 0.92}, {"epoch": 3, "val_acc": 0.95}],
              summary={"status": "completed"})
    assert c16_batch_norm.epochs_to(run, 0.9) == 2 and c16_batch_norm.epochs_to(run, 0.99) == float("inf")
    assert c16_batch_norm.val_curve(run, 3) == [0.5, 0.92, 0.95]
    diverged = Run(epochs=[{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": 0.1}], summary={"status": "diverged"})
    assert c16_batch_norm.val_curve(diverged, 4) == [0.5, 0.1, 0.1, 0.1]


def test_batch_dependence_tells_per_sample_models_from_batch_statistics():
    per_sample = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
    batch_stats = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8))
    x = torch.randn(6, 4)
    assert c17_layer_weight_lrn_norm.batch_dependence(per_sample, x) < 1e-6
    refused = c17_layer_weight_lrn_norm.batch_dependence(batch_stats, x)  # torch's BN refuses one sample
    assert isinstance(refused, str) and "more than 1 value per channel" in refused
    # a batch-statistics model that accepts one sample still depends on the batch
    centre = torch.nn.Sequential(torch.nn.Linear(4, 8), Centre())
    assert c17_layer_weight_lrn_norm.batch_dependence(centre, x) > 1e-3


class Centre(torch.nn.Module):
    def forward(self, x):
        return x - x.mean(0)


def test_clearly_above():
    from nnopt.lab import Spread

    assert c17_layer_weight_lrn_norm.clearly_above(Spread([1.0, 1.1, 1.2]), Spread([0.5, 0.6, 0.7]))
    assert not c17_layer_weight_lrn_norm.clearly_above(Spread([1.0, 1.1, 1.2]), Spread([1.0, 1.05, 1.1]))


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
    _, state = c11_adam.momentum_over_rms(g1, state)
    u, state = c11_adam.momentum_over_rms(g2, state)
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


def test_clipped_descent_bounds_each_step_and_largest_step():
    from nnopt.toy.functions2d import Trajectory
    import numpy as np

    run = c12_clipping.clipped_descent((5.0, -3.0), c12_clipping.CLIPS["norm"], steps=40)
    assert c12_clipping.largest_step(run) <= c12_clipping.LR * c12_clipping.BOUND + 1e-9
    points = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0]])
    assert c12_clipping.largest_step(Trajectory(points, np.zeros(3))) == 5.0
    assert c12_clipping.largest_step(Trajectory(points, np.zeros(3), diverged=True)) == float("inf")


def test_summarize_holds_only_when_every_check_holds():
    from nnopt.lab.experiments._part2 import summarize

    assert summarize({"a": True, "b": (True, "x 1")}) == (HOLDS, "a ✓; b ✓: x 1", "")
    verdict, text, note = summarize({"a": True, "b": (False, "x 2")})
    assert verdict == DOES_NOT_HOLD and text == "a ✓; b ✗: x 2" and note == "Failed: b. "


def test_measured_rate_stops_before_underflow():
    import numpy as np

    points = np.array([[0.5 ** t, 0.0] for t in range(3000)])  # reaches 0.0 in float64 after ~1075 steps
    assert c09_momentum.measured_rate(points) == pytest.approx(0.5, rel=1e-9)


def test_steady_means_both_ratios_inside_the_band():
    from nnopt.diagnose import LayerStats, Propagation

    def prop(var_last, delta_first):
        return Propagation("x", [LayerStats(0, "a", 0.0, 1.0, 1.0), LayerStats(1, "b", 0.0, var_last, 1.0),
                                 LayerStats(2, "c", 0.0, 1.0, 1.0)])

    p = prop(0.005, 1.0)
    p.layers[0].delta_norm = 0.2
    assert c14_init_depth.steady(p)  # forward 0.005, backward 0.2: inside [1e-3, 1e3]
    p.layers[1].z_var = 1e-4
    assert not c14_init_depth.steady(p)
