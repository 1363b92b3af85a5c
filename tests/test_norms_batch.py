import pytest
import torch

from nnopt.nn.batchnorm import BatchNorm


def _pair(shape, **kw):
    torch.manual_seed(0)
    ref = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(shape[1], **kw)
    ours = BatchNorm(shape[1], momentum=kw.get("momentum", 0.1))
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


@pytest.mark.parametrize("shape", [(8, 5), (6, 4, 7), (4, 3, 5, 5)])
def test_matches_torch_in_train_and_eval(shape):
    ref, ours = _pair(shape, momentum=0.3)
    for step in range(3):
        x = torch.randn(*shape) * (step + 1) + step
        xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
        yr, yo = ref(xr), ours(xo)
        torch.testing.assert_close(yo, yr, atol=1e-5, rtol=1e-5)
        (yr * torch.arange(yr.numel()).view_as(yr)).sum().backward()
        (yo * torch.arange(yo.numel()).view_as(yo)).sum().backward()
        torch.testing.assert_close(xo.grad, xr.grad, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.running_var, ref.running_var, atol=1e-5, rtol=1e-5)
    assert ours.num_batches_tracked == ref.num_batches_tracked == 3
    ref.eval(), ours.eval()
    x = torch.randn(*shape)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_running_var_is_unbiased_hand_computed():
    bn = BatchNorm(1, momentum=1.0)  # torch convention, m = 1: running ← batch statistic
    x = torch.tensor([[1.0], [2.0], [4.0]])
    bn(x)
    assert bn.running_mean.item() == pytest.approx(7 / 3)
    assert bn.running_var.item() == pytest.approx(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)


def test_book_convention_is_the_complementary_momentum():
    torch.manual_seed(1)
    torch_style, book_style = BatchNorm(4, momentum=0.2), BatchNorm(4, momentum=0.8, convention="book")
    for _ in range(4):
        x = torch.randn(16, 4) * 3 + 1
        torch_style(x), book_style(x)
    torch.testing.assert_close(book_style.running_mean, torch_style.running_mean)
    torch.testing.assert_close(book_style.running_var, torch_style.running_var)
    assert BatchNorm(4, convention="book").momentum == 0.9
    assert BatchNorm(4).momentum == 0.1
    # book, m = 0.9: r ← 0.9·r + 0.1·s
    bn = BatchNorm(1, convention="book")
    bn(torch.tensor([[2.0], [4.0]]))
    assert bn.running_mean.item() == pytest.approx(0.1 * 3.0)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_momentum_outside_unit_interval_is_rejected(momentum):
    with pytest.raises(ValueError, match=r"momentum = .* must be in \[0, 1\]"):
        BatchNorm(4, momentum=momentum)


def test_bad_convention_named():
    with pytest.raises(ValueError, match="convention = 'keras'"):
        BatchNorm(4, convention="keras")


def test_batch_of_one_in_training_says_how_to_fix():
    bn = BatchNorm(3)
    with pytest.raises(ValueError, match="batch_size >= 2.*model.norm"):
        bn(torch.randn(1, 3))
    bn.eval()
    assert bn(torch.randn(1, 3)).shape == (1, 3)  # eval uses running statistics: fine
    bn2 = BatchNorm(3)
    assert bn2(torch.randn(1, 3, 2, 2)).shape == (1, 3, 2, 2)  # 4 values per channel


def test_wrong_channel_count_named():
    with pytest.raises(ValueError, match=r"BatchNorm\(4\) got input of shape \(2, 3\)"):
        BatchNorm(4)(torch.randn(2, 3))
