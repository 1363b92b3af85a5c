"""rnn_loop_naive: per-step dropout masks on inputs/outputs, the state untouched, eval = rnn_loop."""
import torch
from torch import nn

from nnopt.nn import build_model
from nnopt.nn.naive_rnn import StepDropoutRNN


class Probe(nn.Module):
    """A stand-in recurrence that returns its input and records the state it was given."""

    def forward(self, x, state=None):
        self.state = state
        return x, None


def test_masks_change_with_the_time_step_and_the_state_is_not_dropped():
    torch.manual_seed(0)
    probe = Probe()
    layer = StepDropoutRNN(probe, 0.5).train()
    state = torch.ones(1, 4, 8)
    out, _ = layer(torch.ones(4, 6, 8), state)
    assert probe.state is state  # h passes untouched
    kept = out != 0
    assert not all(torch.equal(kept[:, 0], kept[:, t]) for t in range(1, 6))  # a new mask per step
    # two inverted dropouts of p = 0.5: survivors are scaled by 1/(0.5·0.5)
    assert torch.all((out == 0) | (out == 4.0))


def test_eval_and_zero_dropout_equal_rnn_loop():
    torch.manual_seed(0)
    naive = build_model("rnn_loop_naive", (8, 8), 10, naive_dropout=0.3, hidden=16)
    plain = build_model("rnn_loop", (8, 8), 10, hidden=16)
    plain.load_state_dict({k.replace("recurrent.recurrent.", "recurrent."): v for k, v in naive.state_dict().items()})
    x = torch.randn(5, 8, 8)
    assert torch.allclose(naive.eval()(x), plain.eval()(x))
    naive.train()
    torch.manual_seed(1)
    assert not torch.allclose(naive(x), plain(x))  # training mode drops
