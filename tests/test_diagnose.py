"""The signal-propagation diagnostic: hand-computed stats on a small net, verdicts on deep ones."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnopt import ConfigError, Recipe
from nnopt.diagnose import deep_mlp, from_recipe, measure, parse_init, render, sweep, table
from nnopt.diagnose.propagation import CRITERION, _word


def test_measure_matches_a_hand_computed_pass():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 3))
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    result = measure(model, x, y)

    w = [m.weight.detach().double().requires_grad_() for m in model[::2]]
    b = [m.bias.detach().double() for m in model[::2]]
    z1 = x.double() @ w[0].T + b[0]
    z2 = torch.tanh(z1) @ w[1].T + b[1]
    z3 = torch.tanh(z2) @ w[2].T + b[2]
    zs = [z1, z2, z3]
    for z in zs:
        z.retain_grad()
    F.cross_entropy(z3, y).backward()
    assert [s.name for s in result.layers] == ["0", "2", "4"]
    for stats, z, weight in zip(result.layers, zs, w):
        assert stats.z_var == pytest.approx(z.var().item(), rel=1e-12)
        assert stats.z_mean == pytest.approx(z.mean().item(), rel=1e-12, abs=1e-15)
        assert stats.delta_norm == pytest.approx(z.grad.norm().item(), rel=1e-12)
        assert stats.grad_norm == pytest.approx(weight.grad.norm().item(), rel=1e-12)
    assert result.forward_ratio == pytest.approx(z2.var().item() / z1.var().item())
    assert result.backward_ratio == pytest.approx(z1.grad.norm().item() / z2.grad.norm().item())
    assert model[0].weight.dtype == torch.float32  # measured on a copy


@pytest.mark.parametrize("init, activation, verdict", [
    ("normal:std=1", "relu", "forward explodes, backward explodes"),
    ("normal:std=1", "tanh", "backward explodes"),
    ("normal:std=0.01", "tanh", "forward vanishes, backward vanishes"),
    ("he_normal", "relu", "steady"),
    ("xavier_normal", "tanh", "forward shrinks"),
    ("he_normal", "tanh", "steady"),
    ("orthogonal", "relu", "steady"),
])
def test_verdicts_on_a_deep_mlp(init, activation, verdict):
    [result] = sweep([init], [activation], depth=20, width=64, batch=64)
    assert result.verdict == verdict
    assert len(result.layers) == 21


def test_xavier_tanh_shrinks_as_the_mean_field_recursion_says():
    """q(l+1) = E[tanh(√q(l)·ξ)²], ξ ~ N(0, 1): Xavier keeps Var z only where tanh is linear, so
    Var z decays like 1/(2l) — "shrinks", not "steady"."""
    xi, w = np.polynomial.hermite_e.hermegauss(80)
    q = [1.0]
    for _ in range(19):
        q.append(float((w / w.sum() * np.tanh(np.sqrt(q[-1]) * xi) ** 2).sum()))
    [result] = sweep(["xavier_normal"], ["tanh"], depth=20, width=64, batch=64)
    assert result.forward_ratio == pytest.approx(q[-1] / q[0], rel=0.3)
    assert result.verdict == "forward shrinks"


@pytest.mark.parametrize("ratio, word", [(1e-4, "vanishes"), (0.05, "shrinks"), (0.1, "steady"), (10, "steady"),
                                         (11, "grows"), (1e3, "grows"), (1.1e3, "explodes"),
                                         (float("nan"), "vanishes")])
def test_verdict_bands(ratio, word):
    assert _word(ratio) == word


def test_xavier_without_the_relu_gain_vanishes():
    torch.manual_seed(0)
    model = deep_mlp(30, 64, "relu", "xavier_normal:activation=tanh")
    result = measure(model, torch.randn(64, 64), torch.randint(0, 10, (64,)))
    assert result.forward_ratio == pytest.approx(2.0 ** -29, rel=0.9)  # Var halves per ReLU layer
    assert result.verdict.startswith("forward vanishes")


def test_parse_init_and_errors():
    assert parse_init("normal:std=1,mean=0.5") == ("normal", {"std": 1, "mean": 0.5})
    with pytest.raises(ConfigError, match="did you mean 'he_normal'"):
        parse_init("he_norml")
    with pytest.raises(ConfigError, match="name:key=value"):
        parse_init("normal:std")
    with pytest.raises(ConfigError, match="init.std"):
        deep_mlp(2, 4, "relu", "normal:std=-1")


def test_table_and_png(tmp_path):
    results = sweep(["he_normal", "normal:std=0.01"], ["relu"], depth=5, width=16, batch=32)
    text = table(results)
    assert "he_normal / relu" in text and "normal:std=0.01 / relu" in text and "bwd ratio" in text
    assert len(text.splitlines()) == 5 and text.splitlines()[-1] == CRITERION
    path = render(results, tmp_path / "fig" / "p.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_from_recipe_measures_the_recipe_model():
    result = from_recipe(Recipe({"model": {"widths": [16, 16]}, "init": {"name": "he_uniform"},
                                 "train": {"device": "cpu"}}), batch=32)
    assert [s.name for s in result.layers] == ["1", "4", "7"]  # Flatten, (Linear, norm, act)*
    assert all(math.isfinite(s.delta_norm) for s in result.layers)


def test_the_figure_separates_bounded_models_and_its_legend_covers_no_panel(tmp_path, monkeypatch):
    """The top row shows every model; the bottom row only those that neither explode nor vanish
    (on the shared axis they overlap); the legend's box intersects no panel."""
    import matplotlib.pyplot as plt

    from nnopt.diagnose.propagation import LayerStats, Propagation

    def model(label, f, b):
        return Propagation(label, [LayerStats(i, str(i), 0.0, f ** i, b ** (10 - i)) for i in range(11)])

    results = [model("normal:std=1 / relu", 1e4, 1e-3), model("he_normal / relu", 0.99, 1.01),
               model("orthogonal / tanh", 0.97, 0.98)]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    render(results, tmp_path / "p.png")
    fig = figures[0]
    axes = fig.axes
    assert len(axes) == 4
    assert [line.get_label() for line in axes[2].get_lines()] == ["he_normal / relu", "orthogonal / tanh"]
    assert len(axes[0].get_lines()) == 3
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in axes)
