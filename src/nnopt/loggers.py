"""Where else a run's metrics go (``train.loggers``): the lines of metrics.jsonl, written again.

    tensorboard   RUN/tensorboard/ event files (the `tensorboard` package: pip install
                  "nnopt[tensorboard]"): each step line's loss, grad_norm and lr as
                  ``step/<key>``, each epoch line's metrics, lr and batch size as
                  ``epoch/<key>``, all at global step = the optimizer step, so a resumed run
                  purges what it writes again (SummaryWriter's purge_step)

A logger gets every line when the Trainer writes it (at epoch ends and stops) and is closed at
the end of the fit; only the process that writes the run directory has loggers.
"""
from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

SKIP = ("kind", "epoch", "step", "time")  # keys of a metrics line that are not values to plot


class TensorBoard:
    """metrics.jsonl's lines as TensorBoard scalars in ``RUN/tensorboard``."""

    DIR = "tensorboard"

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(run_dir) / self.DIR),
                                    purge_step=resume_step + 1 if resume_step is not None else None)

    def write(self, line: dict) -> None:
        for key, value in line.items():
            if key not in SKIP and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(f"{line['kind']}/{key}", value, global_step=line["step"])

    def close(self) -> None:
        self.writer.close()


LOGGERS = {"tensorboard": TensorBoard}


def check_available(names: list[str]) -> None:
    """ConfigError when a named logger's package is not installed (before a run directory exists)."""
    if "tensorboard" in names:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError('train.loggers = ["tensorboard"] — needs the tensorboard package: '
                              'pip install "nnopt[tensorboard]"', field="train.loggers") from None


def open_loggers(names: list[str], run_dir: Path, resume_step: int | None = None) -> list:
    """The loggers `names`, writing into `run_dir` (continuing a run resumed at `resume_step`)."""
    return [LOGGERS[name](run_dir, resume_step) for name in names]
