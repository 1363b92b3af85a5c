"""Errors nnopt raises on purpose: each names what is wrong and what is allowed."""


class ConfigError(ValueError):
    """A recipe field, CLI option or argument has a value nnopt cannot use.

    The message reads ``field = value — what is allowed``, e.g.
    ``optimizer.betas[1] = 1.2 — must be in [0, 1)``.
    """


class DataError(RuntimeError):
    """A data file is missing or corrupt; the message says how to get it."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or does not fit the run it is loaded into."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss."""


class NonFiniteGradientError(DivergedError, ValueError):
    """An optimizer met a NaN/inf gradient; the message names the parameter."""
