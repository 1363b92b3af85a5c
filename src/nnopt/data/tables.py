"""Tables: your CSV or Parquet file (``[data] name = "csv"``) and scikit-learn's bundled tabular
sets — ``diabetes`` (regression), ``breast_cancer`` (2 classes), ``wine`` (3 classes).

A table has one row per sample: the ``target`` column is predicted from the ``features`` columns
(default: every other column). An integer or text target makes a classification task (the
classes are its sorted distinct values), a float target a regression, unless ``task`` says which.
Splits are stratified by class for classification, seeded by ``split_seed``; ``n_train`` keeps a
seeded subset of the training split (stratified by class; a random one for a regression).

CSV is parsed by numpy (``np.loadtxt``, a C parser): the first line names the columns, ``,``
separates them, ``"`` quotes. Parquet (a path ending ``.parquet``) needs the optional ``pyarrow``
(``pip install 'nnopt[parquet]'``). A missing value, a non-numeric feature or an unknown column is
a one-line error naming the file, the column and the line.
"""
from __future__ import annotations

import csv
import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..params import Param, suggest
from ..registry import DATASETS
from .dataset import FILE_SPLIT, N_TRAIN, TASK, from_arrays

MISSING = ("", "na", "nan", "n/a", "null", "none", "?")  # read as a missing value (any case)
TABLE_SPLIT = {**FILE_SPLIT, "n_train": replace(
    N_TRAIN, doc="use a subset of the training split (stratified by class; random for a regression)")}


class Table:
    """A CSV (or Parquet) file's columns: ``names``, ``features(names)`` → float32 (N, D),
    ``column(name)`` → the raw values (text for CSV)."""

    def __init__(self, path: str):
        self.path, self.parquet = path, path.lower().endswith((".parquet", ".pq"))
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"data.path = {path!r} — no such file")
        if self.parquet:
            self.table = _read_parquet(path)
            self.names = list(self.table.column_names)
        else:
            with open(file, newline="", encoding="utf-8-sig") as f:
                header = next(csv.reader(f), None)
            if not header:
                raise ConfigError(f"data.path = {path!r} — the file is empty (its first line must name the columns)")
            self.names = [h.strip() for h in header]

    def index(self, name: str, field: str) -> int:
        if name not in self.names:
            raise ConfigError(f"{field} = {name!r} — not a column of {self.path} (columns: "
                              f"{', '.join(self.names)}){suggest(name, self.names)}")
        return self.names.index(name)

    def column(self, name: str) -> np.ndarray:
        if self.parquet:
            col = self.table.column(name)
            self._check_nulls(name, col)
            return col.to_numpy(zero_copy_only=False)
        try:
            values = self._loadtxt([self.names.index(name)], str)[:, 0]
        except ValueError:
            raise self._diagnose([name], numeric=False) from None
        stripped = np.char.strip(values)
        missing = np.isin(np.char.lower(stripped), MISSING)
        if missing.any():
            raise self._missing(name, int(np.argmax(missing)))
        return stripped

    def features(self, names: list[str]) -> np.ndarray:
        if self.parquet:
            cols = []
            for name in names:
                col = self.table.column(name)
                self._check_nulls(name, col)
                values = col.to_numpy(zero_copy_only=False)
                if values.dtype.kind not in "biuf":
                    raise self._non_numeric(name, 0, values[0])
                cols.append(values.astype(np.float32))
            x = np.stack(cols, axis=1) if cols else np.empty((self.table.num_rows, 0), np.float32)
        else:
            try:
                x = self._loadtxt([self.names.index(n) for n in names], np.float32)
            except ValueError:
                raise self._diagnose(names) from None
        bad = np.isnan(x)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise self._missing(names[col], int(row))
        return x

    def _loadtxt(self, columns: list[int], dtype) -> np.ndarray:
        return np.loadtxt(self.path, delimiter=",", quotechar='"', skiprows=1, usecols=columns, dtype=dtype,
                          ndmin=2, encoding="utf-8-sig")

    def _where(self, row: int) -> str:
        return f"row {row + 1}" if self.parquet else f"line {row + 2}"

    def _missing(self, column: str, row: int) -> ConfigError:
        return ConfigError(f"data.path = {self.path!r}: column {column!r} has a missing value at "
                           f"{self._where(row)} — fill or drop it (nnopt does not impute)")

    def _non_numeric(self, column: str, row: int, value) -> ConfigError:
        return ConfigError(f"data.path = {self.path!r}: feature column {column!r} is not numeric ({value!r} at "
                           f"{self._where(row)}) — encode it as numbers, or leave it out of data.features")

    def _diagnose(self, names: list[str], numeric: bool = True) -> ConfigError:
        """np.loadtxt refused the file: find the first bad cell with the csv module and name it."""
        wanted = [(n, self.names.index(n)) for n in names]
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            next(reader)
            for row, cells in enumerate(reader):
                if len(cells) != len(self.names):
                    return ConfigError(f"data.path = {self.path!r}: {self._where(row)} has {len(cells)} fields, the "
                                       f"header {len(self.names)}")
                for name, i in wanted:
                    cell = cells[i].strip()
                    if cell.lower() in MISSING:
                        return self._missing(name, row)
                    if not numeric:
                        continue
                    try:
                        float(cell)
                    except ValueError:
                        return self._non_numeric(name, row, cell)
        return ConfigError(f"data.path = {self.path!r} cannot be parsed as a comma-separated table")

    def _check_nulls(self, name: str, col) -> None:
        if col.null_count:
            import pyarrow.compute as pc

            raise self._missing(name, int(pc.index(pc.is_null(col), True).as_py()))


def _read_parquet(path: str):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(f"data.path = {path!r} — reading Parquet needs pyarrow: pip install 'nnopt[parquet]' "
                          "(or save the table as CSV)") from None
    try:
        return pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 — pyarrow's errors have no common base we can name
        raise ConfigError(f"data.path = {path!r} cannot be read as Parquet: {exc}") from None


@DATASETS.register("csv", params={
    "path": Param(str, external=True, doc="the CSV file (header line of column names); .parquet with pyarrow"),
    "target": Param(str, doc="the column to predict"),
    "features": Param(list, None, item=Param(str), nullable=True,
                      doc="input columns (default: all but the target)"),
    "task": TASK, **TABLE_SPLIT})
def csv_table(path, target, features=None, task="auto", val_fraction=0.15, test_fraction=0.15, split_seed=0,
              n_train=None):
    """Your table (CSV or Parquet): predict the target column from the feature columns"""
    table = Table(path)
    table.index(target, "data.target")
    if features is None:
        features = [n for n in table.names if n != target]
    for i, name in enumerate(features):
        table.index(name, f"data.features[{i}]")
    if target in features:
        raise ConfigError(f"data.features lists the target column {target!r} — a model must not see its target")
    if not features:
        raise ConfigError(f"data.path = {path!r} has no column besides the target {target!r} to learn from")
    y = table.column(target)
    return from_arrays("csv", table.features(features), y, task, val_fraction, test_fraction, split_seed, target,
                       what=f"data.target = {target!r} (in {path})", n_train=n_train)


def sklearn_table(name: str, loader: str, task: str, val_fraction=0.15, test_fraction=0.15, split_seed=0,
                  n_train=None):
    """One of scikit-learn's bundled tables (no download), split like a CSV."""
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)()
    data = from_arrays(name, bunch.data, bunch.target, task, val_fraction, test_fraction, split_seed, "target",
                       n_train=n_train)
    if task == "classification":  # target 0 … K−1: the names scikit-learn gives them
        data.classes = [str(bunch.target_names[int(c)]) for c in data.classes]
    return data


for _name, _loader, _task, _text in (
        ("diabetes", "load_diabetes", "regression",
         "scikit-learn's diabetes: disease progression after a year from 10 measurements (442 patients)"),
        ("breast_cancer", "load_breast_cancer", "classification",
         "scikit-learn's breast cancer Wisconsin: malignant or benign from 30 cell features (569 samples)"),
        ("wine", "load_wine", "classification",
         "scikit-learn's wine: which of 3 cultivars from 13 chemical measurements (178 wines)")):
    DATASETS.register(_name, description=_text, params=TABLE_SPLIT)(
        functools.partial(sklearn_table, _name, _loader, _task))
