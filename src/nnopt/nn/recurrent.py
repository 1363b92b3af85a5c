"""Recurrent layers run as an explicit time loop, so the recurrent path can be regularized.

Cells (torch's gate order and equations, so an ``nn.LSTM/GRU/RNN`` state dict loads as is):

    rnn   h_t = tanh(LN(W x_t + U h_{t−1} + b))
    lstm  [i f g o] = LN(W x_t + U h_{t−1} + b);  c_t = σ(f)⊙c_{t−1} + σ(i)⊙tanh(g);  h_t = σ(o)⊙tanh(c_t)
    gru   [r z] = σ(LN(W_rz x_t + U_rz h_{t−1} + b));  n = tanh(LN(W_n x_t + b_n + r⊙(U_n h_{t−1} + b_hn)))
          h_t = (1 − z)⊙n + z⊙h_{t−1}

LN (optional, ``layer_norm=True``) is the chapter's h_t = f(LN(U h_{t−1} + W x_t)), applied to each
gate's pre-activation separately with its own gain and bias; without it the layer equals torch's.

Variational dropout (Gal & Ghahramani 2016): per sequence one mask for the inputs x_t, one for the
state h_{t−1} entering U, and one for the outputs h_t, each constant over time and drawn per sample.
"""
from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from ..params import Param
from ..registry import LAYERS, MODELS, NORMS
from .dropout import DROP, drop_probability, dropout_mask
from .layernorm import layer_norm
from .models import MAX_LAYERS, RecurrentClassifier

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class GateNorm(nn.Module):
    """Layer norm of each of G gate pre-activations (B, G·H), each over its H units, own γ, β."""

    def __init__(self, gates: int, hidden: int, eps: float = 1e-5):
        super().__init__()
        self.gates, self.eps = gates, eps
        self.weight = nn.Parameter(torch.ones(gates, hidden))
        self.bias = nn.Parameter(torch.zeros(gates, hidden))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        g = z.unflatten(-1, (self.gates, -1))
        return (layer_norm(g, 1, self.eps) * self.weight + self.bias).flatten(-2)


@LAYERS.register("loop_rnn", params={
    "input_size": Param(int, ge=1), "hidden_size": Param(int, ge=1),
    "cell": Param(str, "lstm", choices=tuple(GATES)), "layers": Param(int, 1, ge=1, le=MAX_LAYERS),
    **{k: replace(DROP, default=0.0) for k in ("input_dropout", "state_dropout", "output_dropout")}})
class LoopRNN(nn.Module):
    """Multi-layer LSTM/GRU/tanh-RNN over (B, T, F) (``batch_first``) or (T, B, F) inputs.

    Returns (outputs of the last layer, final state) like torch: state h (layers, B, H), and for
    LSTM the pair (h, c). Dropout probabilities: ``input_dropout`` on each layer's input,
    ``state_dropout`` on h_{t−1}, ``output_dropout`` on the last layer's outputs — variational.
    """

    def __init__(self, input_size: int, hidden_size: int, cell: str = "lstm", layers: int = 1,
                 input_dropout: float = 0.0, state_dropout: float = 0.0, output_dropout: float = 0.0,
                 layer_norm: bool = False, batch_first: bool = True):
        super().__init__()
        if cell not in GATES:
            raise ValueError(f"cell = {cell!r} — must be one of {', '.join(map(repr, GATES))}")
        if layers < 1:
            raise ValueError(f"layers = {layers} — must be >= 1")
        self.cell, self.hidden_size, self.layers, self.batch_first = cell, hidden_size, layers, batch_first
        self.input_dropout = drop_probability(input_dropout, "input_dropout")
        self.state_dropout = drop_probability(state_dropout, "state_dropout")
        self.output_dropout = drop_probability(output_dropout, "output_dropout")
        g, bound = GATES[cell], 1 / math.sqrt(hidden_size)
        for k in range(layers):
            fan_in = input_size if k == 0 else hidden_size
            for name, shape in [("weight_ih", (g * hidden_size, fan_in)),
                                ("weight_hh", (g * hidden_size, hidden_size)),
                                ("bias_ih", (g * hidden_size,)), ("bias_hh", (g * hidden_size,))]:
                self.register_parameter(f"{name}_l{k}", nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        self.norms = nn.ModuleList(self._norms(g) for _ in range(layers)) if layer_norm else None

    def _norms(self, g: int) -> nn.Module:
        if self.cell == "gru":  # [r z] and n are normalized apart (n's input mixes r in)
            return nn.ModuleList([GateNorm(2, self.hidden_size), GateNorm(1, self.hidden_size)])
        return GateNorm(g, self.hidden_size)

    def _mask(self, p: float, batch: int, features: int, like: torch.Tensor):
        if not self.training or p == 0:
            return None
        return dropout_mask((batch, features), p, like)

    def forward(self, x: torch.Tensor, state=None):
        if x.dim() != 3:
            layout = "(B, T, F)" if self.batch_first else "(T, B, F)"
            raise ValueError(f"LoopRNN needs {layout} input, got shape {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[0]
        zeros = x.new_zeros(self.layers, batch, self.hidden_size)
        if state is None:
            state = (zeros, zeros) if self.cell == "lstm" else zeros
        h0, c0 = state if self.cell == "lstm" else (state, None)
        finals_h, finals_c = [], []
        for k in range(self.layers):
            p_in = self.input_dropout if k == 0 else self.output_dropout
            m_in = self._mask(p_in, batch, x.shape[-1], x)
            m_h = self._mask(self.state_dropout, batch, self.hidden_size, x)
            x, h, c = self._layer(k, x if m_in is None else x * m_in.unsqueeze(1), h0[k],
                                  None if c0 is None else c0[k], m_h)
            finals_h.append(h)
            finals_c.append(c)
        m_out = self._mask(self.output_dropout, batch, self.hidden_size, x)
        if m_out is not None:
            x = x * m_out.unsqueeze(1)
        out = x if self.batch_first else x.transpose(0, 1)
        h = torch.stack(finals_h)
        return out, ((h, torch.stack(finals_c)) if self.cell == "lstm" else h)

    def _layer(self, k: int, x: torch.Tensor, h: torch.Tensor, c, m_h):
        w_hh, b_hh = getattr(self, f"weight_hh_l{k}"), getattr(self, f"bias_hh_l{k}")
        wx = torch.nn.functional.linear(x, getattr(self, f"weight_ih_l{k}"), getattr(self, f"bias_ih_l{k}"))
        norm = self.norms[k] if self.norms is not None else None
        outputs = []
        for t in range(x.shape[1]):
            uh = torch.nn.functional.linear(h if m_h is None else h * m_h, w_hh, b_hh)
            h, c = self._step(wx[:, t], uh, h, c, norm)
            outputs.append(h)
        return torch.stack(outputs, 1), h, c

    def _step(self, wx, uh, h, c, norm):
        if self.cell == "rnn":
            z = wx + uh
            return torch.tanh(norm(z) if norm is not None else z), None
        if self.cell == "lstm":
            z = wx + uh
            i, f, g, o = (norm(z) if norm is not None else z).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        H = self.hidden_size
        rz = wx[:, :2 * H] + uh[:, :2 * H]
        r, z = torch.sigmoid(norm[0](rz) if norm is not None else rz).chunk(2, -1)
        n = wx[:, 2 * H:] + r * uh[:, 2 * H:]
        n = torch.tanh(norm[1](n) if norm is not None else n)
        return (1 - z) * n + z * h, None


class LoopRecurrentClassifier(RecurrentClassifier):
    """The "rnn" classifier with its torch recurrence swapped for a LoopRNN: variational dropout
    p on x_t, h_{t−1} and h_t, and optionally layer norm inside the cell."""

    def __init__(self, input_shape, n_classes: int, dropout: float, cell: str, hidden: int,
                 layers: int, norm: str, cell_norm: bool, variational_dropout: float):
        super().__init__(input_shape, n_classes, dropout, cell, hidden, layers, False, norm)
        p = variational_dropout
        self.recurrent = LoopRNN(self.recurrent.input_size, hidden, cell, layers, input_dropout=p,
                                 state_dropout=p, output_dropout=p, layer_norm=cell_norm)


@MODELS.register("rnn_loop", skip=3, params={
    "cell": Param(str, "lstm", choices=tuple(GATES)),
    "hidden": Param(int, 64, ge=1), "layers": Param(int, 1, ge=1, le=MAX_LAYERS, doc="stacked recurrent layers"),
    "norm": Param(str, "none", choices=NORMS, doc="normalization of the last hidden state"),
    "cell_norm": Param(bool, False, doc="layer norm inside the cell: h_t = f(LN(U h_{t-1} + W x_t))"),
    "variational_dropout": Param(float, 0.0, ge=0, lt=1,
                                 doc="one mask per sequence on inputs, recurrent state and outputs")})
def rnn_loop(input_shape, n_classes, dropout=0.0, cell="lstm", hidden=64, layers=1, norm="none",
             cell_norm=False, variational_dropout=0.0):
    """Recurrent classifier with a time-loop cell: variational dropout on x_t, h_{t−1}, h_t and
    optional layer norm inside the cell → last output → norm → dropout → Linear"""
    return LoopRecurrentClassifier(input_shape, n_classes, dropout, cell, hidden, layers, norm,
                                   cell_norm, variational_dropout)
