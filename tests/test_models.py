import pytest
import torch

from nnopt import ConfigError
from nnopt.nn import build_model


@pytest.mark.parametrize("name, shape, params", [
    ("mlp", (1, 8, 8), {"widths": [16, 8]}),
    ("mlp", (2,), {"widths": [], "activation": "tanh"}),
    ("cnn", (1, 28, 28), {"channels": [4, 8], "hidden": 16}),
    ("cnn", (8, 8), {"channels": [4], "hidden": 0}),
    ("rnn", (8, 8), {"cell": "gru", "hidden": 12}),
    ("rnn", (1, 8, 8), {"cell": "lstm", "layers": 2, "bidirectional": True}),
])
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_models_map_inputs_to_logits(name, shape, params, norm):
    model = build_model(name, shape, 10, dropout=0.1, norm=norm, **params)
    out = model(torch.randn(5, *shape))
    assert out.shape == (5, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mlp_structure_and_dropout_hook():
    model = build_model("mlp", (4,), 3, dropout=0.5, widths=[7], norm="batch")
    kinds = [type(m).__name__ for m in model]
    assert kinds[:2] == ["Flatten", "Linear"] and kinds[2].startswith("BatchNorm")
    assert kinds[3:] == ["ReLU", "Dropout", "Linear"]
    assert model[1].weight.shape == (7, 4) and model[-1].weight.shape == (3, 7)


@pytest.mark.parametrize("name, shape, params, message", [
    ("rnn", (64,), {}, "rnn needs sequence inputs"),
    ("cnn", (64,), {}, "cnn needs image inputs"),
    ("cnn", (1, 8, 8), {"channels": [2, 2, 2, 2]}, "too many pooling blocks"),
    ("mlp", (4,), {"activation": "relux"}, "did you mean 'relu'"),
])
def test_model_errors(name, shape, params, message):
    with pytest.raises(ConfigError, match=message):
        build_model(name, shape, 10, **params)
