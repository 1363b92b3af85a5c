"""Parameters in every torch form; the no-weight-decay group for 1-D parameters; the registry."""
import torch
from conftest import small_cnn

import nnopt.optim as O
from nnopt.registry import OPTIMIZERS


def test_eight_optimizers_registered():
    """The chapter's eight come first (those beyond it: tests/optim/test_beyond_*.py)."""
    assert O.available()[:8] == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
    for name in O.available():
        opt = O.create(name, small_cnn().parameters())
        assert isinstance(opt, torch.optim.Optimizer)
        assert OPTIMIZERS.get(name).description


def test_one_d_params_get_no_weight_decay_when_asked():
    """no_decay_1d=True (a recipe's default; the library keeps torch's groups)."""
    m = small_cnn()
    opt = O.create("adamw", m.named_parameters(), weight_decay=0.05, no_decay_1d=True)
    decay, keep = opt.param_groups
    assert decay["weight_decay"] == 0.05 and keep["weight_decay"] == 0.0
    assert decay["param_names"] == ["0.weight", "4.weight", "7.weight"]
    assert keep["param_names"] == ["0.bias", "4.bias", "5.weight", "5.bias", "7.bias"]
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim == 1 for p in keep["params"])
    assert len(O.create("adamw", m.parameters(), weight_decay=0.05).param_groups) == 1
    assert len(O.create("adam", m.parameters(), no_decay_1d=True).param_groups) == 1  # weight_decay = 0


def test_group_dicts_keep_their_settings():
    m = small_cnn()
    params = list(m.parameters())
    groups = [{"params": params[:2], "lr": 0.1, "betas": (0.5, 0.9)}, {"params": params[2:]}]
    opt = O.create("adam", groups, lr=1e-3, weight_decay=0.01, no_decay_1d=True)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1, 1e-3, 1e-3]
    assert opt.param_groups[0]["betas"] == (0.5, 0.9) and opt.param_groups[2]["betas"] == (0.9, 0.999)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0, 0.01, 0.0]


def test_per_group_betas_take_effect():
    """A group's own betas build its own chain: its parameters follow torch with those betas."""
    p, q = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt = O.create("adam", [{"params": [p], "betas": (0.0, 0.5)}, {"params": [q]}], lr=0.1)
    p2 = torch.nn.Parameter(torch.ones(3))
    ref = torch.optim.Adam([p2], lr=0.1, betas=(0.0, 0.5))
    for t in range(5):
        for x, o in ((p, opt), (p2, ref)):
            x.grad = torch.tensor([1.0, -2.0, 0.5]) * (t + 1)
        q.grad = torch.ones(3)
        opt.step()
        ref.step()
    assert torch.equal(p, p2)
