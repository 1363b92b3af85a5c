"""The `nnopt` command line: train, compare, search, test the chapter's claims, report, diagnose, serve."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .diagnose import command as diagnose_command
from .doctor import command as doctor_command
from .errors import ConfigError, DivergedError
from .process import EXIT_CONFIG, exit_code
from .lab import command as lab_command
from .landscape import command as landscape_command
from .paths import check_output
from .report import command as report_command
from .serve import command as serve_command
from .tune import command as tune_command
from .user_code import add_import_argument, prepare

# Subcommands that live in their own package: (name, help, module with add_arguments(p) and run(args)).
COMMANDS = [
    ("diagnose", "signal propagation: Var z and ‖δ‖ by depth per init × activation", diagnose_command),
    ("doctor", "what went wrong in a run: the evidence and the chapter's remedy", doctor_command),
    ("tune", "hyperparameter search / small NAS over recipe fields (Optuna)", tune_command),
    ("lab", "the chapter's claims as experiments: numbers, figures, a verdict", lab_command),
    ("report", "lab findings, runs, compare and tune directories as one HTML page", report_command),
    ("landscape", "λ_max, Hessian trace, 1-D/2-D loss slices of a finished run", landscape_command),
    ("serve", "the web playground: optimizers on 2-D functions, a network training live", serve_command),
]


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage error (2) or --help (0), as a return code
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return exit_code(lambda: prepare(args) or args.func(args))  # --import first, in every process
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stdout = open(os.devnull, "w")
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnopt", description=__doc__)
    sub = parser.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="train one recipe (the default digits MLP without one)")
    run.add_argument("recipe", nargs="?", help="recipe TOML file (default: the built-in recipe)")
    add_common(run, "run")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    run.add_argument("--doctor", action="store_true",
                     help="print nnopt doctor's diagnosis at the end (also of a diverged run)")
    run.add_argument("--nproc", type=int, default=1, metavar="N",
                     help="data-parallel training on N local processes started through torchrun "
                          "(gloo on CPU, nccl on CUDA); train.batch_size stays the global batch")
    run.set_defaults(func=cmd_run)

    cmp = sub.add_parser("compare", help="train a grid of recipe variants over seeds, tabulate")
    cmp.add_argument("recipe", nargs="?", help="base recipe TOML file (default: the built-in recipe)")
    add_common(cmp, "compare")
    cmp.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                     help="a field and its values, e.g. optimizer.name=sgd,momentum,adam (repeatable)")
    cmp.add_argument("--seeds", type=int, default=1, help="seeds per variant (train.seed + 0..n-1)")
    cmp.set_defaults(func=cmd_compare)

    plot = sub.add_parser("plot", help="figures")
    figures = plot.add_subparsers(metavar="FIGURE")
    ps = figures.add_parser("schedule", help="draw one or several schedules against t")
    ps.add_argument("names", nargs="+", metavar="NAME", help="registered schedule names")
    ps.add_argument("--set", action="append", default=[], metavar="[NAME.]KEY=VALUE",
                    help="a schedule parameter (repeatable); without NAME. it goes to every named "
                         "schedule that has it")
    ps.add_argument("--steps", type=int, default=1000, help="t = 0..steps-1; also total_steps unless set")
    ps.add_argument("-o", "--out", default="schedule.png", metavar="FILE.png")
    ps.add_argument("--title")
    ps.set_defaults(func=cmd_plot_schedule)

    for name, text, module in COMMANDS:
        p = sub.add_parser(name, help=text)
        module.add_arguments(p)
        if name == "lab":  # tune's own parser has --import (python -m nnopt.tune)
            add_import_argument(p)
        p.set_defaults(func=module.run)

    lst = sub.add_parser("list", help="registered techniques, by family")
    lst.add_argument("family", nargs="?", help="one family (e.g. optimizers)")
    lst.add_argument("name", nargs="?", help="one entry: show its parameters")
    lst.set_defaults(func=cmd_list)
    return parser


def add_common(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a recipe field (repeatable), e.g. --set optimizer.lr=0.01")
    p.add_argument("--out", metavar="DIR", help=f"output directory, new or empty (default: runs/<recipe>-{kind}-<time>, "
                                                "<recipe> the recipe file's name or 'default')")
    p.add_argument("--quiet", action="store_true", help="print only the final table")
    add_import_argument(p)


def load_recipe(args):
    from .recipe import Recipe

    recipe = Recipe.load(args.recipe) if args.recipe else Recipe()
    return recipe.override(args.set)


def out_dir(args, kind: str) -> Path:
    if args.out is not None:
        path = check_output("--out", args.out)
        if path.exists() and any(path.iterdir()):
            raise ConfigError(f"--out {path} exists and is not empty; choose another directory"
                              + (" or continue it with --resume" if kind == "run" else ""))
        return path
    stem = Path(args.recipe).stem if args.recipe else "default"
    return check_output("--out (default)", Path("runs") / f"{stem}-{kind}-{time.strftime('%Y%m%d-%H%M%S')}")


FINISHED = ("completed", "early_stopped")  # summary statuses of a run with nothing left to resume (a run a
# callback stopped with request_stop, status "stopped", continues to its last epoch)


def cmd_run(args) -> int:
    from .doctor import format_diagnosis
    from .recipe import Recipe
    from .report.table import format_table
    from .train import Trainer, build, checkpoint, distributed
    from .train.rundir import RunDir

    dist = distributed.init()  # under torchrun: join its process group (rank 0 writes the run directory)
    if args.nproc < 1 or (args.nproc > 1 and dist.world > 1):
        raise ConfigError(f"--nproc = {args.nproc} — must be >= 1, and left out under torchrun (it sets the processes)")
    resume = args.resume is not None
    if resume:
        if args.recipe or args.set or args.out is not None:
            raise ConfigError("--resume continues a run with its own recipe.toml in its own directory; "
                              "give no recipe, --set or --out with it")
        run_dir = checkpoint.check_resume_dir(args.resume)
        summary = RunDir(run_dir).summary()  # {} before the run wrote one
        if summary.get("status") in FINISHED:
            if checkpoint.exists(run_dir):
                checkpoint.load(run_dir)  # a damaged checkpoint is still reported (CheckpointError)
            if dist.is_writer:
                print(f"{run_dir} is already complete (status {summary['status']}, {summary.get('epochs')} epochs): "
                      f"nothing to resume; its results are in {run_dir / 'summary.json'}", file=sys.stderr)
            return 0
        recipe = Recipe.load(run_dir / "recipe.toml")
    else:
        recipe = load_recipe(args)
        run_dir = out_dir(args, "run") if dist.is_writer else Path(args.out or ".")
    if args.nproc > 1:
        return distributed.launch(args, run_dir)
    if resume and not checkpoint.exists(run_dir):
        resume = False
        print(f"{run_dir} has no checkpoint (the run stopped before its first epoch ended); "
              "starting it again from the beginning", file=sys.stderr)
    quiet = args.quiet or not dist.is_writer
    trainer = Trainer(build(recipe), run_dir, quiet=quiet, overwrite=args.resume is not None and not resume)
    if not quiet:
        print(f"run directory: {run_dir}", file=sys.stderr)
    try:
        s = trainer.fit(resume=resume)
    except DivergedError:
        if args.doctor and dist.is_writer:
            print(format_diagnosis(run_dir))
        raise
    if not dist.is_writer:
        return 0
    monitor = s["monitor"]  # the run's metric (val_acc, val_loss, ...): its final, best and test values
    test = "test_" + monitor.split("_", 1)[1]
    best = "none" if s[f"best_{monitor}"] is None else f"{s[f'best_{monitor}']:.4f} (epoch {s['best_epoch']})"
    rows = [["status", s["status"]], ["epochs", s["epochs"]], ["steps", s["steps"]],
            [f"final {monitor}", s.get(f"final_{monitor}")], [f"best {monitor}", best],
            *([[test.replace("_", " "), s[test]]] if test != "test_loss" else []), ["test loss", s["test_loss"]],
            ["train time (s)", round(s["time_s"], 2)], ["samples/s", round(s["samples_per_s"] or 0)],
            ["run directory", str(run_dir)]]
    print(format_table(["result", "value"], rows))
    if args.doctor:
        print(format_diagnosis(run_dir))
    return 0


def cmd_compare(args) -> int:
    from .compare import compare, parse_vary

    if args.seeds < 1:
        raise ConfigError(f"--seeds = {args.seeds} — must be >= 1")
    recipe = load_recipe(args)
    vary = parse_vary(args.vary)
    out = out_dir(args, "compare")
    result = compare(recipe, vary, args.seeds, out, quiet=True,
                     log=(lambda *a: None) if args.quiet else (lambda m: print(m, file=sys.stderr)))
    print(result["table"])
    print(f"\nfigure: {result['figure']}\nruns:   {out}")
    return 0


def cmd_plot_schedule(args) -> int:
    from .plot import plot_schedules, specs_from_cli

    print(plot_schedules(specs_from_cli(args.names, args.set), args.steps, args.out, title=args.title))
    return 0


def cmd_list(args) -> int:
    from .params import describe_spec, unknown_name_error
    from .registry import FAMILIES
    from .torch_names import describe

    if args.family is not None and args.family not in FAMILIES:
        raise unknown_name_error("family", args.family, FAMILIES)
    families = [FAMILIES[args.family]] if args.family else list(FAMILIES.values())
    if args.name:
        entry = families[0].get(args.name, f"{args.family} name")
        print(f"{families[0].family} {entry.name}: {entry.description}")
        for line in describe_spec(entry.params):
            print(f"  {line}")
        torch_rows = describe(families[0].family, entry.name)
        if torch_rows:
            print("  torch's names that are written differently here:")
            for line in torch_rows:
                print(f"    {line}")
        return 0
    for registry in families:
        print(f"{registry.family} — {registry.description}")
        width = max((len(n) for n in registry.names()), default=0)
        for entry in registry:
            print(f"  {entry.name.ljust(width)}  {entry.description}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
