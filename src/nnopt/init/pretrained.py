"""Initialize from saved weights: a state-dict file, an nnopt checkpoint, or an nnopt run directory."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..params import Param
from ..registry import INITS


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights stored at `path`.

    path is a run directory (its ``checkpoints/last.pt``, else its ``model.pt``), a checkpoint file
    (a dict whose ``"model"`` entry is the state dict) or a plain state-dict file.
    """
    path = Path(path)
    if path.is_dir():
        candidates = [path / "checkpoints" / "last.pt", path / "model.pt"]
        found = [p for p in candidates if p.exists()]
        if not found:
            raise ConfigError(f"init.path = {str(path)!r} — a run directory needs "
                              f"checkpoints/last.pt or model.pt, neither exists")
        path = found[0]
    if not path.exists():
        raise ConfigError(f"init.path = {str(path)!r} — no such file or run directory")
    from ..train import checkpoint  # lazily: the train package imports the inits

    try:
        obj = checkpoint.read(path, map_location="cpu", weights_only=True)
    except CheckpointError as exc:
        raise ConfigError(f"init.path = {str(path)!r} — not a readable torch file or checkpoint "
                          f"({exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"init.path = {str(path)!r} — holds neither a state dict nor a checkpoint "
                          f"with a 'model' state dict")
    return obj


def load_matching(module: nn.Module, source: dict[str, torch.Tensor], prefix: str = "",
                  strict: bool = False) -> list[str]:
    """Copy the tensors of `source` whose names start with `prefix` into `module`; returns their names.

    Every selected name must exist in the module with the same shape (else a ConfigError listing
    each offender). strict: every module tensor under `prefix` must also be in `source`.
    """
    target = module.state_dict()
    chosen = {k: v for k, v in source.items() if k.startswith(prefix)}
    if not chosen:
        raise ConfigError(f"init.prefix = {prefix!r} — no saved tensor name starts with it "
                          f"(saved: {', '.join(list(source)[:8])}{', ...' if len(source) > 8 else ''})")
    unknown = [k for k in chosen if k not in target]
    if unknown:
        raise ConfigError(f"init (pretrained): saved tensors not in this model: {', '.join(unknown)}; "
                          f"the model has: {', '.join(target)}")
    mismatched = [f"{k}: saved {tuple(v.shape)} vs model {tuple(target[k].shape)}"
                  for k, v in chosen.items() if v.shape != target[k].shape]
    if mismatched:
        raise ConfigError("init (pretrained): shape mismatch — " + "; ".join(mismatched))
    if strict:
        missing = [k for k in target if k.startswith(prefix) and k not in chosen]
        if missing:
            raise ConfigError(f"init.strict = true — model tensors not in the saved weights: "
                              f"{', '.join(missing)}")
    with torch.no_grad():
        for k, v in chosen.items():
            target[k].copy_(v)
    return list(chosen)


@INITS.register("pretrained", skip=1, params={
    "path": Param(str, external=True, doc="state-dict file, nnopt checkpoint (.pt) or nnopt run directory"),
    "prefix": Param(str, "", doc="load only tensors whose names start with this (e.g. \"0.\")"),
    "strict": Param(bool, False, doc="require every model tensor under prefix to be loaded")})
def pretrained(module: nn.Module, path: str, prefix: str = "", strict: bool = False) -> nn.Module:
    """Load saved weights by name (partial by prefix); the other tensors keep their current init"""
    load_matching(module, read_state_dict(path), prefix, strict)
    return module
