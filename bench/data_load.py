"""What your own data costs: loading a ~100 MB CSV, .npz and folder of .npy files, and the first
epoch trained on each.

The files are generated in a temporary folder: N rows of D float features (written with 6
significant digits in the CSV) and an integer class label, or a float target for the regression
case; the same rows in every format. For each format it times ``nnopt.data.load`` (parse, checks,
split) and then one epoch of an MLP through ``nnopt.train.train`` (build — which loads the data
again — plus the epoch: the Trainer's own train time), and prints MB/s and seconds per MB of the
file. The .npy folder is memory-mapped: its load reads only the labels and scans the inputs for
NaN; its batches are gathered from the file. Imports are warmed up before the clocks start. The regression row trains the same inputs with a
float target (MSE), to compare samples/s with the classification run of the same size.

    python bench/data_load.py [--mb 100] [--features 20] [--threads 1]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from nnopt import Recipe
from nnopt.data import load
from nnopt.report import format_table
from nnopt.train import train

CLASSES = 10


def write_files(folder: Path, mb: float, d: int) -> dict[str, Path]:
    """The same rows as CSV, .npz and a folder of .npy files; sizes near `mb` MB for the CSV
    (a CSV row of d features takes ~10·d + 3 bytes)."""
    n = int(mb * 1e6 / (10 * d + 3))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, :3] @ [1.0, 2.0, -1.0] > 0).astype(np.int64) + 2 * (x[:, 3] > 0)  # 4 classes, learnable
    target = (x[:, :3] @ [1.0, 2.0, -1.0]).astype(np.float32)
    paths = {"csv": folder / "table.csv", "npz": folder / "arrays.npz", "npy": folder / "npy",
             "csv (regression)": folder / "table_reg.csv"}
    header = ",".join(f"f{i}" for i in range(d))
    np.savetxt(paths["csv"], np.column_stack([x, y]), fmt=["%.6g"] * d + ["%d"], delimiter=",",
               header=header + ",label", comments="")
    np.savetxt(paths["csv (regression)"], np.column_stack([x, target]), fmt="%.6g", delimiter=",",
               header=header + ",label", comments="")
    np.savez(paths["npz"], x=x, y=y)
    paths["npy"].mkdir()
    np.save(paths["npy"] / "x.npy", x)
    np.save(paths["npy"] / "y.npy", y)
    return paths


def size_mb(path: Path) -> float:
    files = path.iterdir() if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 1e6


def data_section(kind: str, path: Path) -> dict:
    if kind.startswith("csv"):
        return {"name": "csv", "path": str(path), "target": "label"}
    return {"name": "npz", "path": str(path)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=100.0, help="CSV size to generate, MB (default 100)")
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--threads", type=int, default=1,
                   help="train.threads (default 1: on a shared machine more threads mostly wait on each other)")
    args = p.parse_args()
    import sklearn.model_selection  # noqa: F401 — the stratified split's import (seconds) is not the data's cost

    rows = []
    with tempfile.TemporaryDirectory(prefix="nnopt-bench-data-") as tmp:
        t0 = time.perf_counter()
        paths = write_files(Path(tmp), args.mb, args.features)
        print(f"generated in {time.perf_counter() - t0:.1f} s", flush=True)
        for kind, path in paths.items():
            mb = size_mb(path)
            section = data_section(kind, path)
            t0 = time.perf_counter()
            data = load(**section)
            t_load = time.perf_counter() - t0
            recipe = Recipe({"data": section, "model": {"widths": [64]},
                             "train": {"epochs": 1, "batch_size": 256, "threads": args.threads,
                                       "checkpoint": False, "device": "cpu"}})
            t0 = time.perf_counter()
            summary = train(recipe, Path(tmp) / f"run-{kind.split()[0]}-{len(rows)}", quiet=True)
            t_run = time.perf_counter() - t0
            epoch = summary["time_s"]
            rows.append([kind, f"{mb:.1f}", len(data.train), data.task, f"{t_load:.2f}", f"{mb / t_load:.0f}",
                         f"{t_load / mb * 1e3:.1f}", f"{epoch:.2f}", f"{epoch / mb * 1e3:.1f}",
                         f"{summary['samples_per_s']:.0f}", f"{t_run:.2f}"])
            print(format_table(["format", "MB", "train rows", "task", "load s", "load MB/s", "load ms/MB",
                                "epoch s", "epoch ms/MB", "samples/s", "build+epoch s"], rows[-1:]), flush=True)
    print()
    print(format_table(["format", "MB", "train rows", "task", "load s", "load MB/s", "load ms/MB", "epoch s",
                        "epoch ms/MB", "samples/s", "build+epoch s"], rows))


if __name__ == "__main__":
    main()
