"""The chapter's slips (nnopt.lab.errata): the papers' rules against torch.optim, the chapter's as written
against hand computations, and each run's consequence."""
import math

import pytest
import torch
import torch.nn.functional as F

from nnopt.lab import errata
from nnopt.lab.errata import adadelta, adam, quadratic_grad, smoothed_targets


def torch_trajectory(make_opt, s: float, target: float, theta0: float, steps: int) -> list[float]:
    """θ_0..θ_steps of a torch optimizer on ½·s·(θ − target)² (float64)."""
    theta = torch.tensor([theta0], dtype=torch.float64, requires_grad=True)
    opt, out = make_opt([theta]), [theta0]
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * s * (theta - target) ** 2).sum().backward()
        opt.step()
        out.append(theta.item())
    return out


@pytest.mark.parametrize("s", [1.0, 1e-6])
def test_paper_adam_is_torch_adam(s):
    ours = adam(quadratic_grad(s, 1.0), 0.0, 0.01, 50, eps_inside=False)
    ref = torch_trajectory(lambda p: torch.optim.Adam(p, lr=0.01, betas=errata.BETAS, eps=errata.ADAM_EPS), s, 1.0, 0.0, 50)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_chapter_adam_first_two_steps_by_hand():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.1
    written = adam(quadratic_grad(1.0, 1.0), 0.0, lr, 2, second_moment_in_m=True)
    g1 = -1.0  # θ = 0, θ* = 1
    m, v = (1 - b1) * g1, (1 - b2) * g1 ** 2
    theta1 = -lr * (m / (1 - b2)) / math.sqrt(v / (1 - b2) + eps)  # M̂ divided by 1 − β₂, not 1 − β₁
    assert written[1] == pytest.approx(theta1, rel=1e-14) and theta1 == pytest.approx(10.0, rel=1e-7)
    g2 = theta1 - 1.0
    m, v = b1 * m + (1 - b1) * g2, b2 * v + (1 - b2) * g2 ** 2
    theta2 = theta1 - lr * (m / (1 - b2 ** 2)) / math.sqrt(v / (1 - b2 ** 2) + eps)
    assert written[2] == pytest.approx(theta2, rel=1e-14)
    paper = adam(quadratic_grad(1.0, 1.0), 0.0, lr, 1)  # ε inside too: only the slip differs
    assert paper[1] == pytest.approx(lr / math.sqrt(1 + eps), rel=1e-14)


def test_paper_adadelta_is_torch_adadelta():
    ours = adadelta(quadratic_grad(1.0, 1.0), 0.0, 60)
    ref = torch_trajectory(lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6), 1.0, 1.0, 0.0, 60)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_chapter_adadelta_first_two_steps_by_hand():
    rho, eps = 0.9, 1e-6
    written = adadelta(quadratic_grad(1.0, 3.0), 2.0, 2, accumulate_theta=True)
    g = -1.0
    G, X = (1 - rho) * g * g, (1 - rho) * 2.0 ** 2  # X accumulates θ_0² = 4, not Δθ_0² = 0
    theta1 = 2.0 - math.sqrt(X + eps) / math.sqrt(G + eps) * g
    assert written[1] == pytest.approx(theta1, rel=1e-14) and theta1 == pytest.approx(4.0, rel=1e-4)
    g = theta1 - 3.0
    G, X = rho * G + (1 - rho) * g * g, rho * X + (1 - rho) * theta1 ** 2
    assert written[2] == pytest.approx(theta1 - math.sqrt(X + eps) / math.sqrt(G + eps) * g, rel=1e-14)


def test_eps_inside_the_root_by_hand():
    inside = adam(quadratic_grad(1e-6, 1.0), 0.0, 0.01, 1)
    assert inside[1] == pytest.approx(0.01 * 1e-6 / math.sqrt(1e-12 + 1e-8), rel=1e-12)  # ≈ 1e-4, not 0.01


def test_label_smoothing_conventions_against_torch():
    k, eps = 10, 0.1
    assert smoothed_targets(k, eps, "book") == pytest.approx((0.9, 0.1 / 9))
    assert smoothed_targets(k, eps, "paper") == pytest.approx((0.91, 0.01))
    logits, y = torch.randn(7, k, generator=torch.Generator().manual_seed(0)), torch.arange(7)
    for convention, torch_eps in (("paper", eps), ("book", eps * k / (k - 1))):
        on, off = smoothed_targets(k, eps, convention)
        soft = torch.full((7, k), off).scatter(1, y[:, None], on)
        ours = -(soft * logits.log_softmax(1)).sum(1).mean()
        assert ours.item() == pytest.approx(F.cross_entropy(logits, y, label_smoothing=torch_eps).item(), rel=1e-6)


def test_each_run_shows_its_slip_and_the_paper_rule_does_not():
    adam_slip = errata.adam_bias_correction()
    assert adam_slip.numbers["first_step_ratio"] == pytest.approx(100.0, rel=1e-9)
    assert adam_slip.numbers["largest_error_written"] > 5 and adam_slip.numbers["largest_error_paper"] <= 1.0
    shift = errata.adadelta_accumulator()
    assert shift.numbers["shift_effect_paper"] < 1e-9 < 1.0 < shift.numbers["shift_effect_written"]
    placement = errata.epsilon_placement()
    final = placement.numbers["final_error"]
    assert final["ε outside √, loss × 1e-06"] < 0.01 < 0.5 < final["ε inside √, loss × 1e-06"]
    assert [e.slip for e in errata.all_errata()] == [True, True, True, False]


def test_errata_finding(tmp_path):
    from nnopt.lab import run_experiment

    r = run_experiment("errata", tmp_path, seeds=3, fast=True)
    assert r["verdict"] == "HOLDS" and len(r["parts"]) == 3  # the three slips; label smoothing is a convention
    assert all(p["control"]["verdict"] == "DOES NOT HOLD" for p in r["parts"])  # the paper's rule never departs
    assert [row[4] for row in r["table"]["rows"]] == ["slip", "slip", "slip", "convention"]
    assert (tmp_path / "figures" / "errata.png").stat().st_size > 10_000
