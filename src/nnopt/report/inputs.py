"""The files `nnopt report` reads, read strictly: a directory written by someone else (a colleague's
lab folder, a download) may hold anything, so each file is checked for the shape the report uses,
and every problem is a one-line ConfigError naming the file (``PATH:LINE — …`` where there is a
line). A run's files are read by the run directory's one reader, `nnopt.train.rundir`.

Only files inside a finding's own directory are read (`inside`): a ``figures`` or ``recipes``
entry that is absolute or climbs out with ``..`` (or through a symbolic link) is not a file of
that finding.
"""
from __future__ import annotations

import csv
import math
from numbers import Real
from pathlib import Path

from ..errors import ConfigError
from ..train.rundir import read_json, read_text, short_json

# finding.json: field → the JSON types it may hold (bool is not a number here); the first group is required.
REQUIRED = {"experiment": str, "claim": str, "verdict": str, "criterion": str, "measured": str, "time_s": Real}
OPTIONAL = {"precise": str, "source": str, "notes": str, "nnopt_version": str, "on": str,  # None = absent
            "cpu_s": Real, "budget_s": Real, "fast": bool, "number": int,
            "figures": list, "recipes": list, "seeds": list, "parts": list, "table": dict, "captions": dict}


def _type_name(kind) -> str:
    return {Real: "a number", str: "a string", bool: "true/false", int: "an integer", list: "a list",
            dict: "an object"}[kind]


def _is(value, kind) -> bool:
    return not isinstance(value, bool) and isinstance(value, kind) if kind in (Real, int) else isinstance(value, kind)


def load_finding(folder: Path) -> dict:
    """``folder/finding.json`` checked against the fields the report shows (REQUIRED, OPTIONAL):
    types, ``figures`` / ``recipes`` lists of strings, ``table`` = {headers: [...], rows: [[...]]}."""
    path = Path(folder) / "finding.json"
    record = read_json(path)
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(missing)} — not a finding nnopt lab wrote")
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if (key in REQUIRED or record.get(key) is not None) and not _is(record[key], kind):
            raise ConfigError(f"{path}: {key} = {short_json(record[key])} — must be {_type_name(kind)}")
    for key in ("figures", "recipes"):
        if not all(isinstance(v, str) for v in record.get(key) or []):
            raise ConfigError(f"{path}: {key} must be a list of file names (strings)")
    if not all(isinstance(v, str) for v in (record.get("captions") or {}).values()):
        raise ConfigError(f"{path}: captions must map figure names to one-line strings")
    table = record.get("table") or {"headers": [], "rows": []}
    if not (isinstance(table.get("headers"), list) and isinstance(table.get("rows"), list)
            and all(isinstance(r, list) for r in table["rows"])):
        raise ConfigError(f"{path}: table must be {{\"headers\": [...], \"rows\": [[...], ...]}}")
    if not math.isfinite(record["time_s"]):
        raise ConfigError(f"{path}: time_s = {record['time_s']} — must be a finite number of seconds")
    return record


def read_trials(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a study's trials.csv; every row as long as the header, ``value`` a number
    or empty; a ConfigError naming the file and line otherwise."""
    try:
        rows = list(csv.reader(read_text(path).splitlines()))
    except csv.Error as exc:
        raise ConfigError(f"{path} is not a CSV file ({exc})") from None
    if not rows:
        return [], []
    header, trials = rows[0], rows[1:]
    value = header.index("value") if "value" in header else None
    for number, row in enumerate(trials, 2):
        if len(row) != len(header):
            raise ConfigError(f"{path}:{number} — {len(row)} columns, the header has {len(header)}")
        if value is not None and row[value] not in ("", "None"):
            try:
                float(row[value])
            except ValueError:
                raise ConfigError(f"{path}:{number} — value = {row[value]!r} — must be a number or empty") \
                    from None
    return header, trials


def inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` when it is a file inside `folder` (symbolic links resolved), else None."""
    base = Path(folder).resolve()
    try:
        target = (base / name).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        return None
    return target if target.is_relative_to(base) and target.is_file() else None
