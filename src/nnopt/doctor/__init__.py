"""`nnopt doctor RUN_DIR`: the chapter's advice applied to a run (see `checks`), and `verify` of it."""
from .checks import CHECKS, Finding, diagnose, format_diagnosis
from .verify import verify

__all__ = ["CHECKS", "Finding", "diagnose", "format_diagnosis", "verify"]
