"""`nnopt landscape RUN_DIR`: λ_max, the Hessian trace and 1-D/2-D loss figures of a finished run."""
from __future__ import annotations

import argparse
import json
import math
import pickle
import shutil
import time
from pathlib import Path

from ..errors import ConfigError
from ..paths import check_output


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
    from .run import trained_setup

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir} — no such directory (give a finished run's directory)")
    if not (run_dir / "recipe.toml").is_file() or not (run_dir / "model.pt").is_file():
        raise ConfigError(f"{run_dir} — not a finished run (needs recipe.toml and model.pt)")
    check_options(samples=samples, iters=iters, trace_samples=trace_samples, points=points, span=span)
    out = check_output("--out", out if out is not None else run_dir / "landscape")
    try:
        setup, theta0 = trained_setup(run_dir)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as exc:  # empty, damaged, another model's tensors
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ConfigError(f"{run_dir / 'model.pt'} does not fit the model recipe.toml builds ({reason})") from None
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return write_landscape(run_dir, out, setup, theta0, samples, iters, trace_samples, points, span)
    except BaseException:  # an error or Ctrl-C half-way: no empty or half-written folder left behind
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


LIMITS = {"samples": (1, None), "iters": (1, 1000), "trace_samples": (1, 10_000), "points": (2, 201)}


def check_options(span: float, **counts: int) -> None:
    """ConfigError for a count outside LIMITS (--points 201 is already 40,401 loss evaluations) or a
    --span that is not a finite number > 0."""
    for name, value in counts.items():
        low, high = LIMITS[name]
        if value < low or (high is not None and value > high):
            allowed = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise ConfigError(f"--{name.replace('_', '-')} = {value} — must be {allowed}")
    if not (math.isfinite(span) and span > 0):
        raise ConfigError(f"--span = {span} — must be a finite half-width > 0 (filter-normalized units)")


def write_landscape(run_dir: Path, out: Path, setup, theta0, samples: int, iters: int, trace_samples: int,
                    points: int, span: float) -> dict:
    """The measurements and figures of `landscape_of_run` for a loaded run, written into `out`."""
    from ..lab.plots import figure
    from ..tasks import targets
    from .hessian import hessian_top_eigenvalues, hessian_trace
    from .run import split_batches
    from .slices import interpolate, mean_loss, parameters_vector, plot_interpolation, plot_slice, slice_2d

    model, batches = setup.model, split_batches(setup.data.train, 500, samples)

    def loss_fn(out, y):  # the run's own loss (its [loss] for its task), without label smoothing
        return setup.eval_loss(out, targets(setup.task, out, y))

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
    plot_slice(ax2, a, b, Z)  # the title above the whole figure: over the axes alone it ran into the colorbar's label
    fig2.suptitle(f"{run_dir.name}: loss around the final θ (★)", fontsize=10)
    fig2.savefig(out / "slice_2d.png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig), plt.close(fig2)
    record.update(interpolation={"alpha": alphas.tolist(), "loss": losses.tolist()},
                  slice_2d={"a": a.tolist(), "b": b.tolist(), "loss": Z.tolist()})
    (out / "landscape.json").write_text(json.dumps(finite(record), indent=1) + "\n")
    return record


def finite(value):
    """`value` with every NaN / ±inf float as None (JSON has no such numbers; a diverged region of a
    slice is 'no value')."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def run(args) -> int:
    r = landscape_of_run(args.run_dir, args.out, args.samples, args.iters, args.trace_samples, args.points,
                         args.span)
    print(f"λ_max {r['lambda_max']:.4g}   trace {r['trace']:.4g}   loss {r['loss']:.4g}   "
          f"({r['parameters']} parameters, {r['samples']} samples; one HVP {r['seconds_per_hvp'] * 1e3:.0f} ms, "
          f"one loss evaluation {r['seconds_per_loss_evaluation'] * 1e3:.0f} ms)")
    print(f"figures: {Path(args.out) if args.out else Path(args.run_dir) / 'landscape'}")
    return 0
