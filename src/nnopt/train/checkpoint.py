"""Checkpoints: one file holding everything needed to continue a run bit-identically."""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError

NAME = "last.pt"


def path_in(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / NAME


def save(state: dict, run_dir: Path) -> Path:
    """Write atomically (temp file + rename): a kill mid-write leaves the previous checkpoint."""
    path = path_in(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load(run_dir: Path, map_location=None) -> dict:
    path = path_in(run_dir)
    if not path.exists():
        raise CheckpointError(f"no checkpoint in {run_dir} (expected {path}); was the run started "
                              "with train.checkpoint = true and did it finish an epoch?")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt ({type(exc).__name__}: {exc}); "
                              "delete it to restart the run from scratch") from None
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise CheckpointError(f"checkpoint {path} is not an nnopt checkpoint")
    return state
