import pytest
import torch

import nnopt  # noqa: F401  (registrations)
from nnopt.nn.norms import place_norm
from nnopt.registry import NORMS

SHAPES = {"dense": (6, 8), "conv": (3, 8, 4, 4), "seq": (3, 5, 8)}
EXPECTED = {"none", "batch", "layer", "weight", "lrn", "group", "rms"}


def test_every_norm_is_registered():
    assert EXPECTED <= set(NORMS.names())


@pytest.mark.parametrize("kind", SHAPES)
@pytest.mark.parametrize("name", NORMS.names())
def test_every_norm_places_in_every_kind(name, kind):
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 8) if kind != "conv" else torch.nn.Conv2d(8, 8, 1)
    block = torch.nn.Sequential(*place_norm(layer, 8, kind, name))
    x = torch.randn(*SHAPES[kind])
    y = block(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert all(p.grad is not None for p in block.parameters())


def test_seq_norms_act_per_step():
    """A per-sample norm on (B, T, F) normalizes each step on its own: equal to the dense norm on (B·T, F)."""
    x = torch.randn(3, 5, 8)
    for name in ("layer", "group", "rms", "lrn"):
        seq, dense = NORMS.get(name).factory(8, "seq"), NORMS.get(name).factory(8, "dense")
        torch.testing.assert_close(seq(x), dense(x.reshape(15, 8)).reshape(3, 5, 8), msg=name)
    # batch norm over (B, T, F): statistics per feature over B and T
    y = NORMS.get("batch").factory(8, "seq")(x)
    torch.testing.assert_close(y.mean((0, 1)), torch.zeros(8), atol=1e-5, rtol=0)


def test_layer_norm_of_images_is_over_channels_and_space():
    x = torch.randn(2, 4, 3, 3) * 5 + 3
    y = NORMS.get("layer").factory(4, "conv")(x)
    torch.testing.assert_close(y.mean((1, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var((1, 2, 3), unbiased=False), torch.ones(2), atol=1e-3, rtol=0)


def test_weight_norm_reparametrizes_the_layer():
    block = place_norm(torch.nn.Linear(4, 3), 3, "dense", "weight")
    assert len(block) == 1
    assert hasattr(block[0].parametrizations, "weight")


def test_unknown_kind_and_name_are_errors():
    with pytest.raises(ValueError, match="kind = 'image'"):
        NORMS.get("layer").factory(4, "image")
    with pytest.raises(ValueError, match="model.norm = 'btach'.*did you mean 'batch'"):
        place_norm(torch.nn.Linear(2, 2), 2, "dense", "btach")


@pytest.mark.parametrize("name", [e.name for e in NORMS if not e.meta.get("reparametrizes")])
def test_a_norm_needs_two_samples_exactly_when_its_registration_says(name):
    """least_batch reads the registration's min_batch; the oracle is the module in training mode,
    which refuses a batch of one exactly when it needs two (as torch.nn.BatchNorm1d does)."""
    from nnopt.nn.norms import least_batch

    norm = NORMS.get(name).factory(6, "dense").train()
    norm(torch.randn(2, 6))
    if least_batch(name) == 2:
        with pytest.raises(ValueError, match="more than one value per channel"):
            norm(torch.randn(1, 6))
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            torch.nn.BatchNorm1d(6).train()(torch.randn(1, 6))
    else:
        assert least_batch(name) == 1
        norm(torch.randn(1, 6))
    assert least_batch("batch") == 2 and least_batch("batch", per_rank=True) == 2
    assert least_batch("sync_batch", per_rank=True) == 1 and least_batch(None) == 1
