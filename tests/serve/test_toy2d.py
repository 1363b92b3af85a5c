"""circles, xor, spirals: each class where its geometry says, balanced, seeded, noise as asked."""
import math

import numpy as np
import pytest
import torch

import nnopt
from nnopt.errors import ConfigError


def points(name, **kw):
    d = nnopt.data.load(name, **kw)
    x = torch.cat([d.train.x, d.val.x, d.test.x]).numpy().astype(np.float64)
    y = torch.cat([d.train.y, d.val.y, d.test.y]).numpy()
    return d, x, y


def test_circles_radius_is_the_class():
    d, x, y = points("circles", n_samples=400, noise=0.0, factor=0.3)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    assert d.n_classes == 2 and (y == 1).sum() == 200


def test_xor_class_is_the_sign_of_the_product():
    _, x, y = points("xor", n_samples=500, noise=0.0)
    assert np.array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    assert np.abs(x).max() <= 1 and 0.4 < y.mean() < 0.6


def test_spirals_lie_on_their_arm():
    _, x, y = points("spirals", n_samples=300, noise=0.0)
    r = np.hypot(x[:, 0], x[:, 1])               # r = t on both arms
    phi = 3 * math.pi * r + math.pi * y          # the arm's angle at that radius
    np.testing.assert_allclose(x[:, 0], r * np.cos(phi), atol=1e-5)
    np.testing.assert_allclose(x[:, 1], r * np.sin(phi), atol=1e-5)


@pytest.mark.parametrize("name", ["circles", "xor", "spirals"])
def test_seeded_noisy_and_split(name):
    a, xa, _ = points(name, n_samples=1000, noise=0.2, split_seed=3)
    b, xb, _ = points(name, n_samples=1000, noise=0.2, split_seed=3)
    _, xc, _ = points(name, n_samples=1000, noise=0.2, split_seed=4)
    _, x0, _ = points(name, n_samples=1000, noise=0.0, split_seed=3)
    assert np.array_equal(xa, xb) and not np.array_equal(xa, xc)
    assert 0.15 < np.std(xa - x0) < 0.25          # the noise's std, per coordinate
    assert (len(a.train), len(a.val), len(a.test)) == (600, 200, 200)


def test_bad_value_names_the_field():
    with pytest.raises(ConfigError, match=r"data.noise = -1.0 — must be >= 0"):
        nnopt.Recipe({"data": {"name": "spirals", "noise": -1.0}})


def test_the_boundary_view_is_offered_on_exactly_the_data_sets_whose_inputs_are_2d():
    """DATASETS_2D comes from the registrations' points_2d flag; the oracle is the loaded inputs' shape."""
    from nnopt.registry import DATASETS
    from nnopt.serve.forms import DATASETS_2D, PLAY_DATASETS

    for name in PLAY_DATASETS:
        d = nnopt.data.load(name, **({"n_samples": 60} if "n_samples" in DATASETS.spec(name) else {}))
        assert (d.train.x.shape[1:] == (2,)) == (name in DATASETS_2D), name
    assert set(DATASETS_2D) == {"moons", "circles", "xor", "spirals"}
