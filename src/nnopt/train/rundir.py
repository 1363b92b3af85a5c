"""The run directory: the one module that reads and writes it (a public contract, docs/trainer.md).

    RUN/
      recipe.toml         the resolved recipe (TOML); readers get the RAW dict, never re-validated
      metrics.jsonl       one JSON object per line: {"kind": "step", step, epoch, lr, loss, grad_norm}
                          every train.log_every steps, {"kind": "epoch", epoch, step, train_loss,
                          val_loss, the task's metrics (train_acc/val_acc…, or *_rmse/_mae/_r2), lr,
                          batch_size, time} per epoch
      summary.json        {"format": 2, "status", "task", "monitor", "best_<monitor>", "best_epoch",
                          final_* / test_* metrics, ...}; no "format" = version 1 (val_acc runs)
      model.pt            the final weights (torch.save of the state dict)
      layers.jsonl        optional: per-layer norms at log points, dead ReLU fractions per epoch
      checkpoints/last.pt the resume state (train/checkpoint.py)
      tensorboard/        optional (train.loggers): the metrics as TensorBoard event files

Reading a damaged file raises ConfigError naming the file, as ``PATH:LINE — what is wrong`` where
there is a line (a JSON-lines record, a JSON syntax error); `nnopt report` and `nnopt doctor`
read a run through this module too.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch

from .._compat import tomllib
from ..errors import ConfigError
from ..loggers import TensorBoard

FORMAT = 2  # summary.json's "format"; a summary without one is version 1
RECIPE, METRICS, SUMMARY, MODEL, LAYERS = "recipe.toml", "metrics.jsonl", "summary.json", "model.pt", "layers.jsonl"
CHECKPOINTS, TENSORBOARD = "checkpoints", TensorBoard.DIR
RECORDS = (METRICS, SUMMARY, MODEL, LAYERS, CHECKPOINTS, TENSORBOARD)  # what a run leaves (recipe.toml may come first)


class RunDir:
    """A run directory at `path` (which may not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def is_run(self) -> bool:
        """Whether the directory holds a run's records (metrics.jsonl)."""
        return self.file(METRICS).is_file()

    def check(self) -> "RunDir":
        """This run directory; ConfigError when it is not one."""
        if not self.path.is_dir():
            raise ConfigError(f"{self.path} is not a directory" + (" (it does not exist)" if not self.path.exists()
                                                                   else ""))
        if not self.is_run():
            raise ConfigError(f"{self.path} is not a run directory (no {METRICS})")
        return self

    # -- reading -------------------------------------------------------------------------------
    def metrics(self) -> list[dict]:
        """Every line of metrics.jsonl (steps and epochs, in order), each value a number or null."""
        return list(read_jsonl(self.file(METRICS), numbers=True))

    def epochs(self) -> list[dict]:
        return [m for m in self.metrics() if m.get("kind") == "epoch"]

    def steps(self) -> list[dict]:
        return [m for m in self.metrics() if m.get("kind") == "step"]

    def layers(self) -> list[dict]:
        """layers.jsonl's lines ([] when the run did not log them)."""
        path = self.file(LAYERS)
        return list(read_jsonl(path)) if path.is_file() else []

    def summary(self) -> dict:
        """summary.json with ``format`` (1 when it has none), ``task`` and ``monitor`` filled in for
        an old run ("classification", "val_acc"); {} when the run has not written one."""
        path = self.file(SUMMARY)
        if not path.is_file():
            return {}
        summary = read_json(path)
        return {"format": 1, "task": "classification", "monitor": "val_acc", **summary}

    def recipe(self) -> dict | None:
        """recipe.toml as its raw TOML dict (None when absent): read, not validated, so a run whose
        components were a user's registrations still reads where they are not registered."""
        path = self.file(RECIPE)
        if not path.is_file():
            return None
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None

    def model_state(self, map_location: Any = "cpu") -> dict:
        """model.pt's state dict."""
        path = self.file(MODEL)
        if not path.is_file():
            raise ConfigError(f"{path} does not exist: the run has not finished")
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:  # noqa: BLE001 — torch.load raises many kinds on a damaged file
            raise ConfigError(f"{path} is not a model state dict nnopt can read "
                              f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None

    # -- writing -------------------------------------------------------------------------------
    def create(self, recipe_toml: str) -> None:
        """Make the directory with its recipe.toml and an empty metrics.jsonl."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.file(RECIPE).write_text(recipe_toml)
        self.file(METRICS).write_text("")

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """summary.json (atomically), with ``format`` = FORMAT first."""
        write_json(self.file(SUMMARY), {"format": FORMAT, **summary})

    def save_model(self, state: Mapping[str, torch.Tensor]) -> None:
        torch.save(dict(state), self.file(MODEL))


def check_new(path: Path, overwrite: bool = False) -> None:
    """Refuse to start a run in `path` when it holds a run's records (metrics, summary, model,
    layers, checkpoints) — unless `overwrite`, which deletes those records first. A path that is
    a file is always refused."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"run directory {path} is a file — must be a directory (new or empty)")
    found = [name for name in RECORDS if (path / name).exists()]
    if found and not overwrite:
        raise ConfigError(f"run directory {path} already holds a run ({', '.join(found)}); choose another "
                          "directory, continue it (nnopt run --resume, Trainer.fit(resume=True)), or pass "
                          "overwrite=True to replace it")
    for name in found:
        target = path / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


def read_text(path: Path) -> str:
    """The UTF-8 text of `path`; ConfigError naming it when it is missing, unreadable or not text."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}) — is it the file nnopt wrote?") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror or exc})") from None


def parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """`text` as JSON: the whole of `path`, or its line number `line` (a JSON-lines file). A syntax
    error is a ConfigError ``PATH:LINE — …`` (the one format of every reader here); so is a
    nesting deeper than Python's parser allows."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(f"{path}:{line or 1} — JSON nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more digits than int() takes
        if line is None:
            raise ConfigError(f"{path}:{getattr(exc, 'lineno', 1)} — not valid JSON "
                              f"({getattr(exc, 'msg', exc)})") from None
        raise ConfigError(f"{path}:{line} — not a JSON line (a truncated or corrupt record): {text[:60]!r}") from None


def read_jsonl(path: Path, numbers: bool = False) -> Iterator[dict]:
    """The records of a JSON-lines file (blank lines skipped); ConfigError ``PATH:LINE — …`` for a
    line that is not a JSON object with a string "kind" (a truncated last line included) and, with
    `numbers` (metrics.jsonl), for a value other than "kind" that is not a number or null."""
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        record = parse_json(line, path, number)
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
            raise ConfigError(f"{path}:{number} — a record must be a JSON object with a \"kind\": {line[:60]!r}")
        bad = next((k for k, v in record.items() if k != "kind" and v is not None
                    and (isinstance(v, bool) or not isinstance(v, (int, float)))), None) if numbers else None
        if bad is not None:
            raise ConfigError(f"{path}:{number} — {bad} = {short_json(record[bad])} — must be a number")
        yield record


def read_json(path: Path) -> dict:
    """A file holding one JSON object (summary.json, landscape.json, a lab's finding.json);
    ConfigError naming the file when it is not one."""
    record = parse_json(read_text(path), path)
    if not isinstance(record, dict):
        raise ConfigError(f"{path} holds a JSON {_json_type(record)} — must be an object {{...}}")
    return record


def _json_type(value: Any) -> str:
    """JSON's name for the type of a parsed value that is not an object."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true/false"
    return {str: "string", list: "list"}.get(type(value), "number")


def short_json(value: Any) -> str:
    """`value` as JSON, cut to 60 characters."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def write_json(path: Path, obj: Mapping[str, Any]) -> None:
    """Write `obj` as indented JSON, atomically (a temp file, then a rename)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    tmp.replace(path)
