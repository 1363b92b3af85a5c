"""The pretrained scheme: state-dict files, nnopt checkpoints and run directories; partial loading."""
import pytest
import torch
from torch import nn

from nnopt import ConfigError, init
from nnopt.nn import build_model
from nnopt.train import checkpoint
from nnopt.train.trainer import train


def net():
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))


def test_plain_state_dict_file(tmp_path):
    source = net()
    torch.save(source.state_dict(), tmp_path / "w.pt")
    target = init.apply(net(), "pretrained", path=str(tmp_path / "w.pt"))
    for a, b in zip(source.state_dict().values(), target.state_dict().values()):
        assert torch.equal(a, b)


def test_partial_loading_by_prefix_keeps_the_rest(tmp_path):
    source, target = net(), net()
    torch.save({"model": source.state_dict(), "step": 7}, tmp_path / "ckpt.pt")
    head = target[2].weight.clone()
    init.apply(target, "pretrained", path=str(tmp_path / "ckpt.pt"), prefix="0.")
    assert torch.equal(target[0].weight, source[0].weight) and torch.equal(target[0].bias, source[0].bias)
    assert torch.equal(target[2].weight, head)
    init.apply(net(), "pretrained", path=str(tmp_path / "ckpt.pt"), prefix="0.", strict=True)
    torch.save({k: v for k, v in source.state_dict().items() if k.startswith("0.")}, tmp_path / "part.pt")
    with pytest.raises(ConfigError, match="init.strict = true .*2.weight, 2.bias"):
        init.apply(net(), "pretrained", path=str(tmp_path / "part.pt"), strict=True)


def test_shape_mismatch_lists_every_offender(tmp_path):
    torch.save(nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 2)).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ConfigError) as err:
        init.apply(net(), "pretrained", path=str(tmp_path / "w.pt"))
    text = str(err.value)
    assert "0.weight: saved (6, 5) vs model (6, 4)" in text
    assert "2.weight: saved (2, 6) vs model (3, 6)" in text and "2.bias: saved (2,) vs model (3,)" in text


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        init.apply(net(), "pretrained", path=str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="neither exists"):
        init.apply(net(), "pretrained", path=str(tmp_path))
    torch.save({"other.weight": torch.zeros(2)}, tmp_path / "w.pt")
    with pytest.raises(ConfigError, match="not in this model: other.weight"):
        init.apply(net(), "pretrained", path=str(tmp_path / "w.pt"))
    with pytest.raises(ConfigError, match="init.prefix = 'zz'"):
        init.apply(net(), "pretrained", path=str(tmp_path / "w.pt"), prefix="zz")
    (tmp_path / "junk.pt").write_text("not torch")
    with pytest.raises(ConfigError, match="not a readable torch file"):
        init.apply(net(), "pretrained", path=str(tmp_path / "junk.pt"))
    with pytest.raises(ConfigError, match="init.path is required"):
        init.apply(net(), "pretrained")


def test_loads_an_nnopt_run_directory(tmp_path, small_recipe):
    """A real (1-epoch) run: its checkpoint initializes a new model of the same recipe exactly."""
    run_dir = tmp_path / "run"
    train(small_recipe.override(["train.epochs=1"]), run_dir, quiet=True)
    saved = checkpoint.read(run_dir / "checkpoints" / "last.pt")["model"]
    model = build_model("mlp", (64,), 10, widths=[32])
    init.apply(model, "pretrained", path=str(run_dir), strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k])
    (run_dir / "checkpoints" / "last.pt").unlink()
    init.apply(build_model("mlp", (64,), 10, widths=[32]), "pretrained", path=str(run_dir))  # model.pt
