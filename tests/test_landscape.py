"""nnopt.landscape against the exact Hessian (torch.autograd.functional.hessian) of small models."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from nnopt.landscape import (filter_normalized_direction, hessian_density, hessian_top_eigenvalues, hessian_trace,
                             hvp, interpolate, parameters_vector, slice_2d)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def small_mlp(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).to(dtype)


def data(dtype=torch.float64, n=40, batch=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, 3, (n,), generator=g)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]  # unequal last batch


def exact_hessian(model, batches):
    """∇² of the sample-weighted mean loss, by autograd.functional.hessian on the flat parameters."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])

    def loss(theta):
        parts, i = {}, 0
        for name, shape in zip(names, shapes):
            k = int(np.prod(shape))
            parts[name] = theta[i:i + k].view(shape)
            i += k
        return F.cross_entropy(functional_call(model, parts, (x,)), y)

    return torch.autograd.functional.hessian(loss, parameters_vector(model))


def test_hvp_equals_exact_hessian_times_v():
    model, batches = small_mlp(), data()
    H = exact_hessian(model, batches)
    v = torch.randn(H.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(hvp(model, F.cross_entropy, batches, v), H @ v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype,float64", [(torch.float64, False), (torch.float32, True)])
def test_top_eigenvalues_match_eigh(dtype, float64):
    model, batches = small_mlp(dtype=dtype), data(dtype=dtype)
    exact = torch.linalg.eigvalsh(exact_hessian(small_mlp(), data())).flip(0)[:3]
    top = hessian_top_eigenvalues(model, F.cross_entropy, batches, k=3, iters=100, float64=float64)
    assert top == sorted(top, reverse=True)
    np.testing.assert_allclose(top, exact.numpy(), rtol=1e-4)
    # the model itself is untouched (float64 works on a copy)
    assert next(model.parameters()).dtype == dtype


def test_few_lanczos_steps_find_the_largest_eigenvalue():
    model, batches = small_mlp(), data()
    exact = float(torch.linalg.eigvalsh(exact_hessian(model, batches))[-1])
    dim = sum(p.numel() for p in model.parameters())
    (top,) = hessian_top_eigenvalues(model, F.cross_entropy, batches, k=1, iters=dim // 2)
    assert abs(top - exact) <= 1e-4 * abs(exact)


class Diagonal(nn.Module):
    """loss = Σ aᵢ wᵢ² / 2 → H = diag(a): Hutchinson with Rademacher vectors is exact."""

    def __init__(self, a):
        super().__init__()
        self.a = a
        self.w = nn.Parameter(torch.ones_like(a))

    def forward(self, x):
        return (self.a * self.w ** 2).sum() / 2 * x.sum()


def test_trace_exact_on_a_diagonal_hessian():
    a = torch.tensor([3.0, -1.0, 0.5, 7.0], dtype=torch.float64)
    batches = [(torch.ones(1, dtype=torch.float64), torch.zeros(1))]
    est = hessian_trace(Diagonal(a), lambda out, y: out, batches, samples=1)
    assert est == pytest.approx(float(a.sum()), rel=1e-12)


def test_trace_within_its_standard_error():
    model, batches = small_mlp(), data()
    H = exact_hessian(model, batches)
    trace = float(H.trace())
    off = H - torch.diag(torch.diag(H))
    samples = 100
    stderr = float((2 * (off ** 2).sum() / samples).sqrt())  # the estimator's exact std
    est = hessian_trace(model, F.cross_entropy, batches, samples=samples, seed=5)
    assert abs(est - trace) < 4 * stderr
    assert est != pytest.approx(trace, rel=1e-9)  # an estimate, not the diagonal read off


def test_density_nodes_are_the_eigenvalues_and_integrate_to_one():
    model, batches = small_mlp(), data()
    exact = torch.linalg.eigvalsh(exact_hessian(model, batches))
    dim = len(exact)
    grid, density, nodes, weights = hessian_density(model, F.cross_entropy, batches, iters=dim, runs=2)
    assert float(weights.sum()) == pytest.approx(1.0, rel=1e-9)
    # every Ritz value of a full Lanczos run is an eigenvalue
    assert float((nodes[:, None] - exact[None, :]).abs().min(1).values.max()) < 1e-6 * float(exact.abs().max())
    assert float(torch.trapezoid(density, grid)) == pytest.approx(1.0, rel=1e-3)


def test_interpolation_endpoints_and_restores_parameters():
    model, batches = small_mlp(), data()
    theta1 = parameters_vector(model)
    theta0 = parameters_vector(small_mlp(seed=7))
    alphas, losses = interpolate(model, F.cross_entropy, batches, theta0, theta1, alphas=[0.0, 0.5, 1.0])
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    with torch.no_grad():
        assert losses[2] == pytest.approx(float(F.cross_entropy(model(x), y)), rel=1e-12)
        assert losses[0] == pytest.approx(float(F.cross_entropy(small_mlp(seed=7)(x), y)), rel=1e-12)
    torch.testing.assert_close(parameters_vector(model), theta1, rtol=0, atol=0)


def test_filter_normalized_direction():
    model = small_mlp()
    d = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    i = 0
    for p in model.parameters():
        part = d[i:i + p.numel()].view_as(p)
        i += p.numel()
        if p.dim() == 1:
            assert torch.all(part == 0)
        else:  # each row (filter) has its weights' norm
            torch.testing.assert_close(part.norm(dim=1), p.detach().norm(dim=1))


def test_slice_2d_is_a_quadratic_bowl_with_a_known_shape():
    """A quadratic L(w) = ½ wᵀAw centred at 0: the slice is ½ (aδ + bη)ᵀA(aδ + bη)."""
    A = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64)

    class Quad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1, 2, dtype=torch.float64))

        def forward(self, x):
            w = self.w[0]
            return 0.5 * w @ A @ w * x.sum()

    d1 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    d2 = torch.tensor([0.0, 1.0], dtype=torch.float64)
    a, b, Z = slice_2d(Quad(), lambda out, y: out, [(torch.ones(1), torch.zeros(1))], span=1.0, points=5,
                       directions=(d1, d2))
    B, Aa = np.meshgrid(b, a, indexing="ij")
    expected = 0.5 * (2.0 * Aa ** 2 + 2 * 0.3 * Aa * B + 1.0 * B ** 2)
    np.testing.assert_allclose(Z, expected, rtol=1e-12)


def test_landscape_command_on_a_finished_run(tmp_path, capsys):
    """λ_max of a real run is a Ritz value (≤ the exact largest eigenvalue, close to it); the 1-D
    interpolation ends at the run's initial (α = 0) and final (α = 1) losses."""
    from nnopt.cli import main
    from nnopt.landscape.run import split_batches, trained_setup
    from nnopt.lab import lab_recipe
    from nnopt.train import Trainer, build

    run_dir = tmp_path / "run"
    recipe = lab_recipe({"data": {"n_train": 100}, "model": {"widths": [4]}, "train": {"epochs": 2}})
    Trainer(build(recipe), run_dir, quiet=True).fit()
    args = ["landscape", str(run_dir), "--samples", "100", "--points", "3", "--iters", "30", "--trace-samples", "3"]
    assert main(args) == 0
    assert "λ_max" in capsys.readouterr().out
    out = run_dir / "landscape"
    rec = json.loads((out / "landscape.json").read_text())
    assert (out / "interpolation.png").stat().st_size > 5000 and (out / "slice_2d.png").stat().st_size > 5000

    setup, theta0 = trained_setup(run_dir)
    model, batches = setup.model, split_batches(setup.data.train, 500, 100)
    H = exact_hessian(model, batches)
    top = float(torch.linalg.eigvalsh(H.double())[-1])
    assert top * (1 - 1e-2) <= rec["lambda_max"] <= top * (1 + 1e-4)
    alphas = rec["interpolation"]["alpha"]
    assert rec["interpolation"]["loss"][alphas.index(1.0)] == pytest.approx(rec["loss"], rel=1e-6)
    x, y = batches[0]
    with torch.no_grad():
        fresh = build(recipe).model.eval()
        assert rec["interpolation"]["loss"][alphas.index(0.0)] == pytest.approx(float(F.cross_entropy(fresh(x), y)),
                                                                              rel=1e-5)
    assert main(["landscape", str(tmp_path)]) == 2
