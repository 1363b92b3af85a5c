"""`nnopt doctor RUN_DIR`: reads a finished run and says what went wrong in it, with the evidence and the remedy.

Not `nnopt.diagnose`, which needs no run: it draws signal propagation through a deep net per init ×
activation before training. Here the chapter's advice is applied to a run (see `checks`), and
`verify` retrains with the first finding's remedy to check that it helps.
"""
from .checks import CHECKS, Finding, diagnose, format_diagnosis
from .verify import verify

__all__ = ["CHECKS", "Finding", "diagnose", "format_diagnosis", "verify"]
