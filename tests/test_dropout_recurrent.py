import pytest
import torch
import torch.nn.functional as F

from nnopt.errors import ConfigError
from nnopt.nn.dropout import dropout_mask
from nnopt.nn.recurrent import LoopRNN
from nnopt.registry import MODELS

TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
CELLS = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("cell", TORCH)
def test_loop_rnn_equals_torch_without_regularization(cell, batch_first):
    torch.manual_seed(0)
    ref = TORCH[cell](3, 5, num_layers=2, batch_first=batch_first)
    ours = LoopRNN(3, 5, cell, layers=2, batch_first=batch_first)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 6, 3) if batch_first else torch.randn(6, 4, 3)
    h0 = torch.randn(2, 4, 5)
    state = (h0, torch.randn(2, 4, 5)) if cell == "lstm" else h0
    out_ref, s_ref = ref(x, state)
    out, s = ours(x, state)
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(s if cell == "lstm" else [s], s_ref if cell == "lstm" else [s_ref]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", TORCH)
def test_variational_masks_on_input_state_and_output(cell):
    """Oracle: torch's cell stepped by hand with x_t·m_x, h_{t−1}·m_h (c unmasked), h_t·m_o."""
    torch.manual_seed(0)
    B, T, I, H, p = 5, 7, 3, 6, 0.4
    ours = LoopRNN(I, H, cell, input_dropout=p, state_dropout=p, output_dropout=p)
    ref = CELLS[cell](I, H)
    ref.load_state_dict({k[:-3]: v for k, v in ours.state_dict().items()})
    x = torch.randn(B, T, I)
    torch.manual_seed(42)
    out, _ = ours(x)
    torch.manual_seed(42)  # the masks, drawn in the same order: input, state, output
    m_x, m_h, m_o = (dropout_mask((B, n), p, x) for n in (I, H, H))
    h = c = torch.zeros(B, H)
    expected = []
    for t in range(T):
        if cell == "lstm":
            h, c = ref(x[:, t] * m_x, (h * m_h, c))
        elif cell == "gru":  # torch's GRU cell mixes h into the update too; mask only U's input
            r_z_n = F.linear(h * m_h, ref.weight_hh, ref.bias_hh)
            gx = F.linear(x[:, t] * m_x, ref.weight_ih, ref.bias_ih)
            r, z = torch.sigmoid(gx[:, :2 * H] + r_z_n[:, :2 * H]).chunk(2, 1)
            n = torch.tanh(gx[:, 2 * H:] + r * r_z_n[:, 2 * H:])
            h = (1 - z) * n + z * h
        else:
            h = ref(x[:, t] * m_x, h * m_h)
        expected.append(h * m_o)
    torch.testing.assert_close(out, torch.stack(expected, 1), atol=1e-5, rtol=1e-5)
    assert len({tuple(r.tolist()) for r in m_h}) == B  # masks differ across samples
    ours.eval()  # eval: no masks, identical to the plain recurrence
    plain = TORCH[cell](I, H, batch_first=True)
    plain.load_state_dict({k: v for k, v in ours.state_dict().items()})
    torch.testing.assert_close(ours(x)[0], plain(x)[0], atol=1e-5, rtol=1e-5)


def _ln(z):
    return F.layer_norm(z, z.shape[-1:])


def test_layer_norm_cells_hand_computed():
    """h_t = f(LN(U h_{t−1} + W x_t)), each gate normalized on its own (γ = 1, β = 0 at init)."""
    torch.manual_seed(0)
    B, T, I, H = 3, 4, 2, 5
    x = torch.randn(B, T, I)
    for cell in ("rnn", "lstm", "gru"):
        m = LoopRNN(I, H, cell, layer_norm=True)
        W, U, b = m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0 + m.bias_hh_l0
        h = c = torch.zeros(B, H)
        for t in range(T):
            if cell == "rnn":
                h = torch.tanh(_ln(x[:, t] @ W.T + h @ U.T + b))
            elif cell == "lstm":
                i, f, g, o = (_ln(z) for z in (x[:, t] @ W.T + h @ U.T + b).chunk(4, 1))
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                gx = x[:, t] @ W.T + m.bias_ih_l0
                gh = h @ U.T + m.bias_hh_l0
                r, z = torch.sigmoid(torch.cat([_ln(s) for s in (gx[:, :2 * H] + gh[:, :2 * H]).chunk(2, 1)], 1)).chunk(2, 1)
                n = torch.tanh(_ln(gx[:, 2 * H:] + r * gh[:, 2 * H:]))
                h = (1 - z) * n + z * h
        torch.testing.assert_close(m(x)[0][:, -1], h, atol=1e-5, rtol=1e-5, msg=cell)


def test_loop_rnn_bad_arguments():
    with pytest.raises(ValueError, match="state_dropout = 1.0"):
        LoopRNN(2, 3, state_dropout=1.0)
    with pytest.raises(ValueError, match="cell = 'transformer'"):
        LoopRNN(2, 3, cell="transformer")
    with pytest.raises(ValueError, match=r"\(B, T, F\) input"):
        LoopRNN(2, 3)(torch.randn(4, 2))


def test_rnn_loop_model_builds_from_the_registry():
    model = MODELS.create("rnn_loop", (7, 4), 3, 0.2, field="model", cell="gru", cell_norm=True,
                          norm="layer", variational_dropout=0.3, layers=2)
    assert isinstance(model.recurrent, LoopRNN) and model.recurrent.norms is not None
    out = model(torch.randn(5, 7, 4))
    assert out.shape == (5, 3)
    out.sum().backward()
    assert model(torch.randn(5, 1, 7, 4)).shape == (5, 3)  # images read row by row
    with pytest.raises(ConfigError, match="model.variational_dropout = 1.0"):
        MODELS.create("rnn_loop", (7, 4), 3, 0.0, field="model", variational_dropout=1.0)
    with pytest.raises(ConfigError, match="model.cell_norm = 'yes'"):
        MODELS.create("rnn_loop", (7, 4), 3, 0.0, field="model", cell_norm="yes")
    with pytest.raises(ConfigError, match="sequence inputs"):
        MODELS.create("rnn_loop", (28,), 3, 0.0, field="model")
