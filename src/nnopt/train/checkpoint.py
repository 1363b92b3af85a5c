"""Checkpoints: one file holding everything needed to continue a run bit-identically.

The file is a header line ``nnopt-checkpoint sha256=<hex>`` followed by torch.save's bytes (read it
with `read`, not torch.load); loading verifies the digest, so a file damaged on disk is reported as corrupt instead of loading silently.
Resuming also checks the run directory around it: the recorded position in the run, metrics.jsonl
(its bytes up to the checkpoint must still be there, whole) and summary.json.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError

NAME = "last.pt"
MAGIC = b"nnopt-checkpoint sha256="
POSITION = ("step", "epoch", "position", "samples", "metrics_offset")


def path_in(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / NAME


def exists(run_dir: Path) -> bool:
    """Whether the run has saved a checkpoint (it may not have, if it was stopped in epoch 1)."""
    return path_in(run_dir).is_file()


def save(state: dict, run_dir: Path) -> Path:
    """Write header + payload atomically (temp file + rename): a kill mid-write leaves the previous
    checkpoint."""
    path = path_in(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n")
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read(path: Path | str, map_location=None, weights_only: bool = False):
    """What a checkpoint file holds, its digest verified (a file without the header line, e.g. a
    plain torch.save file, is read as it is). CheckpointError when it is damaged."""
    path = Path(path)
    data = path.read_bytes()
    if data.startswith(MAGIC):
        header, _, payload = data.partition(b"\n")
        if hashlib.sha256(payload).hexdigest().encode() != header[len(MAGIC):]:
            raise CheckpointError(f"checkpoint {path} is corrupt (its contents do not match the checksum "
                                  "written with it); delete it to restart the run from scratch")
        data = payload
    try:
        return torch.load(io.BytesIO(data), map_location=map_location, weights_only=weights_only)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt ({type(exc).__name__}: {exc}); "
                              "delete it to restart the run from scratch") from None


def load(run_dir: Path, map_location=None, timeline=None) -> dict:
    """The run's checkpoint state, its digest verified. With ``timeline = (batches, n_train, epochs)``
    the recorded position is checked against the run's schedule of steps (`check_position`)."""
    path = path_in(run_dir)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint in {run_dir} (expected {path}); was the run started "
                              "with train.checkpoint = true and did it finish an epoch?")
    state = read(path, map_location)
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise CheckpointError(f"checkpoint {path} is not an nnopt checkpoint")
    if timeline is not None:
        check_position(state, *timeline, where=path)
    return state


def check_position(state: dict, batches, n_train: int, epochs: int, where: Path | str = "checkpoint") -> None:
    """CheckpointError unless step/epoch/position/samples/metrics_offset are integers >= 0 that fit the
    run: epoch <= epochs, position within the epoch's steps, step = steps before the epoch + position."""
    for key in POSITION:
        value = state.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{where}: {key} = {value!r} — must be an integer >= 0; the file is damaged")
    epoch, position = state["epoch"], state["position"]
    if epoch > epochs:
        raise CheckpointError(f"{where}: epoch = {epoch} — must be <= train.epochs = {epochs}")
    steps = batches.steps(epoch, n_train) if epoch < epochs else 0
    if position > steps:
        raise CheckpointError(f"{where}: position = {position} — must be <= the {steps} steps of epoch {epoch + 1}")
    expected = batches.steps_before(epoch, n_train) + position
    if state["step"] != expected:
        raise CheckpointError(f"{where}: step = {state['step']} — must be {expected} at epoch {epoch} "
                              f"position {position}; the file is damaged or from another recipe")


def restore_metrics(path: Path, offset: int) -> None:
    """Cut metrics.jsonl back to its first `offset` bytes (what the checkpoint had written), after
    checking they are still there and are whole JSON lines; CheckpointError otherwise (the file
    is left as it is)."""
    path = Path(path)
    fix = (f"; restore it, or start the run again in a new directory "
           f"(nnopt run {path.parent / 'recipe.toml'} --out NEW_DIR)")
    if not path.is_file():
        raise CheckpointError(f"{path} is missing but the checkpoint continues it{fix}")
    size = path.stat().st_size
    if size < offset:
        raise CheckpointError(f"{path} has {size} bytes, fewer than the {offset} the checkpoint "
                              f"recorded: it was truncated{fix}")
    with open(path, "rb") as f:
        head = f.read(offset)
    try:
        lines = head.decode().split("\n")
        if lines[-1]:
            raise ValueError("it does not end at a line end")
        for line in lines[:-1]:
            if not isinstance(json.loads(line), dict):
                raise ValueError(f"line {line[:40]!r} is not a JSON object")
    except ValueError as exc:
        raise CheckpointError(f"{path} was modified after the checkpoint ({exc}){fix}") from None
    with open(path, "r+b") as f:
        f.truncate(offset)


def check_summary(run_dir: Path) -> None:
    """CheckpointError when the run's summary.json exists but is not the JSON object nnopt wrote."""
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        return
    try:
        summary = json.loads(path.read_text())
        ok = isinstance(summary, dict) and isinstance(summary.get("status"), str)
    except (ValueError, OSError):
        ok = False
    if not ok:
        raise CheckpointError(f"{path} is not a summary nnopt wrote (not a JSON object with a status); "
                              "the run directory was modified — delete summary.json to resume")


def check_resume_dir(run_dir: str) -> Path:
    """The run directory `--resume` names, checked: a directory holding the run's recipe.toml and
    an intact summary.json (if any). It may lack a checkpoint (a run stopped in epoch 1)."""
    if not run_dir.strip():
        raise CheckpointError("--resume = '' — must name a run directory (runs/<recipe>-run-<time>)")
    path = Path(run_dir)
    if not path.is_dir():
        raise CheckpointError(f"--resume = {run_dir!r} — must be an existing run directory"
                              + (" (it is a file)" if path.exists() else " (it does not exist)"))
    if not (path / "recipe.toml").is_file():
        raise CheckpointError(f"--resume = {run_dir!r} — holds no recipe.toml, so it is not a run directory")
    check_summary(path)
    return path
