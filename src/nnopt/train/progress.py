"""What the user sees while a run trains: a tqdm bar on a TTY, plain lines otherwise, or nothing."""
from __future__ import annotations

import os
import sys

from ..tasks import METRICS


class Progress:
    def __init__(self, total_epochs: int, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total_epochs = total_epochs
        self.bar = None
        self.tty = not quiet and hasattr(self.stream, "isatty") and self.stream.isatty()

    def start_epoch(self, epoch: int, position: int, steps: int) -> None:
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=steps, initial=position, file=self.stream, **self.unsized(),
                            desc=f"epoch {epoch}/{self.total_epochs}", leave=False, unit="step")

    def unsized(self) -> dict:
        """tqdm's size for a terminal that reports none (0 × 0: a pseudo-terminal nobody sized, as
        `script` makes without a terminal around it): 80 × 24. tqdm draws nothing in 0 rows, a bar
        0 columns wide — the run looked bar-less. {} (tqdm reads the size itself) otherwise."""
        try:
            size = os.get_terminal_size(self.stream.fileno())
        except (AttributeError, ValueError, OSError):
            return {}
        return {} if size.columns > 0 and size.lines > 0 else {"ncols": size.columns or 80, "nrows": size.lines or 24}

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def end_epoch(self, record: dict) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.quiet:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k in METRICS)
            self.line(f"epoch {record['epoch']:>3}/{self.total_epochs}  {shown}  "
                      f"lr {record['lr']:.3g}  {record['time']:.1f}s")

    def line(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)
