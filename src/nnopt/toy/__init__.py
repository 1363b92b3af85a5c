"""Toy problems for seeing optimizers act: 2-D test functions (`functions2d`)."""
from .functions2d import (SURFACES, CriticalPoint, Surface, Trajectory, classify, find_critical_points,
                          plot_trajectories, quadratic, trajectory)

__all__ = ["SURFACES", "CriticalPoint", "Surface", "Trajectory", "classify", "find_critical_points",
           "plot_trajectories", "quadratic", "trajectory"]
