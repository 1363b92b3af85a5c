"""Figures (matplotlib, Agg backend: no display needed)."""
from .schedule import plot_schedules

__all__ = ["plot_schedules"]
