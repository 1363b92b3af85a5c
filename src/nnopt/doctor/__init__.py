"""`nnopt doctor RUN_DIR`: the chapter's advice applied to a run (see `checks`)."""
from .checks import CHECKS, Problem, diagnose, format_diagnosis

__all__ = ["CHECKS", "Problem", "diagnose", "format_diagnosis"]
