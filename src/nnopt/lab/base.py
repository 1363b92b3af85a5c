"""The lab's framework: an experiment is a claim of the chapter made measurable.

    @experiment("adagrad_dies", claim="Adagrad's learning rate dies, RMSprop's does not",
                precise="...", source="Duchi et al. 2011; Tieleman & Hinton 2012", budget_s=40)
    def adagrad_dies(ctx: Context) -> Finding:
        runs = {name: [ctx.run(recipe(name, seed), f"{name}-s{seed}") for seed in ctx.seeds] ...}
        ...
        return Finding(verdict=holds(a < 0.05 and b > 0.2),
                       criterion="effective lr at the last step: Adagrad < 5% of its start, RMSprop > 20%",
                       measured=f"Adagrad {a:.1%}, RMSprop {b:.1%}", table=Table([...], [...]),
                       figures=[ctx.save_figure(fig, "effective_lr")], numbers={...})

`run_experiment(name, out_dir, seeds=3, fast=False)` runs one into ``out_dir`` and writes
``finding.json`` (claim, criterion, verdict, numbers, table, seeds, time, nnopt version),
``figures/*.png`` and ``recipes/*.toml`` (every recipe it trained: ``nnopt run`` reproduces each).
The criterion is fixed in the code before the run; a claim that does not hold on our workloads
says ``DOES NOT HOLD`` with a sentence on why, never a setup tuned until it agrees.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..errors import ConfigError
from ..params import unknown_name_error
from ..recipe import Recipe
from ..report.table import format_table

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "HOLDS", "DOES NOT HOLD", "INCONCLUSIVE"
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE)


def holds(condition: bool, inconclusive: bool = False) -> str:
    """HOLDS / DOES NOT HOLD, or INCONCLUSIVE when the measurement cannot decide (e.g. the seed
    spread overlaps the margin)."""
    if inconclusive:
        return INCONCLUSIVE
    return HOLDS if condition else DOES_NOT_HOLD


@dataclass
class Spread:
    """Mean and spread of one measurement over seeds."""

    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)

    def fmt(self, spec: str = ".3g") -> str:
        """"m ± s [lo, hi]" with the given format spec."""
        return f"{self.mean:{spec}} ± {self.std:{spec}} [{self.lo:{spec}}, {self.hi:{spec}}]"

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std, "min": self.lo, "max": self.hi, "values": self.values}


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]

    def text(self) -> str:
        return format_table(self.headers, self.rows)


@dataclass
class Finding:
    """What an experiment returns: the verdict, the criterion it applied (words and numbers), the
    measured values in one sentence, a table, figure paths (relative to the experiment's
    directory) and the numbers behind them (JSON-able; Spread values are expanded)."""

    verdict: str
    criterion: str
    measured: str
    table: Table
    figures: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict = {self.verdict!r} — must be one of {VERDICTS}")


@dataclass
class RunResult:
    """A finished training run: its summary, epoch records and logged steps (metrics.jsonl)."""

    run_dir: Path
    summary: dict
    epochs: list[dict]
    steps: list[dict]

    def series(self, key: str, kind: str = "epoch") -> list[float]:
        return [r[key] for r in (self.epochs if kind == "epoch" else self.steps)]

    def trained(self):
        """The run rebuilt from its recipe with its final weights (model.pt) loaded: a train `Setup`."""
        from ..landscape.run import trained_setup

        return trained_setup(self.run_dir)[0]


@dataclass
class Context:
    """What an experiment gets: its seeds, the fast flag, its output directory, and helpers to
    train a recipe (`run`) and save a figure (`save_figure`)."""

    name: str
    out: Path
    seeds: list[int]
    fast: bool

    def pick(self, fast: Any, full: Any) -> Any:
        """`fast` under --fast, else `full` (budgets: sizes, epochs, steps)."""
        return fast if self.fast else full

    def run(self, recipe: Recipe, label: str, callbacks: Sequence = ()) -> RunResult:
        """Train `recipe` into ``out/runs/<label>`` (its recipe also to ``out/recipes/<label>.toml``)
        with the public Trainer; a diverged run returns its summary with status "diverged"."""
        from ..errors import DivergedError
        from ..train import Trainer, build

        run_dir = self.out / "runs" / label
        (self.out / "recipes").mkdir(parents=True, exist_ok=True)
        recipe.save(self.out / "recipes" / f"{label}.toml")
        try:
            summary = Trainer(build(recipe), run_dir, quiet=True, callbacks=callbacks).fit()
        except DivergedError:
            summary = json.loads((run_dir / "summary.json").read_text())
        return read_run(run_dir, summary)

    def save_figure(self, fig, name: str) -> str:
        """Save a matplotlib figure as ``figures/<name>.png``; returns the path relative to out."""
        import matplotlib.pyplot as plt

        path = self.out / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        return str(path.relative_to(self.out))


LAB_TRAIN = {"threads": 1, "device": "cpu", "checkpoint": False}


def lab_recipe(sections: dict | None = None) -> Recipe:
    """A recipe for a lab run: the defaults, one CPU thread and no checkpoints (the lab's budgets
    are measured on 2 shared cores), then `sections` ({"optimizer": {"name": "sgd"}, ...})."""
    merged = {k: dict(v) for k, v in (sections or {}).items()}
    merged["train"] = {**LAB_TRAIN, **merged.get("train", {})}
    return Recipe(merged)


def read_run(run_dir: Path, summary: dict | None = None) -> RunResult:
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    if summary is None:
        summary = json.loads((run_dir / "summary.json").read_text())
    return RunResult(run_dir, summary, [m for m in lines if m["kind"] == "epoch"],
                     [m for m in lines if m["kind"] == "step"])


@dataclass
class Experiment:
    name: str
    fn: Callable[[Context], Finding]
    claim: str  # the chapter's sentence
    precise: str  # the precise, measurable version tested here
    source: str  # the paper(s) the precise version comes from
    budget_s: float  # target wall time on 2 CPU cores, full run
    part: int  # which lab issue/section (1: landscape..adaptive lr, 2: momentum..norms, 3: regularization)


EXPERIMENTS: dict[str, Experiment] = {}
FAST_BUDGET_S = 6.0


def experiment(name: str, *, claim: str, precise: str, source: str, budget_s: float, part: int):
    """Register an experiment function under `name` (see the module docstring)."""

    def decorate(fn: Callable[[Context], Finding]):
        if name in EXPERIMENTS:
            raise ValueError(f"lab: {name!r} is registered twice")
        EXPERIMENTS[name] = Experiment(name, fn, claim, precise, source, budget_s, part)
        return fn

    return decorate


def get(name: str) -> Experiment:
    from . import experiments  # noqa: F401  (registers them)

    if name not in EXPERIMENTS:
        raise unknown_name_error("lab experiment", name, EXPERIMENTS, what="one of")
    return EXPERIMENTS[name]


def all_experiments() -> list[Experiment]:
    from . import experiments  # noqa: F401

    return list(EXPERIMENTS.values())


def run_experiment(name: str, out: str | Path, seeds: int = 3, fast: bool = False) -> dict:
    """Run experiment `name` into `out`; returns (and writes) the finding.json record."""
    from .. import __version__

    exp = get(name)
    if seeds < 3:
        raise ConfigError(f"--seeds = {seeds} — must be >= 3 (a verdict is never decided on fewer)")
    out = Path(out)
    ctx = Context(name, out, list(range(seeds)), fast)
    out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the lab's tensors are small: one thread, as its recipes (LAB_TRAIN)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        finding = exp.fn(ctx)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        torch.set_num_threads(threads)
    record = {"experiment": name, "claim": exp.claim, "precise": exp.precise, "source": exp.source,
              "part": exp.part, "verdict": finding.verdict, "criterion": finding.criterion,
              "measured": finding.measured, "table": asdict(finding.table), "figures": finding.figures,
              "numbers": to_json(finding.numbers), "notes": finding.notes, "seeds": ctx.seeds,
              "fast": fast, "time_s": elapsed, "cpu_s": cpu, "budget_s": FAST_BUDGET_S if fast else exp.budget_s,
              "recipes": sorted(str(p.relative_to(out)) for p in (out / "recipes").glob("*.toml")),
              "nnopt_version": __version__}
    (out / "finding.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def to_json(value: Any) -> Any:
    if isinstance(value, Spread):
        return value.to_json()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    return value


def format_finding(record: dict) -> str:
    """The text the CLI prints: the claim, the table, the verdict line with its criterion."""
    table = Table(**record["table"]).text()
    return (f"{record['experiment']}: {record['claim']}\n{table}\n"
            f"{record['verdict']} — {record['measured']} — criterion: {record['criterion']}"
            f"  ({record['time_s']:.1f} s, seeds {record['seeds']})")
