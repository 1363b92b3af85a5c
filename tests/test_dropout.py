import pytest
import torch

from nnopt.nn.dropout import Dropout, KeepDropout, VariationalDropout


def test_inverted_dropout_scales_in_training_and_is_identity_in_eval():
    torch.manual_seed(0)
    d = Dropout(0.25)
    x = torch.randn(200, 50)
    y = d(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    assert abs((~kept).float().mean().item() - 0.25) < 0.02
    d.eval()
    assert torch.equal(d(x), x)


def test_book_form_scales_at_test_time():
    torch.manual_seed(0)
    d = KeepDropout(0.8)
    x = torch.randn(100, 40)
    y = d(x)
    kept = y != 0
    assert torch.equal(y[kept], x[kept])
    d.eval()
    torch.testing.assert_close(d(x), 0.8 * x)


def test_both_forms_draw_the_same_mask_and_differ_by_the_keep_factor():
    """Same seed → same mask; inverted = book / q in training, and in eval too (x vs q·x)."""
    x = torch.randn(30, 20)
    torch.manual_seed(3)
    inverted = Dropout(0.4)(x)
    torch.manual_seed(3)
    book = KeepDropout(0.6)(x)
    torch.testing.assert_close(inverted, book / 0.6)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_train_output_matches_eval_output_in_expectation(p):
    """Mean over 4000 draws of each form's training output equals its eval output within 5 σ."""
    torch.manual_seed(1)
    x = torch.linspace(-2, 2, 16)
    draws = 4000
    q = 1 - p
    for layer, expected, sd in [(Dropout(p), x, x.abs() * (p / q) ** 0.5),
                                (KeepDropout(q), q * x, x.abs() * (p * q) ** 0.5)]:
        samples = layer(x.expand(draws, -1).contiguous())
        tol = 5 * sd / draws ** 0.5 + 1e-6
        assert ((samples.mean(0) - expected).abs() <= tol).all(), type(layer).__name__
        layer.eval()
        torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_drop_probability_outside_unit_interval(p):
    with pytest.raises(ValueError, match=r"p = .* must be in \[0, 1\)"):
        Dropout(p)
    with pytest.raises(ValueError, match=r"p = .* must be in \[0, 1\)"):
        VariationalDropout(p)


@pytest.mark.parametrize("keep", [0.0, 1.2])
def test_keep_probability_outside_interval(keep):
    with pytest.raises(ValueError, match=r"keep = .* must be in \(0, 1\]"):
        KeepDropout(keep)


@pytest.mark.parametrize("batch_first", [True, False])
def test_variational_mask_is_constant_over_time_and_differs_across_samples(batch_first):
    torch.manual_seed(0)
    B, T, F = 8, 6, 32
    x = torch.rand(B, T, F) + 0.5  # no zeros, so y/x is the mask
    d = VariationalDropout(0.5, batch_first=batch_first)
    y = d(x if batch_first else x.transpose(0, 1))
    if not batch_first:
        y = y.transpose(0, 1)
    mask = y / x
    assert torch.allclose(mask, mask[:, :1].expand_as(mask))  # constant over time
    assert set(mask.unique().tolist()) <= {0.0, 2.0}
    per_sample = mask[:, 0]
    assert len({tuple(row.tolist()) for row in per_sample}) == B  # a different mask per sample
    d.eval()
    assert torch.equal(d(x), x)


def test_variational_dropout_needs_a_sequence():
    with pytest.raises(ValueError, match=r"\(B, T, F\) input"):
        VariationalDropout(0.2)(torch.randn(3, 4))
