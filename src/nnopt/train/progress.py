"""What the user sees while a run trains: a tqdm bar on a TTY, plain lines otherwise, or nothing."""
from __future__ import annotations

import sys


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

            self.bar = tqdm(total=steps, initial=position, file=self.stream,
                            desc=f"epoch {epoch}/{self.total_epochs}", leave=False, unit="step")

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def end_epoch(self, record: dict) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.quiet:
            self.line(f"epoch {record['epoch']:>3}/{self.total_epochs}  "
                      f"train_loss {record['train_loss']:.4f}  train_acc {record['train_acc']:.4f}  "
                      f"val_loss {record['val_loss']:.4f}  val_acc {record['val_acc']:.4f}  "
                      f"lr {record['lr']:.3g}  {record['time']:.1f}s")

    def line(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)
