"""Claims 25–27 at --fast: each reaches the verdicts asserted here per part, every negative control fails,
and the recipes are what the protocol says; claim 27's field, Newton search and classification against
autograd and functions with known critical points."""
import numpy as np
import pytest
import torch
from fast_checks import check_fast_finding

from nnopt.lab import run_experiment
from nnopt.lab.experiments.c25_sam_flat_minima import matched_epoch
from nnopt.lab.experiments.c27_saddle_points_high_dim import (CosineField, critical_points, index, spearman,
                                                              strictly_falls)
from nnopt.recipe import Recipe


def fast(name, tmp_path) -> dict:
    record = run_experiment(name, tmp_path, seeds=3, fast=True)
    check_fast_finding(record, tmp_path)  # each test asserts the verdicts
    return record


def test_sam_flat_minima(tmp_path):
    r = fast("sam_flat_minima", tmp_path)
    # 3 epochs: SAM flatter on every seed but not below 0.8 × SGD's beyond the spread; SGD at SAM's compute is flatter
    assert [p["verdict"] for p in r["parts"]] == ["DOES NOT HOLD"] * 3 and r["verdict"] == "DOES NOT HOLD"
    n = r["numbers"]
    assert all(0.7 < x < 1 for x in n["ratios"]["SGD, 3 epochs"])
    # the control SAM with ρ = 0 is SGD through SAM's two-gradient step: the same λ_max as SGD at the same epochs
    assert n["lambda_max"]["SAM, ρ = 0 (control)"]["values"] == pytest.approx(n["lambda_max"]["SGD, 3 epochs"]["values"])
    sgd, sam = (Recipe.load(tmp_path / "recipes" / f"{k}-s0.toml").resolved for k in ("sgd", "sam"))
    assert sam["optimizer"]["base"] == "momentum" and sam["optimizer"]["lr"] == sgd["optimizer"]["lr"]
    assert sgd["train"]["epochs"] == 2 * sam["train"]["epochs"]  # SGD ×2: its first half is "SGD"
    drop = ("optimizer", "train")
    assert {k: v for k, v in sam.items() if k not in drop} == {k: v for k, v in sgd.items() if k not in drop}


def test_matched_epoch_is_the_closest_loss_on_a_log_scale():
    assert matched_epoch([1.0, 0.5, 0.2, 0.1], 0.15) == 3  # |log(0.2/0.15)| = 0.29 < |log(0.1/0.15)| = 0.41
    assert matched_epoch([1.0, 0.5, 0.2, 0.1], 0.25) == 3
    assert matched_epoch([1.0], 5.0) == 1


def test_saddle_points_high_dim(tmp_path):
    r = run_experiment("saddle_points_high_dim", tmp_path, seeds=3, fast=True)
    assert r["verdict"] == "HOLDS"
    n = r["numbers"]
    # in 1-D minima and maxima alternate: about half of the critical points are minima
    assert 0.3 < n["median_fraction_minima"][0] < 0.7 and n["median_spearman"] > 0.5
    assert all(count >= 5 for count in n["critical_points"].values())


def test_cosine_field_derivatives_match_autograd():
    field = CosineField.random(5, 16, np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((3, 5))
    w, a, b = (torch.tensor(v) for v in (field.w, field.a, field.b))

    def f(p):
        return (a * torch.cos(w @ p + b)).sum()

    for row, value, grad, hess in zip(x, field.value(x), field.gradient(x), field.hessian(x)):
        p = torch.tensor(row)
        assert value == pytest.approx(f(p).item(), abs=1e-12)
        np.testing.assert_allclose(grad, torch.func.grad(f)(p).numpy(), atol=1e-12)
        np.testing.assert_allclose(hess, torch.func.hessian(f)(p).numpy(), atol=1e-12)


def test_newton_finds_and_classifies_known_critical_points():
    # f = cos x₁ + cos x₂ + cos x₃: critical points at {0, π}³ (mod 2π); index = (coordinates at 0) / 3, f = 2·that − 3
    field = CosineField(np.eye(3), np.ones(3), np.zeros(3))
    corners = np.array([[i, j, k] for i in (0, np.pi) for j in (0, np.pi) for k in (0, np.pi)])
    starts = np.repeat(corners, 2, axis=0) + np.random.default_rng(0).uniform(-0.3, 0.3, (16, 3))
    points = critical_points(field, starts, iters=20)
    assert len(points) == 8  # each corner found twice, counted once
    np.testing.assert_allclose(np.sort(points, axis=0), np.sort(corners, axis=0), atol=1e-9)
    alpha = index(field.hessian(points))
    np.testing.assert_allclose(alpha, (np.abs(points) < 1).sum(axis=1) / 3)
    assert (alpha == 0).sum() == 1 and spearman(alpha, field.value(points)) == pytest.approx(1.0)


@pytest.mark.parametrize("negative", [0, 1, 3, 6])
def test_index_of_a_quadratic(negative):
    # ½ xᵀQx with Q = R diag(λ) Rᵀ: `negative` negative eigenvalues out of 6, whatever the rotation R
    rng = np.random.default_rng(negative)
    rotation = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    eigenvalues = rng.uniform(0.1, 2, 6) * np.r_[-np.ones(negative), np.ones(6 - negative)]
    assert index((rotation * eigenvalues) @ rotation.T)[()] == negative / 6


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    alpha = rng.integers(0, 5, 40) / 4  # an index: many ties
    value = alpha + rng.standard_normal(40)
    assert spearman(alpha, value) == pytest.approx(spearmanr(alpha, value).statistic, abs=1e-12)
    assert spearman(value, -value) == pytest.approx(-1.0)


def test_strictly_falls():
    assert strictly_falls([0.5, 0.2, 0.01, 0, 0]) and not strictly_falls([0.5, 0.5]) and not strictly_falls([0.1, 0.2])
