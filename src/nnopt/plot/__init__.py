"""Figures (matplotlib, Agg backend: no display needed)."""
from .schedule import check_figure_path, plot_schedules, specs_from_cli

__all__ = ["plot_schedules", "specs_from_cli", "check_figure_path"]
