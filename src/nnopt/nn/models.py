"""Model builders: MLP, a small CNN and an LSTM/GRU classifier, with norm/dropout hooks.

Every builder takes the data set's input shape and class count, plus ``norm`` (a NORMS name placed
after each hidden affine layer) and ``dropout`` (drop probability after each hidden activation).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..params import REQUIRED, Param, spec_from_signature
from ..registry import ACTIVATIONS, MODELS, NORMS
from ..user_code import accepts, one_line, resolve_callable
from .checks import check_memory
from .norms import place_norm
from .weightnorm import weight_norm

BYTES_PER_PARAMETER = 16  # float32 weight, gradient and two optimizer states
MAX_LAYERS = 100  # stacked recurrent layers (torch's LSTM takes seconds to build 1000 of them)
COMMON = {
    "activation": Param(str, "relu", choices=ACTIVATIONS),
    "norm": Param(str, "none", choices=NORMS, doc="normalization after each hidden affine layer"),
}


class TooManyParameters(ConfigError):
    """A model with `count` parameters where the caller trains at most `limit`."""

    def __init__(self, count: int, limit: int, field: str):
        super().__init__(f"{field} — the model has {count:,} parameters; at most {limit:,} here", field)
        self.count, self.limit = count, limit

    def __reduce__(self):
        return type(self), (self.count, self.limit, self.field)


def build_model(name: str, input_shape: tuple[int, ...], n_classes: int, dropout: float = 0.0,
                max_parameters: int | None = None, example: torch.Tensor | None = None, **params) -> nn.Module:
    """Build a registered model for inputs of `input_shape` (without the batch dimension).

    It is first built on the meta device (no memory): one that would not fit, or that has more
    than `max_parameters` parameters, is a ConfigError before any memory is taken. A model whose
    registration says ``check_forward`` (a user's own, ``model.name = "python"``) then maps two
    input rows, `example` (the data set's first training rows, in its dtype: token ids for an
    nn.Embedding) or float zeros without one, and must give (2, n_classes) (`check_output`)."""
    try:
        with torch.device("meta"):
            probe = MODELS.create(name, tuple(input_shape), n_classes, dropout, field="model", **params)
    except RuntimeError as exc:  # sizes torch cannot hold (e.g. a width past int64)
        raise ConfigError(f"model.name = {name!r} cannot be built with these sizes: {exc}") from None
    count = sum(p.numel() for p in probe.parameters())
    if max_parameters is not None and count > max_parameters:
        raise TooManyParameters(count, max_parameters, "model.widths" if "widths" in params else "model.name")
    check_memory(BYTES_PER_PARAMETER * count, f"model.name = {name!r} with {count:,} parameters",
                 "use fewer or narrower layers")
    model = MODELS.create(name, tuple(input_shape), n_classes, dropout, field="model", **params)
    if MODELS.get(name).meta.get("check_forward"):
        check_output(model, input_shape, n_classes, f"model.factory = {params.get('factory')!r}", example)
    return model


def hidden_block(layer: nn.Module, features: int, kind: str, norm: str, activation: str,
                 dropout: float) -> list[nn.Module]:
    """affine → norm → activation → dropout: the unit every builder repeats."""
    block = [*place_norm(layer, features, kind, norm), ACTIVATIONS.get(activation).factory()]
    if dropout > 0:
        block.append(nn.Dropout(dropout))
    return block


@MODELS.register("mlp", skip=3, params={
    **COMMON, "widths": Param(list, [128, 128], item=Param(int, ge=1), doc="hidden layer widths")})
def mlp(input_shape, n_classes, dropout=0.0, widths=(128, 128), activation="relu", norm="none"):
    """Multi-layer perceptron on flattened inputs: (Linear → norm → activation → dropout)* → Linear"""
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = math.prod(input_shape)
    for width in widths:
        layers += hidden_block(nn.Linear(fan_in, width), width, "dense", norm, activation, dropout)
        fan_in = width
    layers.append(nn.Linear(fan_in, n_classes))
    return nn.Sequential(*layers)


@MODELS.register("cnn", skip=3, params={
    **COMMON,
    "channels": Param(list, [16, 32], item=Param(int, ge=1), doc="conv channels; each block halves H, W"),
    "kernel_size": Param(int, 3, ge=1),
    "hidden": Param(int, 128, ge=0, doc="width of the dense layer before the output; 0 = none")})
def cnn(input_shape, n_classes, dropout=0.0, channels=(16, 32), kernel_size=3, hidden=128,
        activation="relu", norm="none"):
    """Small CNN: (Conv → norm → activation → 2×2 max-pool)* → dense → output"""
    if len(input_shape) == 2:
        input_shape = (1, *input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"cnn needs image inputs (C, H, W), got shape {input_shape}; "
                         "use data.layout = \"image\"")
    c, h, w = input_shape
    layers: list[nn.Module] = []
    for out in channels:
        if min(h, w) < 2:
            raise ValueError(f"channels = {list(channels)} — too many pooling blocks for a "
                             f"{input_shape[1]}×{input_shape[2]} input")
        conv = nn.Conv2d(c, out, kernel_size, padding=kernel_size // 2)
        layers += hidden_block(conv, out, "conv", norm, activation, 0.0)
        layers.append(nn.MaxPool2d(2))
        c, h, w = out, h // 2, w // 2
    layers.append(nn.Flatten())
    fan_in = c * h * w
    if hidden:
        layers += hidden_block(nn.Linear(fan_in, hidden), hidden, "dense", norm, activation, dropout)
        fan_in = hidden
    elif dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(fan_in, n_classes))
    return _ImageInput(nn.Sequential(*layers))


class _ImageInput(nn.Module):
    """Adds the channel axis to (B, H, W) inputs so a CNN also takes sequence-layout data."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.unsqueeze(1) if x.dim() == 3 else x)


@MODELS.register("rnn", skip=3, params={
    "cell": Param(str, "lstm", choices=("lstm", "gru", "rnn")),
    "hidden": Param(int, 64, ge=1), "layers": Param(int, 1, ge=1, le=MAX_LAYERS, doc="stacked recurrent layers"),
    "bidirectional": Param(bool, False),
    "norm": Param(str, "none", choices=NORMS, doc="normalization of the last hidden state")})
def rnn(input_shape, n_classes, dropout=0.0, cell="lstm", hidden=64, layers=1, bidirectional=False,
        norm="none"):
    """Recurrent classifier over a sequence (B, T, F): LSTM/GRU/tanh-RNN → last state → Linear"""
    return RecurrentClassifier(input_shape, n_classes, dropout, cell, hidden, layers, bidirectional, norm)


class RecurrentClassifier(nn.Module):
    """Reads (B, T, F) sequences (or (B, 1, H, W) images row by row) and classifies the last state."""

    CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

    def __init__(self, input_shape, n_classes, dropout, cell, hidden, layers, bidirectional, norm):
        super().__init__()
        shape = tuple(input_shape)
        if len(shape) == 3 and shape[0] == 1:
            shape = shape[1:]
        if len(shape) != 2:
            raise ValueError(f"rnn needs sequence inputs (T, F), got shape {tuple(input_shape)}; "
                             "use a *_seq data set or data.layout = \"sequence\"")
        self.recurrent = self.CELLS[cell](shape[1], hidden, num_layers=layers, batch_first=True,
                                          dropout=dropout if layers > 1 else 0.0,
                                          bidirectional=bidirectional)
        out = hidden * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        if NORMS.get(norm).meta.get("reparametrizes"):  # weight norm: on the output layer
            self.norm, self.head = nn.Identity(), weight_norm(nn.Linear(out, n_classes))
        else:
            self.norm, self.head = NORMS.get(norm).factory(out, "dense"), nn.Linear(out, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.squeeze(1)
        seq, _ = self.recurrent(x)
        return self.head(self.dropout(self.norm(seq[:, -1])))


# -- a user's own model ----------------------------------------------------------------------------
FACTORY = Param(str, external=True, doc='your function: "pkg.module:function" or "path/to/file.py:function"; it gets '
                         "input_shape and n_outputs (and this section's other keys) as keyword arguments "
                         "and returns an nn.Module")
RUN_SUPPLIED = ("input_shape", "n_outputs", "dropout")  # what the run passes, not recipe fields


def python_spec(values) -> dict[str, Param]:
    """The parameters of ``model.name = "python"`` for the recipe's `values`: ``factory`` plus the
    factory's own keyword arguments (kinds from their defaults or annotations; an argument with
    neither takes the kind of the value given), so an unknown key, a wrong kind and a tune space
    over the factory's arguments are checked like a built-in model's."""
    factory = values.get("factory") if hasattr(values, "get") else None
    if not isinstance(factory, str):
        return {"factory": FACTORY}
    fn = resolve_callable(factory, "model.factory")
    if not all(accepts(fn, k) for k in ("input_shape", "n_outputs")):
        raise ConfigError(f"model.factory = {factory!r} — {fn.__name__} must take the keyword arguments "
                          "input_shape and n_outputs")
    spec = {"factory": FACTORY}
    for key, param in spec_from_signature(fn).items():
        if key in RUN_SUPPLIED:
            continue
        given = values.get(key)
        if param.default is REQUIRED and param.kind is str and given is not None \
                and not isinstance(given, str):  # no default, no annotation: the given value's kind
            param = Param(type(given) if type(given) in (int, float, bool, list, dict) else str)
        spec[key] = param
    return spec


@MODELS.register("python", skip=3, spec_of=python_spec, params={"factory": FACTORY}, check_forward=True)
def python_model(input_shape, n_outputs, dropout=0.0, factory="", **kwargs):
    """Your own model: factory(input_shape, n_outputs, **the section's other keys) returns the nn.Module"""
    fn = resolve_callable(factory, "model.factory")
    if dropout > 0:
        if not accepts(fn, "dropout"):
            raise ConfigError(f"regularization.dropout = {dropout} — model.factory = {factory!r} takes no "
                              "dropout argument; give it one (it gets this value) or leave dropout at 0")
        kwargs["dropout"] = dropout
    name = getattr(fn, "__qualname__", factory)
    try:
        model = fn(input_shape=tuple(input_shape), n_outputs=n_outputs, **kwargs)
    except Exception as exc:  # noqa: BLE001 — the user's function may raise anything
        raise ConfigError(f"model.factory = {factory!r} — {name}(input_shape={tuple(input_shape)}, "
                          f"n_outputs={n_outputs}{''.join(f', {k}={v!r}' for k, v in kwargs.items())}) raised "
                          f"{type(exc).__name__}: {one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.factory = {factory!r} — {name} returned {type(model).__name__}, "
                          "not a torch.nn.Module")
    return model


def check_output(model: nn.Module, input_shape, n_outputs: int, what: str,
                 example: torch.Tensor | None = None) -> None:
    """A forward pass on two input rows — `example`'s first two (real data, in the data set's dtype
    and on the CPU where the model is built), else zeros of float32 — in eval mode, without
    gradient (no running statistics move, no randomness drawn), must give one row of n_outputs
    per input row."""
    x = torch.zeros(2, *input_shape) if example is None else example[:2].cpu()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{what} — the model's forward on inputs of shape {tuple(x.shape)} raised "
                          f"{type(exc).__name__}: {one_line(exc)}") from None
    finally:
        model.train(was_training)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got != (len(x), n_outputs):
        raise ConfigError(f"{what} — the model maps inputs of shape {tuple(x.shape)} to {got}; expected "
                          f"({len(x)}, {n_outputs}): one row per sample, n_outputs = {n_outputs} columns")
