"""Your images: ``[data] name = "image_folder"`` — one sub-folder per class of PNG/JPEG files.

    path/cat/001.png, path/cat/002.jpg, …, path/dog/…     classes: the sorted folder names

Each image is read with Pillow, converted to grey (1 channel) or RGB (3), resized to ``size``
(bilinear) and scaled to [0, 1]. Split stratified by class (``split_seed``), unless the folder
holds ``train/`` (and ``val/``, ``test/``) with the class folders inside: those splits are used as
given, and a missing val or test split is held out of train. Files with other extensions are
skipped; a PNG/JPEG Pillow cannot read is an error naming it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..params import Param
from ..registry import DATASETS
from .dataset import FILE_SPLIT, hold_out, split_indices, tabular

EXTENSIONS = (".png", ".jpg", ".jpeg")
MODES = {"grey": "L", "rgb": "RGB"}
SPLITS = ("train", "val", "test")


def class_files(folder: Path, path: str) -> dict[str, list[Path]]:
    """Class name → its image files (sorted), from the sub-folders of `folder`."""
    classes = sorted(d for d in folder.iterdir() if d.is_dir())
    if not classes:
        raise ConfigError(f"data.path = {path!r} — {folder} has no sub-folders; put each class's images in "
                          "a sub-folder named after the class")
    files = {d.name: sorted(f for f in d.iterdir() if f.suffix.lower() in EXTENSIONS) for d in classes}
    empty = [name for name, fs in files.items() if not fs]
    if empty:
        raise ConfigError(f"data.path = {path!r} — class folder {folder / empty[0]} holds no "
                          f"{'/'.join(e[1:].upper() for e in EXTENSIONS)} files")
    return files


def read_image(file: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """(C, H, W) float32 in [0, 1]; ConfigError naming the file when Pillow cannot read it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image = image.convert(MODES[mode]).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ConfigError(f"data.path: image {file} cannot be read ({exc}) — fix or remove the file") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def read_folder(folder: Path, path: str, names: list[str] | None, mode: str, size) -> tuple:
    """(images (N, C, H, W), labels (N,), class names) of one folder of class folders; `names` the
    classes of the train folder (another split's folder may only use those)."""
    files = class_files(folder, path)
    if names is not None and set(files) - set(names):
        extra = sorted(set(files) - set(names))[0]
        raise ConfigError(f"data.path = {path!r} — {folder / extra} is a class the train folder does not have")
    names = names or list(files)
    images = [read_image(f, mode, size) for name in files for f in files[name]]
    labels = [names.index(name) for name in files for _ in files[name]]
    return np.stack(images), np.asarray(labels, dtype=np.int64), names


@DATASETS.register("image_folder", params={
    "path": Param(str, external=True, doc="folder of class folders of PNG/JPEG files (or of train/, val/, test/)"),
    "size": Param(tuple, (32, 32), length=2, item=Param(int, ge=1, le=4096), doc="[height, width] to resize to"),
    "mode": Param(str, "grey", choices=tuple(MODES), doc="grey: 1 channel; rgb: 3"),
    "layout": Param(str, "image", choices=("image", "flat"), doc="image (N, C, H, W) or flat (N, C·H·W)"),
    **FILE_SPLIT})
def image_folder(path, size=(32, 32), mode="grey", layout="image", val_fraction=0.15, test_fraction=0.15,
                 split_seed=0):
    """Your images: one sub-folder per class of PNG/JPEG files, resized to size"""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"data.path = {path!r} — no such folder")
    subs = {d.name for d in folder.iterdir() if d.is_dir()}
    given = "train" in subs and subs <= set(SPLITS)
    x, y, classes = read_folder(folder / "train" if given else folder, path, None, mode, size)
    if layout == "flat":
        x = x.reshape(len(x), -1)
    what = f"data.path = {path!r}"
    if not given:
        parts = split_indices(y, "classification", (0.0, val_fraction, test_fraction), split_seed, what)
        return tabular("image_folder", x, y, parts, "classification", classes)
    xs, ys = [x, None, None], [y, None, None]
    for i, split in enumerate(SPLITS[1:], 1):
        if split in subs:
            xi, ys[i], _ = read_folder(folder / split, path, classes, mode, size)
            xs[i] = xi.reshape(len(xi), -1) if layout == "flat" else xi
    xs, ys = hold_out(xs, ys, "classification", val_fraction, test_fraction, split_seed, what)
    return tabular("image_folder", xs, ys, None, "classification", classes)
