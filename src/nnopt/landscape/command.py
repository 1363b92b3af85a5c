"""`nnopt landscape RUN_DIR`: λ_max, the Hessian trace and 1-D/2-D loss figures of a finished run."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished run (recipe.toml + model.pt)")
    p.add_argument("--out", metavar="DIR", help="where to write (default: RUN_DIR/landscape)")
    p.add_argument("--samples", type=int, default=1000, help="training samples the loss is averaged over")
    p.add_argument("--iters", type=int, default=20, help="Lanczos steps (HVPs) for λ_max")
    p.add_argument("--trace-samples", type=int, default=10, help="Hutchinson probes (HVPs) for the trace")
    p.add_argument("--points", type=int, default=21, help="2-D grid points per axis (points² loss evaluations)")
    p.add_argument("--span", type=float, default=1.0, help="2-D slice half-width, in filter-normalized units")


def landscape_of_run(run_dir, out=None, samples=1000, iters=20, trace_samples=10, points=21, span=1.0) -> dict:
    """Write landscape.json, interpolation.png (initial → final parameters, Goodfellow et al. 2015)
    and slice_2d.png (filter-normalized, Li et al. 2018) for the run; returns the JSON record."""
    import torch.nn.functional as F

    from ..lab.plots import figure
    from .hessian import hessian_top_eigenvalues, hessian_trace
    from .run import split_batches, trained_setup
    from .slices import interpolate, mean_loss, parameters_vector, plot_interpolation, plot_slice, slice_2d

    run_dir = Path(run_dir)
    if not (run_dir / "recipe.toml").is_file() or not (run_dir / "model.pt").is_file():
        raise ConfigError(f"{run_dir} — not a finished run (needs recipe.toml and model.pt)")
    out = Path(out) if out else run_dir / "landscape"
    out.mkdir(parents=True, exist_ok=True)
    setup, theta0 = trained_setup(run_dir)
    model, batches = setup.model, split_batches(setup.data.train, 500, samples)
    loss_fn = F.cross_entropy
    record, clock = {"run": str(run_dir), "samples": sum(len(y) for _, y in batches),
                     "parameters": len(parameters_vector(model))}, time.perf_counter
    t = clock()
    record["loss"] = mean_loss(model, loss_fn, batches)
    record["seconds_per_loss_evaluation"] = clock() - t
    t = clock()
    record["lambda_max"] = hessian_top_eigenvalues(model, loss_fn, batches, k=1, iters=iters)[0]
    record["seconds_per_hvp"] = (clock() - t) / min(iters, record["parameters"])
    record["trace"] = hessian_trace(model, loss_fn, batches, samples=trace_samples)
    alphas, losses = interpolate(model, loss_fn, batches, theta0, parameters_vector(model))
    fig, (ax,) = figure(1)
    plot_interpolation(ax, {"initial → final": (alphas, losses)}, log=True)
    ax.set_title(f"{run_dir.name}: linear interpolation (α = 0 init, 1 final)")
    fig.savefig(out / "interpolation.png", dpi=110, bbox_inches="tight")
    a, b, Z = slice_2d(model, loss_fn, batches, span=span, points=points)
    fig2, (ax2,) = figure(1, width=5.2, height=4.4)
    plot_slice(ax2, a, b, Z, title=f"{run_dir.name}: loss around the final θ (★)")
    fig2.savefig(out / "slice_2d.png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig), plt.close(fig2)
    record.update(interpolation={"alpha": alphas.tolist(), "loss": losses.tolist()},
                  slice_2d={"a": a.tolist(), "b": b.tolist(), "loss": Z.tolist()})
    (out / "landscape.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def run(args) -> int:
    for name in ("samples", "iters", "trace_samples", "points"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} = {getattr(args, name)} — must be >= 1")
    r = landscape_of_run(args.run_dir, args.out, args.samples, args.iters, args.trace_samples, args.points,
                         args.span)
    print(f"λ_max {r['lambda_max']:.4g}   trace {r['trace']:.4g}   loss {r['loss']:.4g}   "
          f"({r['parameters']} parameters, {r['samples']} samples; one HVP {r['seconds_per_hvp'] * 1e3:.0f} ms, "
          f"one loss evaluation {r['seconds_per_loss_evaluation'] * 1e3:.0f} ms)")
    print(f"figures: {Path(args.out) if args.out else Path(args.run_dir) / 'landscape'}")
    return 0
