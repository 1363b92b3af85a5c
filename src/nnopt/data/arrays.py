"""Your arrays: ``[data] name = "npz"`` — a ``.npz`` file or a folder of ``.npy`` files.

Arrays ``x`` and ``y`` are split into train/val/test (stratified for classification); arrays
``x_train``/``y_train``, ``x_val``/``y_val``, ``x_test``/``y_test`` are used as given (a missing
val or test split is held out of train). ``y``'s kind decides the task unless ``task`` is given:
integers or booleans are classes, floats regression targets ((N,) or (N, k)).

``.npy`` files are memory-mapped (``np.load(mmap_mode="r")``): a split holds `MappedRows`, and each
batch reads only its rows from the file (the page cache keeps what fits), so inputs larger than
memory train. A ``.npz`` is a zip archive numpy cannot map: its arrays are read into memory.
A [preprocess] step needs the whole training split: it reads the inputs into memory.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..params import Param
from ..registry import DATASETS
from .dataset import FILE_SPLIT, TASK, encode_target, from_arrays, hold_out, tabular

SPLITS = ("train", "val", "test")
NAN_CHUNK_BYTES = 64 << 20  # the NaN scan reads a mapped file in pieces of this size


class MappedRows:
    """Rows of a (memory-mapped) numpy array standing in for a split's ``x`` tensor.

    ``rows[idx]`` / ``rows[i:j]`` read those rows (of the selection `rows`, all when None) from the
    array into a float32 tensor on `device`; ``len``, ``shape``, ``dtype``, ``device``, ``dim()``
    and ``to(device)`` answer as a tensor's would. ``np.asarray(rows)`` reads all of them."""

    def __init__(self, array: np.ndarray, rows: np.ndarray | None = None, device="cpu"):
        self.array, self.rows, self.device = array, rows, torch.device(device)
        self.dtype = torch.float32

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.array.shape[1:]))

    def __len__(self) -> int:
        return len(self.array) if self.rows is None else len(self.rows)

    def dim(self) -> int:
        return self.array.ndim

    def to(self, device) -> "MappedRows":
        return MappedRows(self.array, self.rows, device)

    def select(self, rows: np.ndarray) -> "MappedRows":
        """The rows `rows` of this selection, as a new selection (nothing is read)."""
        return MappedRows(self.array, rows if self.rows is None else self.rows[rows], self.device)

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        if self.rows is not None:
            key = self.rows[key]
        if isinstance(key, np.ndarray):  # a gather: read the rows in file order, then put them back
            order = np.argsort(key, kind="stable")
            block = np.empty((len(key), *self.array.shape[1:]), dtype=np.float32)
            block[order] = self.array[key[order]]
        else:
            block = np.asarray(self.array[key], dtype=np.float32)
        return torch.from_numpy(np.ascontiguousarray(block)).to(self.device)

    def __array__(self, dtype=None, copy=None):
        out = np.asarray(self[slice(None)].cpu())
        return out if dtype is None else out.astype(dtype)


def as_rows(x, rows: np.ndarray | None = None):
    """`x` (rows `rows` of it) as a split's inputs: a memory-map or `MappedRows` stays mapped,
    anything else becomes a float32 tensor."""
    if isinstance(x, MappedRows):
        return x if rows is None else x.select(rows)
    if isinstance(x, np.memmap):
        return MappedRows(x, rows)
    x = x if rows is None else x[rows]
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))


def read_arrays(path: str) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file (read into memory), or of the ``.npy`` files of a folder
    (memory-mapped), by name."""
    source = Path(path)
    try:
        if source.is_dir():
            files = sorted(source.glob("*.npy"))
            if not files:
                raise ConfigError(f"data.path = {path!r} — the folder holds no .npy files (expected x.npy and "
                                  "y.npy, or x_train.npy, y_train.npy, …)")
            return {f.stem: np.load(f, mmap_mode="r", allow_pickle=False) for f in files}
        if not source.is_file():
            raise ConfigError(f"data.path = {path!r} — no such file or folder")
        with np.load(source, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise ConfigError(f"data.path = {path!r} — a single array; give a .npz with x and y, or a "
                                  "folder of .npy files")
            return {k: archive[k] for k in archive.files}
    except ConfigError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"data.path = {path!r} cannot be read as numpy arrays: {exc}") from None


def pick(arrays: dict[str, np.ndarray], path: str) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """[(x, y) of train, val, test] — None for a split to hold out of train — or [(x, y)] for
    data to split."""
    have = ", ".join(sorted(arrays)) or "none"
    if "x" in arrays or "y" in arrays:
        for key in ("x", "y"):
            if key not in arrays:
                raise ConfigError(f"data.path = {path!r} has no array {key!r} (it has: {have})")
        return [(arrays["x"], arrays["y"])]
    if "x_train" not in arrays or "y_train" not in arrays:
        raise ConfigError(f"data.path = {path!r} — expected arrays x and y, or x_train and y_train "
                          f"(with x_val/y_val, x_test/y_test if you have them); it has: {have}")
    out = []
    for split in SPLITS:
        pair = [arrays.get(f"{k}_{split}") for k in ("x", "y")]
        if (pair[0] is None) != (pair[1] is None):
            raise ConfigError(f"data.path = {path!r} has {'x' if pair[0] is not None else 'y'}_{split} without "
                              f"its {'y' if pair[0] is not None else 'x'}_{split}")
        out.append(None if pair[0] is None else tuple(pair))
    return out


def check_inputs(x: np.ndarray, name: str, path: str) -> None:
    """Inputs must be numbers, at least 2-D (samples × features), and finite (read in pieces)."""
    if x.dtype.kind not in "biuf":
        raise ConfigError(f"data.path = {path!r}: {name} has dtype {x.dtype} — inputs must be numbers")
    if x.ndim < 2:
        raise ConfigError(f"data.path = {path!r}: {name} has shape {x.shape} — inputs need a sample axis and "
                          "at least one feature axis (N, D)")
    if x.dtype.kind != "f":
        return
    step = max(1, NAN_CHUNK_BYTES // max(1, x[:1].nbytes))
    for start in range(0, len(x), step):
        bad = ~np.isfinite(x[start:start + step])
        if bad.any():
            where = np.argwhere(bad)[0]
            raise ConfigError(f"data.path = {path!r}: {name}[{start + where[0]}"
                              f"{''.join(f', {i}' for i in where[1:])}] is {x[start:start + step][tuple(where)]} — "
                              "inputs must be finite (fill or drop missing values)")


@DATASETS.register("npz", params={
    "path": Param(str, external=True, doc="a .npz file, or a folder of .npy files (memory-mapped)"),
    "task": TASK, **FILE_SPLIT})
def npz(path, task="auto", val_fraction=0.15, test_fraction=0.15, split_seed=0):
    """Your arrays: x and y (split here), or x_train/y_train, x_val/y_val, x_test/y_test (as given)"""
    what = f"data.path = {path!r}"
    given = pick(read_arrays(path), path)
    names = [""] if len(given) == 1 else [f"_{s}" for s in SPLITS]
    pairs = [(n, p) for n, p in zip(names, given) if p is not None]
    for n, (x, y) in pairs:
        check_inputs(x, f"x{n}", path)
        if len(x) != len(y):
            raise ConfigError(f"{what}: x{n} has {len(x)} samples, y{n} {len(y)}")
        if x.shape[1:] != pairs[0][1][0].shape[1:]:
            raise ConfigError(f"{what}: x{n} has samples of shape {x.shape[1:]}, x{pairs[0][0]} "
                              f"{pairs[0][1][0].shape[1:]}")
    if len(given) == 1:  # x, y: split here
        return from_arrays("npz", *given[0], task, val_fraction, test_fraction, split_seed, what=f"{what}: y")
    task, y_all, classes = encode_target(np.concatenate([np.asarray(y) for _, (_, y) in pairs]), task,
                                         f"{what}: y")
    ys = iter(np.split(y_all, np.cumsum([len(y) for _, (_, y) in pairs])[:-1]))
    xs, ys = [p and p[0] for p in given], [p and next(ys) for p in given]
    xs, ys = hold_out(xs, ys, task, val_fraction, test_fraction, split_seed, what)
    return tabular("npz", xs, ys, None, task, classes)
