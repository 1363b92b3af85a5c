"""Figures (matplotlib, Agg backend: no display needed)."""
from .schedule import plot_schedules, specs_from_cli

__all__ = ["plot_schedules", "specs_from_cli"]
