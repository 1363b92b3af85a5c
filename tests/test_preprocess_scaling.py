"""Min-max scaling and standardization vs scikit-learn; streaming fit; shapes; state; constants."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from sklearn.preprocessing import MinMaxScaler as SkMinMax, StandardScaler
from torch.utils.data import DataLoader, TensorDataset

from nnopt import ConfigError
from nnopt.preprocess import MinMaxScaler, Moments, Standardizer
from nnopt.registry import PREPROCESSORS


def data(n=500, d=7, seed=0):
    g = np.random.default_rng(seed)
    return g.normal(size=(n, d)) * g.uniform(0.1, 100, size=d) + g.uniform(-50, 50, size=d)


def test_minmax_matches_sklearn_with_a_range():
    x = data()
    ours = MinMaxScaler((-1.0, 2.0)).fit_transform(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), SkMinMax(feature_range=(-1, 2)).fit_transform(x), atol=1e-6)


def test_standardizer_matches_sklearn_and_inverts():
    x = data(seed=1)
    ours = Standardizer().fit(torch.tensor(x))
    z = ours.transform(torch.tensor(x))
    np.testing.assert_allclose(z.numpy(), StandardScaler().fit_transform(x), atol=1e-6)
    np.testing.assert_allclose(ours.inverse_transform(z).numpy(), x, atol=1e-9)


def test_constant_features_give_no_nan_and_follow_sklearn():
    x = data(seed=2)
    x[:, 3] = 4.2
    for ours, theirs in ((MinMaxScaler(), SkMinMax()), (Standardizer(), StandardScaler())):
        z = ours.fit_transform(torch.tensor(x))
        assert torch.isfinite(z).all()
        np.testing.assert_allclose(z.numpy(), theirs.fit_transform(x), atol=1e-6)
    assert torch.all(MinMaxScaler().fit_transform(torch.tensor(x))[:, 3] == 0)


def test_streaming_fit_over_a_dataloader_equals_one_pass():
    x = torch.tensor(data(n=1003, seed=3))
    loader = DataLoader(TensorDataset(x, torch.zeros(len(x))), batch_size=37)
    for cls in (MinMaxScaler, Standardizer):
        whole, streamed = cls().fit(x), cls().fit(loader)
        for a, b in zip(whole.state_dict().values(), streamed.state_dict().values()):
            torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), rtol=1e-12, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_chunked_moments_equal_the_direct_ones(sizes):
    x = torch.tensor(data(n=sum(sizes), d=4, seed=len(sizes)))
    moments = Moments(4, full=True)
    for chunk in x.split(sizes):
        moments.update(chunk)
    torch.testing.assert_close(moments.mean, x.mean(0))
    torch.testing.assert_close(moments.variance, x.var(0, unbiased=False))
    if len(x) > 1:
        torch.testing.assert_close(moments.covariance, torch.cov(x.T).reshape(4, 4))
    torch.testing.assert_close(moments.min, x.min(0).values)


@pytest.mark.parametrize("shape", [(1, 6, 5), (9, 4)])
def test_images_and_sequences_keep_their_shape_and_dtype(shape):
    x = torch.randn(300, *shape) * 3 + 1
    flat = Standardizer().fit_transform(x.reshape(300, -1))
    z = Standardizer().fit_transform(x)
    assert z.shape == x.shape and z.dtype == torch.float32
    torch.testing.assert_close(z.reshape(300, -1), flat)
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        Standardizer().fit(x).transform(x.reshape(300, -1))


def test_state_dict_round_trip(tmp_path):
    x = torch.tensor(data(seed=4))
    fitted = MinMaxScaler((0.0, 5.0)).fit(x)
    torch.save(fitted.state_dict(), tmp_path / "p.pt")
    fresh = MinMaxScaler((0.0, 5.0))
    fresh.load_state_dict(torch.load(tmp_path / "p.pt", weights_only=True))
    torch.testing.assert_close(fresh.transform(x), fitted.transform(x), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(x)


def test_registry_entries_and_errors():
    assert isinstance(PREPROCESSORS.create("minmax", feature_range=[-1, 1]), MinMaxScaler)
    assert PREPROCESSORS.create("none") is None
    with pytest.raises(ConfigError, match="low must be below high"):
        PREPROCESSORS.create("minmax", field="preprocess", feature_range=[1, 0])
    with pytest.raises(ConfigError, match="preprocess.feature_range"):
        PREPROCESSORS.create("minmax", field="preprocess", feature_range=[1])
