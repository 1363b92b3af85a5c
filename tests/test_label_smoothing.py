import math

import pytest
import torch
import torch.nn.functional as F

from nnopt.nn.losses import (LabelSmoothingLoss, label_smoothing_cross_entropy, smoothed_targets,
                             torch_label_smoothing)


def test_book_targets_by_hand():
    q = smoothed_targets(torch.tensor([2, 0]), 4, 0.3)
    torch.testing.assert_close(q, torch.tensor([[0.1, 0.1, 0.7, 0.1], [0.7, 0.1, 0.1, 0.1]]))


def test_torch_targets_by_hand():
    q = smoothed_targets(torch.tensor([1]), 4, 0.2, "torch")
    torch.testing.assert_close(q, torch.tensor([[0.05, 0.85, 0.05, 0.05]]))


def test_book_loss_hand_value():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    logp = [2 - math.log(math.exp(2) + 1 + math.exp(-1)) - v for v in (0.0, 2.0, 3.0)]
    expected = -(0.8 * logp[0] + 0.1 * logp[1] + 0.1 * logp[2])
    assert label_smoothing_cross_entropy(logits, torch.tensor([0]), 0.2).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("K", [2, 3, 10])
@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3])
def test_book_equals_torch_cross_entropy_with_rescaled_eps(K, eps):
    torch.manual_seed(K)
    logits, y = torch.randn(16, K) * 3, torch.randint(0, K, (16,))
    ours = LabelSmoothingLoss(eps)(logits, y)
    torch.testing.assert_close(ours, F.cross_entropy(logits, y, label_smoothing=eps * K / (K - 1)))
    torch.testing.assert_close(ours, F.cross_entropy(logits, y, label_smoothing=torch_label_smoothing(eps, K)))
    torch.testing.assert_close(LabelSmoothingLoss(eps, "torch")(logits, y),
                               F.cross_entropy(logits, y, label_smoothing=eps))
    assert torch_label_smoothing(eps, K, "torch") == eps


def test_reductions_and_gradient():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 3, requires_grad=True), torch.tensor([0, 1, 2, 0, 1])
    per = label_smoothing_cross_entropy(logits, y, 0.1, reduction="none")
    assert per.shape == (5,)
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, y, 0.1, reduction="sum"), per.sum())
    LabelSmoothingLoss(0.1)(logits, y).backward()
    q = smoothed_targets(y, 3, 0.1)
    torch.testing.assert_close(logits.grad, (logits.detach().softmax(1) - q) / 5)


@pytest.mark.parametrize("eps", [-0.1, 1.0, 2.0])
def test_eps_outside_unit_interval(eps):
    with pytest.raises(ValueError, match=r"eps = .* must be in \[0, 1\)"):
        LabelSmoothingLoss(eps)


def test_bad_convention_and_too_much_book_smoothing():
    with pytest.raises(ValueError, match="convention = 'keras'"):
        LabelSmoothingLoss(0.1, "keras")
    with pytest.raises(ValueError, match=r"eps = 0.6 — with 2 classes .* <= \(K−1\)/K = 0.5"):
        torch_label_smoothing(0.6, 2)
