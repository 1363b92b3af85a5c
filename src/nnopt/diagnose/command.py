"""`nnopt diagnose` (also ``python -m nnopt.diagnose``): print the propagation table, save the PNG.

    nnopt diagnose --depth 50 --width 256 --activation tanh --activation relu \\
        --init normal:std=1 --init normal:std=0.01 --init xavier_normal --init he_normal \\
        --init orthogonal -o propagation.png
    nnopt diagnose recipe.toml --set init.name=he_normal -o recipe_propagation.png
"""
from __future__ import annotations

import argparse

DEFAULT_INITS = ["normal:std=1", "normal:std=0.01", "xavier_normal", "he_normal", "orthogonal"]
DEFAULT_ACTIVATIONS = ["tanh", "relu"]
MAX_DEPTH = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", help="measure this recipe's model (else a deep MLP sweep)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a recipe field (repeatable)")
    p.add_argument("--depth", type=int, default=50, help=f"hidden layers of the MLP (default 50, at most {MAX_DEPTH})")
    p.add_argument("--width", type=int, default=256, help="units per hidden layer (default 256)")
    p.add_argument("--activation", action="append", metavar="NAME",
                   help=f"activation (repeatable; default {' '.join(DEFAULT_ACTIVATIONS)})")
    p.add_argument("--init", action="append", metavar="SCHEME[:KEY=VALUE,...]",
                   help=f"init scheme (repeatable; default {' '.join(DEFAULT_INITS)})")
    p.add_argument("--batch", type=int, default=256, help="samples in the measured batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", metavar="PNG", help="save the figure here")


def check_arguments(args: argparse.Namespace) -> None:
    """ConfigError for sizes, seeds and paths the measurement cannot use, before any work."""
    from pathlib import Path

    from ..errors import ConfigError
    from ..nn.checks import check_memory
    from ..plot import check_figure_path
    from ..recipe import SEED_MAX

    for option in ("depth", "width", "batch"):
        if getattr(args, option) < 1:
            raise ConfigError(f"--{option} = {getattr(args, option)} — must be >= 1")
    if args.depth > MAX_DEPTH:
        raise ConfigError(f"--depth = {args.depth} — must be <= {MAX_DEPTH} (one pass per layer, per model)")
    if not 0 <= args.seed <= SEED_MAX:
        raise ConfigError(f"--seed = {args.seed} — must be in [0, {SEED_MAX}]")
    if args.output is not None:
        check_figure_path(Path(args.output), "-o")
    if not (args.recipe or args.set):
        weights, activations = args.depth * args.width ** 2, args.depth * args.width * args.batch
        check_memory(4 * weights + 16 * weights + 24 * activations,  # fp32 model, fp64 copy + grads
                     f"--depth {args.depth} --width {args.width} --batch {args.batch}",
                     "use a smaller --depth, --width or --batch")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..recipe import Recipe
    from ..registry import ACTIVATIONS
    from .propagation import from_recipe, sweep
    from .report import render, table

    check_arguments(args)
    if args.recipe or args.set:
        recipe = (Recipe.load(args.recipe) if args.recipe else Recipe()).override(args.set)
        results = [from_recipe(recipe, args.batch)]
        title = f"{args.recipe or 'default recipe'}: signal propagation"
    else:
        activations = args.activation or DEFAULT_ACTIVATIONS
        for a in activations:
            if a not in ACTIVATIONS:
                raise ConfigError(f"--activation {a!r} — must be one of {', '.join(ACTIVATIONS.names())}")
        results = sweep(args.init or DEFAULT_INITS, activations, args.depth, args.width, args.batch, args.seed)
        title = f"{args.depth}-layer MLP, width {args.width}: signal propagation"
    print(table(results))
    if args.output:
        print(f"figure: {render(results, args.output, title)}")
    return 0


def main(argv=None) -> int:
    import sys

    from ..errors import ConfigError

    parser = argparse.ArgumentParser(prog="nnopt diagnose", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
