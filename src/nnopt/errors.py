"""Errors nnopt raises on purpose: each names what is wrong and what is allowed. A leaf module:
what a process returns for each and how it says so is `nnopt.process`."""
from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and a scheduler's stop: checkpoint, exit 128 + signum


class Interrupted(KeyboardInterrupt):
    """Training stopped on one of `STOP_SIGNALS` after saving a checkpoint; the process exits with
    128 + signum (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process the signal ended."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @classmethod
    def from_exit_code(cls, code: int) -> "Interrupted | None":
        """The interruption a process's exit `code` reports; None for any other code."""
        return cls(code - 128) if code - 128 in STOP_SIGNALS else None


class ConfigError(ValueError):
    """A recipe field, CLI option or argument has a value nnopt cannot use.

    The message reads ``field = value — what is allowed``, e.g.
    ``optimizer.betas[1] = 1.2 — must be in [0, 1)``. ``field`` is the dotted field it is about
    (``"optimizer.betas[1]"``), None where the message names no single field, so a form can mark
    the field without parsing the message.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field

    def __reduce__(self):  # a worker process's error keeps its field across pickling
        return type(self), (str(self), self.field)


class DataError(RuntimeError):
    """A data file is missing or corrupt; the message says how to get it."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit the run it is loaded into."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss."""


class NonFiniteGradientError(DivergedError, ValueError):
    """An optimizer met a NaN/inf gradient; the message names the parameter."""
