"""A user's own Python: the modules and files that ``--import`` and ``model.factory`` name.

Nothing is imported when nnopt is: a user's code runs only when a recipe field
(``model.factory = "pkg.module:function"`` or ``"path/to/file.py:function"``) or a flag
(``--import FILE_OR_MODULE``) names it. A target is a module name (found on ``sys.path``, the
working directory included) or a ``.py`` file (a path, relative to the working directory; the
file's folder is put on ``sys.path`` so it can import its neighbours). Each is imported once per
process, so a registration in it is made once.

``--import`` targets are also written into the environment variable ``NNOPT_IMPORT``, which child
processes inherit — the DDP ranks torchrun starts (``--nproc``) and the workers ``nnopt tune
--workers`` spawns — and every entry point calls `load_imports`, so the user's registrations
(data sets, models, losses, penalties, schedules, optimizers) exist in every process.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable

from .errors import ConfigError
from .params import suggest

IMPORT_ENV = "NNOPT_IMPORT"  # os.pathsep-separated targets (files as absolute paths)


def is_file_target(target: str) -> bool:
    """A ``.py`` file path rather than a dotted module name."""
    return target.endswith(".py") or "/" in target or os.sep in target


def import_target(target: str, what: str) -> ModuleType:
    """Import `target` (a module name or a ``.py`` file) once per process; a ConfigError naming
    `what` when it cannot be found or raises while it is imported."""
    if not target.strip():
        raise ConfigError(f"{what} = {target!r} — must name a module (pkg.module) or a .py file")
    if is_file_target(target):
        return _import_file(Path(target).expanduser(), target, what)
    cwd = os.getcwd()
    if cwd not in sys.path:  # the `nnopt` script's sys.path[0] is its bin folder, not the working directory
        sys.path.append(cwd)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise ConfigError(f"{what} = {target!r} — no module named {exc.name!r} on the Python path or in "
                              f"the working directory {cwd} (or give a path to a .py file)") from None
        raise _raised(what, target, exc) from None
    except Exception as exc:  # noqa: BLE001 — a user's module may raise anything while it runs
        raise _raised(what, target, exc) from None


def _import_file(path: Path, target: str, what: str) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise ConfigError(f"{what} = {target!r} — no such file ({path})")
    name = f"nnopt_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    sys.modules[name] = module  # before it runs: its classes' __module__ must resolve (pickling, dataclasses)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001
        del sys.modules[name]
        raise _raised(what, target, exc) from None
    return module


def _raised(what: str, target: str, exc: BaseException) -> ConfigError:
    where = ""
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame of the user's code
        where = f" (line {tb.tb_lineno} of {tb.tb_frame.f_code.co_filename})"
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        where = f" (line {exc.lineno} of {exc.filename})"
    return ConfigError(f"{what} = {target!r} — importing it raised {type(exc).__name__}: "
                       f"{one_line(exc)}{where}")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a multi-line message keeps its first line)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def resolve_callable(spec: str, what: str) -> Callable:
    """``"pkg.module:function"`` or ``"path/to/file.py:function"`` (also ``Class.method``) → the
    callable; ConfigError naming `what` and the missing part otherwise."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ConfigError(f"{what} = {spec!r} — must be 'pkg.module:function' or 'path/to/file.py:function'")
    obj = import_target(target, what)
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n))]
            raise ConfigError(f"{what} = {spec!r} — {target} has no {part!r}"
                              f"{suggest(part, public) or (' (it defines: ' + ', '.join(public) + ')' if public else '')}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{what} = {spec!r} — {attr} is a {type(obj).__name__}, not a function or class")
    return obj


def accepts(fn: Callable, name: str) -> bool:
    """`fn` takes a keyword argument `name` (by name or through ``**kwargs``)."""
    params = inspect.signature(fn).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def use_imports(targets: Iterable[str] | None) -> None:
    """``--import`` targets: import each here and pass them on to child processes through the
    environment (`IMPORT_ENV`); files as absolute paths, so a child in another folder finds them."""
    targets = list(targets or [])
    if not targets:
        return
    have = [t for t in os.environ.get(IMPORT_ENV, "").split(os.pathsep) if t]
    for target in targets:
        import_target(target, "--import")
        entry = str(Path(target).expanduser().resolve()) if is_file_target(target) else target
        if entry not in have:
            have.append(entry)
    os.environ[IMPORT_ENV] = os.pathsep.join(have)


def load_imports() -> None:
    """Import what the parent process's ``--import`` named (`IMPORT_ENV`); every entry point —
    the CLI (and so each DDP rank), ``python -m nnopt.tune``, a tune trial's rank, a spawned tune
    worker — calls this before it reads a recipe."""
    for target in os.environ.get(IMPORT_ENV, "").split(os.pathsep):
        if target:
            import_target(target, f"{IMPORT_ENV} entry")


def add_import_argument(p) -> None:
    """``--import FILE_OR_MODULE`` (repeatable) on a command that reads recipes."""
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="FILE_OR_MODULE",
                   help="import your own registrations (data sets, models, losses, penalties, schedules, "
                        "optimizers) first: a .py file or a module name; repeatable; DDP ranks and tune "
                        "workers import them too")


def prepare(args=None) -> None:
    """What every entry point calls before it reads a recipe: the imports a parent process passed
    on (`load_imports`), then this command's own ``--import`` targets (`use_imports`)."""
    load_imports()
    use_imports(getattr(args, "imports", None))


__all__ = ["IMPORT_ENV", "import_target", "resolve_callable", "use_imports", "load_imports", "prepare",
           "add_import_argument", "accepts"]
