"""Tables and figures shared by the CLI, the lab and the report."""
from .table import format_table, mean_std

__all__ = ["format_table", "mean_std"]
