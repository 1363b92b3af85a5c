"""Fashion-MNIST (70,000 28×28 grey images of clothes, 10 classes) read from IDX files.

By default from where Debian's ``dataset-fashion-mnist`` package installs them; any directory of
MNIST-format files (``train-images-idx3-ubyte[.gz]`` …) via ``data.path``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..params import Param
from ..registry import DATASETS
from .dataset import LAYOUTS, N_TRAIN, SPLIT_SEED, make_splits, stratified_split, subset
from .idx import read_idx

DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]
FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
         "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}
HOW_TO_GET = ("install it with `apt-get install dataset-fashion-mnist` (files land in "
              f"{DEFAULT_PATH}), or set data.path to a directory holding the four MNIST-format files "
              f"{', '.join(v + '.gz' for v in FILES.values())}")

PARAMS = {
    "path": Param(str, DEFAULT_PATH, external=True, doc="directory of the IDX files (.gz or plain)"),
    "val_size": Param(int, 5000, ge=1, doc="images of the 60,000 training set held out for validation"),
    "split_seed": SPLIT_SEED,
    "n_train": N_TRAIN,
    "n_test": Param(int, None, ge=1, nullable=True, doc="use the first n test images"),
    "layout": Param(str, "image", choices=LAYOUTS),
}


def find_file(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"Fashion-MNIST file {stem}[.gz] not found in {directory}: {HOW_TO_GET}")


def load_arrays(path: str) -> dict[str, np.ndarray]:
    """The four IDX arrays of the directory `path`, read-only. Read once per process while the files
    stay the same (same path, size and mtime): decompressing them costs about 0.3 s a load, and the
    lab and the doctor's exam load the same files many times."""
    directory = Path(path)
    if not directory.is_dir():
        raise DataError(f"Fashion-MNIST directory {directory} does not exist: {HOW_TO_GET}")
    files = {key: find_file(directory, stem) for key, stem in FILES.items()}
    stats = {key: f.stat() for key, f in files.items()}
    return _read_arrays(tuple((key, str(f.resolve()), stats[key].st_size, stats[key].st_mtime_ns)
                              for key, f in files.items()))


@functools.lru_cache(maxsize=1)
def _read_arrays(files: tuple[tuple[str, str, int, int], ...]) -> dict[str, np.ndarray]:
    """`load_arrays`' reader, keyed by (key, file, size, mtime) of each file."""
    arrays = {key: read_idx(Path(file)) for key, file, _, _ in files}
    directory = Path(files[0][1]).parent
    for part in ("train", "test"):
        x, y = arrays[f"{part}_x"], arrays[f"{part}_y"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"Fashion-MNIST {part} files in {directory} do not match: images "
                            f"{x.shape}, labels {y.shape}; expected (N, H, W) and (N,)")
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def fashion_mnist(path=DEFAULT_PATH, val_size=5000, split_seed=0, n_train=None, n_test=None,
                  layout="image"):
    """Fashion-MNIST, pixels scaled to [0, 1]; validation is a stratified part of the training set."""
    a = load_arrays(path)
    n_full = len(a["train_y"])
    if val_size >= n_full:
        raise ValueError(f"val_size = {val_size} — must be less than the {n_full} training images")
    labels = np.concatenate([a["train_y"], a["test_y"]]).astype(np.int64)
    train, val = stratified_split(labels[:n_full], (0.0, val_size / n_full), split_seed)
    train = subset(train, labels, n_train, split_seed)
    test = np.arange(n_full, len(labels))[: n_test or None]
    parts = [train, val, test]
    # only the rows a split uses are gathered and scaled to float (train and val are training images)
    images = np.concatenate([a["train_x"][np.concatenate([train, val])],
                             a["test_x"][test - n_full]]).astype(np.float32) / 255.0
    ends = np.cumsum([len(p) for p in parts])
    local = [np.arange(end - len(p), end) for p, end in zip(parts, ends)]
    return make_splits("fashion_mnist", images, labels[np.concatenate(parts)], local, layout, 10, CLASSES)


DATASETS.register("fashion_mnist", params=PARAMS)(fashion_mnist)
DATASETS.register("fashion_mnist_seq", description="Fashion-MNIST as sequences: each of the 28 rows "
                  "is a time step", params={**PARAMS, "layout": Param(str, "sequence", choices=LAYOUTS)})(
    functools.partial(fashion_mnist, layout="sequence"))
