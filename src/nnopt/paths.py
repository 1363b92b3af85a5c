"""Where a command may write: `check_output` refuses, before any work, an output path that cannot
be created — under a file (``/dev/null/sub``), in a pseudo file system (``/proc/x``), in a read-only
or unwritable directory — with a one-line ConfigError naming the option, instead of a traceback
(or a half-done run) when the first file is written."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .errors import ConfigError


def check_output(option: str, value, directory: bool = True) -> Path:
    """`value` as a Path once it is known that it can be written: a directory (`directory`) or a
    file there or to be created. The nearest existing ancestor must be a directory in which a new
    entry can be made (tried with a temporary directory, removed at once: it is the one test that
    also holds for root, a read-only mount and /proc). Nothing is created."""
    text = str(value)
    if not text.strip():
        raise ConfigError(f"{option} = {text!r} — must not be empty")
    path = Path(text)
    if path.exists() and path.is_dir() != directory:
        raise ConfigError(f"{option} = {text!r} — " + ("must be a directory; it is a file" if directory else
                                                      "must be a file name; it is a directory"))
    existing = path if directory and path.is_dir() else next(
        (a for a in path.absolute().parents if a.exists()), Path("/"))
    if not existing.is_dir():
        raise ConfigError(f"{option} = {text!r} — must be a directory path; {existing} is a file, nothing "
                          "can be created under it")
    try:
        tempfile.TemporaryDirectory(dir=existing, prefix=".nnopt-probe-").cleanup()
    except OSError as exc:
        raise ConfigError(f"{option} = {text!r} — must be somewhere writable; nothing can be created in "
                          f"{existing} ({exc.strerror or exc})") from None
    return path
