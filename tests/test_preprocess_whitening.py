"""PCA and ZCA whitening vs scikit-learn's PCA(whiten=True); unit covariance; inverse; the Trainer."""
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from nnopt import ConfigError, Recipe
from nnopt.preprocess import PCAWhitening, ZCAWhitening
from nnopt.train.builder import build


def correlated(n=800, d=6, seed=0):
    g = np.random.default_rng(seed)
    return g.normal(size=(n, d)) @ g.normal(size=(d, d)) * 3 + g.normal(size=d)


def same_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float):
    signs = np.sign((a * b).sum(0))
    np.testing.assert_allclose(a * signs, b, atol=atol)


@pytest.mark.parametrize("k", [None, 3])
def test_pca_matches_sklearn_up_to_sign(k):
    x = correlated()
    ours = PCAWhitening(n_components=k, eps=0.0).fit(torch.tensor(x))
    sk = PCA(n_components=k, whiten=True, svd_solver="full").fit(x)
    same_up_to_sign(ours.transform(torch.tensor(x)).numpy(), sk.transform(x), atol=1e-6)
    np.testing.assert_allclose(ours.explained_variance_.numpy(), sk.explained_variance_, rtol=1e-9)


@pytest.mark.parametrize("cls", [PCAWhitening, ZCAWhitening])
def test_whitened_covariance_is_identity_and_inverse_recovers_x(cls):
    x = torch.tensor(correlated(seed=1))
    pre = cls(eps=0.0).fit(x)
    z = pre.transform(x)
    torch.testing.assert_close(torch.cov(z.T), torch.eye(6, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(pre.inverse_transform(z), x, atol=1e-9, rtol=0)


def test_zca_stays_closest_to_the_input():
    """ZCA's matrix is symmetric, and the whitened data correlates positively with x per feature."""
    x = torch.tensor(correlated(seed=2))
    pre = ZCAWhitening(eps=0.0).fit(x)
    w = pre.transform(torch.eye(6, dtype=torch.float64) + pre.mean_) - pre.transform(pre.mean_[None])
    torch.testing.assert_close(w, w.T, atol=1e-10, rtol=0)
    assert torch.all(torch.linalg.eigvalsh(w) > 0)


def test_constant_features_give_no_nan_even_without_eps():
    x = correlated(seed=3)
    x[:, 2] = 7.0
    for cls in (PCAWhitening, ZCAWhitening):
        pre = cls(eps=0.0).fit(torch.tensor(x))
        z = pre.transform(torch.tensor(x))
        assert torch.isfinite(z).all()
        torch.testing.assert_close(pre.inverse_transform(z), torch.tensor(x), atol=1e-8, rtol=0)


def test_pca_reduction_flattens_and_errors():
    x = torch.randn(200, 1, 4, 4)
    assert PCAWhitening(n_components=5).fit_transform(x).shape == (200, 5)
    assert PCAWhitening().fit_transform(x).shape == x.shape
    with pytest.raises(ConfigError, match="preprocess.n_components = 17 — must be at most .* 16"):
        PCAWhitening(n_components=17).fit(x)
    with pytest.raises(ValueError, match="at least 2 samples"):
        ZCAWhitening().fit(x[:1])


def test_state_dict_round_trip():
    x = torch.tensor(correlated(seed=4))
    fitted = ZCAWhitening(eps=1e-3).fit(x)
    fresh = ZCAWhitening(eps=1e-3)
    fresh.load_state_dict(fitted.state_dict())
    torch.testing.assert_close(fresh.transform(x), fitted.transform(x), rtol=0, atol=0)


def test_the_builder_fits_on_train_and_transforms_every_split():
    setup = build(Recipe({"preprocess": {"name": "standardize"}, "train": {"device": "cpu"}}))
    train_x = setup.data.train.x
    assert train_x.mean().abs() < 1e-5 and setup.data.val.x.mean().abs() > 1e-5
    varying = train_x.std(0) > 0
    torch.testing.assert_close(train_x.std(0, unbiased=False)[varying],
                               torch.ones(int(varying.sum())), atol=1e-4, rtol=0)
    assert setup.preprocessor.state_dict()["n_samples"] == len(train_x)
