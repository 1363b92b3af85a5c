"""How an nnopt process ends: the exit code of each outcome and its one last message.

`exit_code(command)` runs a command and maps nnopt's errors (`nnopt.errors`, a leaf module that
knows nothing of processes) to codes — 0 done, 2 bad input (`EXIT_CONFIG`), 3 diverged
(`EXIT_DIVERGED`), 128 + signum for a stop signal (130 Ctrl-C, 143 SIGTERM, as a shell reports a
process the signal ended) — after printing the error once with `say_error`. Under the job launcher
(`nnopt.train.distributed.launch_module`) each rank leaves its message in the folder named by
`ERRORS_ENV` and the launcher prints each distinct one once, so N ranks failing alike say it once.
"""
from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path
from typing import Callable

from .errors import CheckpointError, ConfigError, DataError, DivergedError

EXIT_CONFIG, EXIT_DIVERGED = 2, 3  # bad input, a diverged run
ERRORS_ENV = "NNOPT_RANK_ERRORS"  # set by launch_module: the folder where failing ranks leave their message


def say_error(message: str) -> None:
    """A process's last message (``error: ...``) for the user: under the launcher (`ERRORS_ENV`
    set and a ``RANK``) written to the job's folder, for the launcher to print once; elsewhere
    straight to stderr."""
    folder = os.environ.get(ERRORS_ENV)
    if folder and "RANK" in os.environ:
        Path(folder, f"rank-{int(os.environ['RANK']):06d}").write_text(message)
    else:
        print(message, file=sys.stderr)


_code: int | None = None  # the exit code of the command `exit_code` ran, for `leave`


def exit_code(command: Callable[[], int | None]) -> int:
    """Run `command`; return its own code (None → 0) or that of the nnopt error it raised — bad
    input 2, divergence 3, a stop signal 128 + signum (Ctrl-C 130) — after its one-line message
    (``error: ...`` / ``diverged: ...``, via `say_error`). The code is kept for `leave`."""
    global _code
    _code = None  # an error that escapes leaves no code: the interpreter ends the process
    _code = _outcome(command)
    return _code


def leave() -> bool:
    """End an nnopt command's process now — with the code `exit_code` returned, stdout and stderr
    flushed, without the interpreter's teardown: a rank whose gloo process group is torn down while
    a peer is gone or going can be aborted by gloo's threads (SIGABRT; libstdc++'s "terminate
    called without an active exception" on stderr, under the launcher's one-line report). False,
    and nothing done, in a process that is not ending an nnopt command (your own script under
    torchrun; an error that escaped)."""
    if _code is None:
        return False
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)


def _outcome(command: Callable[[], int | None]) -> int:
    """`exit_code`'s mapping of a command's outcome to its code."""
    try:
        return command() or 0
    except (ConfigError, DataError, CheckpointError) as exc:
        say_error(f"error: {exc}")
        return EXIT_CONFIG
    except DivergedError as exc:
        say_error(f"diverged: {exc}")
        return EXIT_DIVERGED
    except KeyboardInterrupt as exc:  # errors.Interrupted carries its signal; a plain one is Ctrl-C
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except OSError as exc:  # the disk filled up or turned read-only under a command: one line, not a traceback
        if exc.errno not in DISK_FULL_OR_READ_ONLY:
            raise
        say_error(f"error: cannot write {exc.filename or 'a file'}: {exc.strerror} — free some space or choose "
                  "another output directory")
        return EXIT_CONFIG
    except RuntimeError as exc:
        if not lost_a_peer(exc):
            raise
        say_error(f"error: rank {os.environ['RANK']} {PEER_LOST} ({str(exc).strip().splitlines()[0][:200]})")
        return 1


DISK_FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
PEER_LOST = "lost contact with the other ranks"  # the launcher leaves this out when it reports a killed rank


def lost_a_peer(exc: BaseException) -> bool:
    """Whether `exc` is a rank's collective failing because another rank is gone (gloo's
    "Connection reset by peer", an NCCL error): a one-line message then, not gloo's traceback —
    the launcher says which rank died and how to resume."""
    return "RANK" in os.environ and isinstance(exc, RuntimeError) and \
        any(marker in str(exc) for marker in ("gloo", "NCCL", "by peer"))


__all__ = ["EXIT_CONFIG", "EXIT_DIVERGED", "ERRORS_ENV", "say_error", "exit_code", "leave"]
