"""The in-memory data set every loader returns, and the shared split/layout helpers."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ConfigError
from ..params import Param
from ..registry import DATASETS

LAYOUTS = ("image", "flat", "sequence")
TASKS = ("classification", "regression")
SPLIT_SEED = Param(int, 0, ge=0, le=2**32 - 1, doc="seed of the fixed split (numpy's range: 0 … 2³²−1)")
N_TRAIN = Param(int, None, ge=1, nullable=True, doc="use a stratified subset of the training split")


@dataclass
class Split:
    """Inputs ``x`` (float32) and targets ``y`` of one split; ``x, y = split``.

    Classification: ``y`` int64 of shape (N,), class ids 0 … K−1. Regression: ``y`` float32 of
    shape (N,) (one output) or (N, k) (k outputs)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self):
        return iter((self.x, self.y))

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))


@dataclass
class Dataset:
    """Train/val/test splits plus what a model builder needs: input shape and output count.

    ``task`` is "classification" (``n_classes`` = K ≥ 2, ``y`` int64 class ids, class names in
    ``classes``) or "regression" (``n_classes`` = 0, ``y`` float32 (N,) or (N, k)). ``target``
    names the predicted column when the data came from a table."""

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int
    classes: list[str] = field(default_factory=list)
    vocabulary: list[str] | None = None  # token of each id, for token-id data sets
    task: str = "classification"
    target: str | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: K logits (classification) or k targets (regression; 1 when
        ``y`` is 1-D)."""
        if self.task == "classification":
            return self.n_classes
        y = self.train.y
        return 1 if y.dim() == 1 else int(y.shape[1])

    def load_inputs(self) -> None:
        """Read memory-mapped inputs (`arrays.MappedRows`) into tensors, for what needs a whole
        split at once (a [preprocess] step)."""
        for split in (self.train, self.val, self.test):
            if not isinstance(split.x, torch.Tensor):
                split.x = split.x[:]

    def to(self, device) -> "Dataset":
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def load(name: str = "digits", **params) -> Dataset:
    """Load a registered data set: ``load("fashion_mnist", n_train=5000)``."""
    return DATASETS.create(name, field="data", **params)


def stratified_split(y: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Index arrays, one per fraction (the rest goes to the first), stratified by label, seeded."""
    from sklearn.model_selection import train_test_split

    rest = np.arange(len(y))
    parts = []
    for frac in fractions[1:]:
        share = frac * len(y) / len(rest)
        rest, part = train_test_split(rest, test_size=share, stratify=y[rest], random_state=seed)
        parts.append(np.sort(part))
    return [np.sort(rest), *parts]


def subset(idx: np.ndarray, y: np.ndarray, n: int | None, seed: int, stratify: bool = True) -> np.ndarray:
    """A seeded subset of `n` of the indices `idx` (all of them when n is None), stratified by the
    labels `y` unless `stratify` is false (regression: a random subset). A size the split cannot
    give — more samples than it has, fewer than its classes — is a ConfigError (a run on fewer
    samples than asked would report numbers for another experiment)."""
    if n is None or n == len(idx):
        return idx
    if n > len(idx):
        raise ConfigError(f"data.n_train = {n} — must be at most {len(idx)}, the size of this data set's "
                          "training split (leave it out to use all of it)")
    if stratify and n < len(np.unique(y[idx])):
        raise ConfigError(f"data.n_train = {n} — must be at least the number of classes "
                          f"({len(np.unique(y[idx]))})")
    from sklearn.model_selection import train_test_split

    # leaving out fewer samples than there are classes has no stratified split: those few go at random
    strata = y[idx] if stratify and len(idx) - n >= len(np.unique(y[idx])) else None
    keep, _ = train_test_split(idx, train_size=n, stratify=strata, random_state=seed)
    return np.sort(keep)


def arrange(images: np.ndarray, layout: str) -> torch.Tensor:
    """(N, H, W) float images → (N, 1, H, W) "image", (N, H·W) "flat" or (N, H, W) "sequence"
    (row t of the image is time step t, for RNNs)."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if layout == "image":
        return x.unsqueeze(1)
    if layout == "flat":
        return x.flatten(1)
    return x


def make_splits(name: str, images: np.ndarray, labels: np.ndarray, parts: list[np.ndarray],
                layout: str, n_classes: int, classes: list[str]) -> Dataset:
    """Build a Dataset from full arrays and the (train, val, test) index arrays."""
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(name, *index_splits(arrange(images, layout), y, parts), n_classes=n_classes, classes=classes)


def take_rows(x, idx: torch.Tensor):
    """The rows `idx` of x: ``x.index_select(0, idx)`` for a tensor — advanced indexing ``x[idx]``
    gathers the same rows up to 8× slower (32 rows of a (50000, 1, 28, 28) tensor: 857 µs vs
    104 µs) — else ``x[idx]`` (a memory-mapped `MappedRows` reads its own way)."""
    return x.index_select(0, idx) if isinstance(x, torch.Tensor) else x[idx]


def index_splits(x: torch.Tensor, y: torch.Tensor, parts: list[np.ndarray]) -> list[Split]:
    """The (train, val, test) splits of the rows of x, y that the index arrays `parts` name."""
    index = [torch.as_tensor(p, dtype=torch.int64) for p in parts]
    return [Split(take_rows(x, i), take_rows(y, i)) for i in index]


TASK = Param(str, "auto", choices=("auto", *TASKS),
             doc="auto: an integer or text target is classification, a float target regression")
FILE_SPLIT = {
    "val_fraction": Param(float, 0.15, gt=0, lt=0.5, doc="share held out for validation (when not given)"),
    "test_fraction": Param(float, 0.15, gt=0, lt=0.5, doc="share held out for the test (when not given)"),
    "split_seed": SPLIT_SEED,
}


def split_indices(y: np.ndarray, task: str, fractions: tuple[float, ...], seed: int,
                  what: str) -> list[np.ndarray]:
    """(rest, part1, part2, …) index arrays, sorted, seeded: stratified by class for classification
    (`stratified_split`), a random permutation for regression; `what` names the data in errors."""
    n = len(y)
    sizes = [round(f * n) for f in fractions[1:]]
    if n - sum(sizes) < 1 or min(sizes, default=1) < 1:
        raise ConfigError(f"{what}: {n} samples are too few to split into train/val/test "
                          f"(fractions {', '.join(f'{f:g}' for f in fractions[1:])})")
    if task == "regression":
        order = np.random.default_rng(seed).permutation(n)
        bounds = np.cumsum([0, *sizes])
        parts = [np.sort(order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        return [np.sort(order[bounds[-1]:]), *parts]
    labels, counts = np.unique(y, return_counts=True)
    if counts.min() < 3:
        raise ConfigError(f"{what}: class {str(labels[counts.argmin()])!r} has {counts.min()} sample(s) — a "
                          "stratified train/val/test split needs at least 3 of each class")
    try:
        return stratified_split(y, fractions, seed)
    except ValueError as exc:  # too few samples of a class for one of the parts
        raise ConfigError(f"{what}: cannot split {n} samples of {len(labels)} classes into train/val/test "
                          f"stratified by class: {exc}") from None


def encode_target(values: np.ndarray, task: str, what: str) -> tuple[str, np.ndarray, list[str]]:
    """(task, y, classes) from a target column. task "auto": integers, booleans and text are
    classes, floats regression. Classes are the sorted distinct values (y their index, int64);
    regression y is float32. A single class, or text for regression, is a ConfigError."""
    values = np.asarray(values)
    if values.dtype.kind in "OUS":  # text: maybe numbers written as text (a CSV column)
        for kind in (np.int64, np.float64):
            try:
                values = values.astype(kind)
                break
            except (ValueError, OverflowError):
                continue
    numeric = values.dtype.kind in "biuf"
    if task == "auto":
        task = "regression" if values.dtype.kind == "f" else "classification"
    if task == "regression":
        if not numeric:
            bad = next(v for v in values.ravel() if not _is_number(v))
            raise ConfigError(f"{what} holds text ({bad!r}) — regression needs numbers "
                              '(or data.task = "classification")')
        return task, values.astype(np.float32), []
    if values.ndim != 1:
        raise ConfigError(f"{what} has shape {values.shape} — classification needs one label per sample")
    classes, y = np.unique(values, return_inverse=True)
    if len(classes) < 2:
        raise ConfigError(f"{what} holds a single class ({str(classes[0])!r} in all {len(values)} samples) — "
                          'classification needs at least 2 (or data.task = "regression")')
    return task, y.astype(np.int64), [str(c) for c in classes]


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def tabular(name: str, x, y: np.ndarray, parts: list[np.ndarray] | None, task: str,
            classes: list[str], target: str | None = None) -> Dataset:
    """A Dataset of feature rows `x` and encoded targets `y` (`encode_target`), split by the
    (train, val, test) index arrays `parts`; `x` and `y` may instead be three arrays each, the
    given splits. `x` is an array or tensor (copied to float32) or `MappedRows` (kept)."""
    from .arrays import as_rows

    xs = list(x) if parts is None else [as_rows(x, p) for p in parts]
    ys = list(y) if parts is None else [y[p] for p in parts]
    dtype = torch.int64 if task == "classification" else torch.float32
    splits = [Split(as_rows(a), torch.as_tensor(np.ascontiguousarray(b)).to(dtype)) for a, b in zip(xs, ys)]
    return Dataset(name, *splits, n_classes=len(classes) if task == "classification" else 0,
                   classes=classes, task=task, target=target)


def hold_out(xs: list, ys: list, task: str, val_fraction: float, test_fraction: float, seed: int,
             what: str) -> tuple[list, list]:
    """Given [train, val, test] inputs and targets, a None val or test split is held out of train
    (`split_indices` with its fraction of the train samples)."""
    from .arrays import as_rows

    missing = [i for i in (1, 2) if xs[i] is None]
    if not missing:
        return xs, ys
    parts = split_indices(ys[0], task, (0.0, *[(val_fraction, test_fraction)[i - 1] for i in missing]), seed, what)
    xs, ys = list(xs), list(ys)
    x_train, y_train = xs[0], ys[0]
    for i, rows in zip((0, *missing), parts):
        xs[i], ys[i] = as_rows(x_train, rows), y_train[rows]
    return xs, ys


def from_arrays(name: str, x, y, task: str = "auto", val_fraction: float = 0.15, test_fraction: float = 0.15,
                split_seed: int = 0, target: str | None = None, what: str | None = None,
                n_train: int | None = None) -> Dataset:
    """A Dataset from inputs `x` (N, …) and targets `y` (N,) or (N, k): the task from `y`
    (`encode_target`), then a seeded train/val/test split (stratified for classification), the
    training split cut to `n_train` samples when given (`subset`, seeded by `split_seed`) —
    what a registered data set of your own returns::

        @DATASETS.register("mine")
        def mine(split_seed: int = 0):
            x, y = ...                                   # numpy arrays
            return from_arrays("mine", x, y, split_seed=split_seed)
    """
    what = what or f"data set {name!r}"
    task, y, classes = encode_target(y, task, what)
    parts = split_indices(y, task, (0.0, val_fraction, test_fraction), split_seed, what)
    parts[0] = subset(parts[0], y, n_train, split_seed, stratify=task == "classification")
    return tabular(name, x, y, parts, task, classes, target)
