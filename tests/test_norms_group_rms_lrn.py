import pytest
import torch

from nnopt.nn.group_rms import GroupNorm, RMSNorm, default_groups
from nnopt.nn.lrn import LocalResponseNorm


def _affine(ref):
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_()
    return ref


@pytest.mark.parametrize("groups,shape", [(2, (3, 4, 5, 5)), (1, (2, 6)), (6, (2, 6, 7)), (3, (2, 6, 4, 4))])
def test_group_norm_matches_torch(groups, shape):
    torch.manual_seed(0)
    ref = _affine(torch.nn.GroupNorm(groups, shape[1]))
    ours = GroupNorm(groups, shape[1])
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(*shape) * 3 - 1
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_group_norm_bad_groups():
    with pytest.raises(ValueError, match="groups = 4 — must be >= 1 and divide channels = 6"):
        GroupNorm(4, 6)
    assert default_groups(48) == 24 and default_groups(7) == 7 and default_groups(64) == 32


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 6)])
def test_rms_norm_matches_torch(shape):
    torch.manual_seed(0)
    ref = _affine(torch.nn.RMSNorm(6, eps=1e-6))
    ours = RMSNorm(6, eps=1e-6)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(*shape) * 2 + 1
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_rms_norm_over_channels_of_an_image():
    x = torch.randn(2, 4, 3, 3)
    ours = RMSNorm(4, channel_dim=1, affine=False)
    hand = x / torch.sqrt(x.pow(2).mean(1, keepdim=True) + 1e-6)
    torch.testing.assert_close(ours(x), hand)


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(2, 7, 4, 4), (3, 6, 5)])
def test_lrn_torch_convention_matches_torch(size, shape):
    x = torch.randn(*shape)
    ref = torch.nn.LocalResponseNorm(size, alpha=0.3, beta=0.75, k=1.5)
    ours = LocalResponseNorm(size, alpha=0.3, beta=0.75, k=1.5, convention="torch")
    torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=1e-5)


def test_lrn_book_equals_torch_with_alpha_times_n():
    x = torch.randn(2, 8, 3, 3)
    book = LocalResponseNorm(5, alpha=1e-2, beta=0.75, convention="book")
    assert book.k == 2.0
    ref = torch.nn.LocalResponseNorm(5, alpha=1e-2 * 5, beta=0.75, k=2.0)
    torch.testing.assert_close(book(x), ref(x), atol=1e-6, rtol=1e-5)


def test_lrn_book_hand_computation():
    # 3 channels, n = 3: channel 0 sees channels 0..1, channel 1 sees 0..2, channel 2 sees 1..2
    a = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1)
    lrn = LocalResponseNorm(3, alpha=0.1, beta=0.5, convention="book")  # k = 2
    expected = torch.tensor([1 / (2 + 0.1 * 5) ** 0.5, 2 / (2 + 0.1 * 14) ** 0.5, 3 / (2 + 0.1 * 13) ** 0.5])
    torch.testing.assert_close(lrn(a).view(3), expected)


def test_lrn_bad_arguments():
    with pytest.raises(ValueError, match="convention = 'alexnet'"):
        LocalResponseNorm(convention="alexnet")
    with pytest.raises(ValueError, match="size = 0"):
        LocalResponseNorm(0)
