"""The loss landscape: Hessian spectra (Lanczos, Hutchinson, SLQ density), 1-D interpolation and
2-D filter-normalized slices; `nnopt landscape RUN_DIR` for a finished run."""
from .hessian import hessian_density, hessian_top_eigenvalues, hessian_trace, hvp, lanczos
from .slices import (filter_normalized_direction, interpolate, mean_loss, parameters_vector, plot_interpolation,
                     plot_slice, slice_2d)

__all__ = ["hessian_density", "hessian_top_eigenvalues", "hessian_trace", "hvp", "lanczos",
           "filter_normalized_direction", "interpolate", "mean_loss", "parameters_vector", "plot_interpolation",
           "plot_slice", "slice_2d"]
