"""The lab's framework: a claim of the chapter, judged part by part on a workload that can show it.

A claim is the chapter's sentences. Each **part** is judged on its own: a criterion fixed before the
run, a check applied to the measured arm *and* to a **negative control** (the technique absent or
broken: momentum 0, a constant schedule labelled cyclic, dropout 0), and the **preconditions** the
workload must show for the test to mean anything. The claim's headline is derived from its parts
(`headline`). How an experiment uses it::

    @experiment("lr_decay", claim="In practice it is necessary to gradually decrease the learning rate ...",
                source="Bottou et al. 2018 Thm 4.6; Ma et al. 2018", accepts_recipe=True,
                shows={"schedule.name": ["step", "cosine"]}, cost_s=(4, 40))
    def lr_decay(ctx: LabContext) -> Finding:
        for regime, workload in REGIMES.items():                    # a regime map where the literature says so
            runs = {arm: ctx.runs(lambda seed: ctx.recipe(workload, seed, {"schedule.name": arm}),
                                  f"{regime}-{arm}") for arm in ("constant", "cosine")}
            loss = {arm: rs.spread(lambda r: r.summary["final_train_loss"]) for arm, rs in runs.items()}
            floor = Precondition("constant lr stops improving (its noise floor)", met=..., measured="...")
            ctx.part(f"{regime}: decay ends lower than constant", regime=regime,
                     criterion="cosine's final loss below constant's beyond the seed spread (95% interval)",
                     check=lambda arm: exceeds(loss["constant"], arm, what="constant − decay"),
                     on=loss["cosine"], control=("constant labelled as a decay", loss["constant-again"]),
                     preconditions=[floor], why="constant lr converges on data it interpolates (Ma et al.)")
        return ctx.finding(table=Table([...], rows), figures=[ctx.save_figure(fig, "schedules",
                           caption="the noisy-moons panel: cosine ends below constant")], numbers={...})

- ``ctx.part`` applies ``check`` (one function returning a `Check`) to ``on`` and to the control's
  data. An unmet precondition makes the part INCONCLUSIVE with the reason, never DOES NOT HOLD; a
  control that reaches HOLDS too makes it INCONCLUSIVE (the criterion cannot tell the technique from
  its absence); a comparison that fails only for want of power — its estimate points the claimed way
  but the interval reaches past the threshold (`Check.underpowered`) — is INCONCLUSIVE too: absence
  of evidence is not evidence of absence. A DOES NOT HOLD needs ``why=`` (one sentence: why it fails
  there, and where it holds).
  ``derivation=True`` marks a prediction the lab derives (a formula, a ratio; cite the paper it is
  checked against): shown, never counted in the headline.
- Comparisons go through `exceeds` / `matches`: a 95% (TOST: 90%) t-interval of the difference of
  means (Welch's, or paired over seeds), so a gap inside the seed noise cannot pass.
- ``ctx.runs(make_recipe, label)`` is the seed loop (``make_recipe(seed) -> Recipe``, runs labelled
  ``label-s<seed>``); ``ctx.recipe(workload, seed, overrides)`` the one recipe helper: the lab's
  workload, or under ``nnopt lab NAME --on RECIPE.toml`` the user's recipe in its place, then the
  protocol's dotted overrides. `RunResult.model()` / `.setup()` give the trained model back.
- Registration metadata (`experiment`): ``number`` (default: NN of the module ``cNN_*.py``),
  ``shows`` (recipe field → values, or ``"*"`` for any non-default value: the playground views that
  link here, read by ``serve/lab_links.py``), ``accepts_recipe`` (takes ``--on``), ``cost_s`` (fast,
  full) wall seconds measured on 2 cores, shown by ``nnopt lab list``.
- Figures: ``ctx.save_figure(fig, name, caption)``; the caption (one line: what to look at) is shown
  under the figure in the report; titles say the real number of seeds (`plots.spread_note`).

`run_experiment(name, out_dir, seeds=3, fast=False, on=None)` writes ``finding.json`` (claim,
parts with their preconditions, controls and numbers, the derived verdict, seeds, time, nnopt
version), ``figures/*.png`` and ``recipes/*.toml`` (every recipe trained: ``nnopt run`` reproduces
each). Never tune a setup until it agrees: choose the workload by the precondition, fix the
criterion before the run, and record any change made after seeing a result in the finding's notes.
"""
from __future__ import annotations

import json
import math
import re
import statistics
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from ..errors import ConfigError
from ..params import unknown_name_error
from ..recipe import Recipe
from ..report.table import format_table
from ..train import Callback

HOLDS, HOLDS_IN_PART, DOES_NOT_HOLD, INCONCLUSIVE = "HOLDS", "HOLDS IN PART", "DOES NOT HOLD", "INCONCLUSIVE"
HOLDS_WHEN = "HOLDS WHEN"  # the headline of a regime map: "HOLDS WHEN <the regimes where it holds>"
PART_VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE)
VERDICTS = (HOLDS, HOLDS_IN_PART, DOES_NOT_HOLD, INCONCLUSIVE)


def valid_verdict(verdict: str) -> bool:
    return verdict in VERDICTS or verdict.startswith(HOLDS_WHEN + " ")


def holds(condition: bool, inconclusive: bool = False) -> str:
    """HOLDS / DOES NOT HOLD, or INCONCLUSIVE when the measurement cannot decide."""
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


# -- checks: one criterion, applied to the arm and to its negative control ------------------------------
@dataclass
class Check:
    """A criterion's outcome on one set of measurements: ok, and what was measured (one phrase).
    ``underpowered``: not ok, yet the estimate points the claimed way and only its interval reaches
    past the threshold — the data do not contradict the claim, they are too few to show it (the part
    is INCONCLUSIVE, not DOES NOT HOLD)."""

    ok: bool
    measured: str
    underpowered: bool = False


def interval(a: Spread, b: Spread, *, paired: bool = False, level: float = 0.95) -> tuple[float, float, float]:
    """(d, lo, hi): d = mean(a) − mean(b) and its two-sided `level` t-interval — paired: over the
    per-seed differences aᵢ − bᵢ, t with n − 1 degrees of freedom; else Welch's,
    SE = √(s_a²/n_a + s_b²/n_b) with the Welch–Satterthwaite degrees of freedom. With no spread at
    all (deterministic measurements) the interval is the point d."""
    from scipy.stats import t as student

    if paired:
        if len(a.values) != len(b.values):
            raise ValueError(f"paired interval: {len(a.values)} vs {len(b.values)} values")
        diff = Spread([x - y for x, y in zip(a.values, b.values)])
        d, se, df = diff.mean, diff.std / math.sqrt(len(diff.values)), len(diff.values) - 1
    else:
        va, vb = a.std ** 2 / len(a.values), b.std ** 2 / len(b.values)
        d, se = a.mean - b.mean, math.sqrt(va + vb)
        denominator = (va ** 2 / (len(a.values) - 1) if len(a.values) > 1 else 0.0) + \
                      (vb ** 2 / (len(b.values) - 1) if len(b.values) > 1 else 0.0)
        df = (va + vb) ** 2 / denominator if denominator > 0 else math.inf
    if se == 0 or not math.isfinite(se):
        return d, d, d
    half = float(student.ppf(0.5 + level / 2, df)) * se
    return d, d - half, d + half


def exceeds(a: Spread, b: Spread, *, by: float = 0.0, paired: bool = False, what: str = "a − b",
            spec: str = ".3g") -> Check:
    """mean(a) − mean(b) > `by` beyond the seed noise: the lower end of the 95% interval of the
    difference (`interval`) is above `by`."""
    d, lo, hi = interval(a, b, paired=paired)
    return Check(lo > by, f"{what} = {d:{spec}} (95% interval [{lo:{spec}}, {hi:{spec}}]"
                          + (f", needs > {by:{spec}})" if by else ", needs > 0)"), underpowered=lo <= by < d)


def matches(a: Spread, b: Spread, *, tol: float, paired: bool = False, what: str = "a − b",
            spec: str = ".3g") -> Check:
    """|mean(a) − mean(b)| < `tol`, shown rather than assumed (two one-sided tests): the whole 90%
    interval of the difference lies inside (−tol, tol). A noisy measurement cannot pass."""
    d, lo, hi = interval(a, b, paired=paired, level=0.90)
    ok = -tol < lo and hi < tol
    return Check(ok, f"{what} = {d:{spec}} (90% interval [{lo:{spec}}, {hi:{spec}}], needs inside ±{tol:{spec}})",
                 underpowered=not ok and -tol < d < tol)



def all_of(*checks: Check) -> Check:
    """Every one of `checks` (their phrases joined by "; "): ok when all are; underpowered when each
    that fails is underpowered — a plain condition that fails (a mean on the wrong side, a count)
    fails outright."""
    failing = [c for c in checks if not c.ok]
    return Check(not failing, "; ".join(c.measured for c in checks if c.measured),
                 underpowered=bool(failing) and all(c.underpowered for c in failing))

@dataclass
class Precondition:
    """What the workload must show for a part's test to mean anything (the cliff is hit; the
    no-warmup run fails; the baseline overfits). Unmet: the part is INCONCLUSIVE."""

    what: str
    met: bool
    measured: str = ""



def overfits(none: tuple[Spread, Spread, Spread], what: str = "the network", by: float = 0.02) -> Precondition:
    """The precondition of a claim about overfitting, on an arm's (train, test, gap) from `Runs.gaps`:
    without the regularizer every seed's train − test gap exceeds `by`."""
    return Precondition(f"without it {what} overfits (train − test gap > {by:g}, every seed)", none[2].lo > by,
                        f"gap {none[2].fmt('.3f')}")


def narrows_gap(none: tuple[Spread, Spread, Spread], what: str = "regularized") -> Callable[[tuple], Check]:
    """The criterion of "reduces overfitting", as a check on an arm's (train, test, gap): the gap falls
    below `none`'s beyond the seed spread (95% interval of gap(none) − gap(arm) above 0) and the mean
    test accuracy does not fall — a gap that closes only because training accuracy falls does not pass."""
    def check(arm: tuple[Spread, Spread, Spread]) -> Check:
        return all_of(exceeds(none[2], arm[2], what=f"gap(none) − gap({what})"),
                      Check(arm[1].mean >= none[1].mean, f"test acc {none[1].mean:.3f} → {arm[1].mean:.3f}"))
    return check

@dataclass
class Control:
    """The part's criterion applied to a negative control (the technique absent or broken): its
    verdict must not be HOLDS."""

    what: str
    verdict: str
    measured: str


@dataclass
class Part:
    """One sentence of the claim, judged: its criterion, verdict, measured values and why."""

    name: str
    criterion: str
    verdict: str
    measured: str
    why: str = ""  # DOES NOT HOLD: why it fails here and where it holds; INCONCLUSIVE: the reason
    regime: str | None = None
    derivation: bool = False  # the lab's own prediction: reported, not counted in the headline
    preconditions: list[Precondition] = field(default_factory=list)
    control: Control | None = None
    numbers: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """"name: VERDICT — measured (why)" in one line."""
        tag = " [lab's derivation]" if self.derivation else ""
        return f"{self.name}{tag}: {self.verdict} — {self.measured}" + (f" ({self.why})" if self.why else "")


def judge(name: str, *, criterion: str, check: Callable[[Any], Check], on: Any,
          control: tuple[str, Any] | None = None, preconditions: Sequence[Precondition] = (), why: str = "",
          regime: str | None = None, derivation: bool = False, numbers: Mapping | None = None) -> Part:
    """A `Part` from `check` applied to `on` and to the control's data (see the module docstring)."""
    result = check(on)
    verdict, reason = holds(result.ok), why
    ctrl = None
    if control is not None:
        what, data = control
        c = check(data)
        ctrl = Control(what, holds(c.ok), c.measured)
    unmet = [p for p in preconditions if not p.met]
    if unmet:
        verdict = INCONCLUSIVE
        reason = "precondition not met: " + "; ".join(f"{p.what} ({p.measured})" if p.measured else p.what
                                                      for p in unmet)
    elif ctrl is not None and ctrl.verdict == HOLDS:
        verdict, reason = INCONCLUSIVE, f"the negative control ({ctrl.what}) passes the criterion too"
    elif verdict == HOLDS:
        reason = ""
    elif result.underpowered:
        verdict, reason = INCONCLUSIVE, ("underpowered: the estimate points the claimed way, but its interval "
                                         "reaches past the threshold (more seeds or a longer run would decide)")
    elif not why:
        raise ValueError(f"lab part {name!r}: a DOES NOT HOLD needs why= (why it fails here, where it holds)")
    return Part(name, criterion, verdict, result.measured, reason, regime, derivation, list(preconditions), ctrl,
                dict(numbers or {}))


def headline(parts: Sequence[Part]) -> str:
    """The claim's verdict from its parts (derivations left out): HOLDS if all hold; INCONCLUSIVE if
    none can be decided; DOES NOT HOLD if none holds; "HOLDS WHEN <regimes>" when every part that
    does not hold is a regime of a regime map and at least one fails (the others all hold);
    otherwise HOLDS IN PART."""
    judged = [p for p in parts if not p.derivation]
    if not judged:
        raise ValueError("a finding needs at least one part that is not a derivation")
    verdicts = [p.verdict for p in judged]
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v == INCONCLUSIVE for v in verdicts):
        return INCONCLUSIVE
    if HOLDS not in verdicts:
        return DOES_NOT_HOLD
    failing = [p for p in judged if p.verdict != HOLDS]
    if all(p.regime and p.verdict == DOES_NOT_HOLD for p in failing):
        where = list(dict.fromkeys(p.regime for p in judged if p.regime and p.verdict == HOLDS))
        if where:
            return f"{HOLDS_WHEN} " + "; ".join(where)
    return HOLDS_IN_PART


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]

    def text(self) -> str:
        return format_table(self.headers, self.rows)


@dataclass
class Finding:
    """What an experiment returns (`LabContext.finding` builds it from the recorded parts): the
    headline verdict, the criterion and measured values (one line per part), a table, figure
    paths (relative to the experiment's directory) with captions, and the numbers behind them
    (JSON-able; Spread values are expanded)."""

    verdict: str
    criterion: str
    measured: str
    table: Table
    figures: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    parts: list[Part] = field(default_factory=list)
    captions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not valid_verdict(self.verdict):
            raise ValueError(f"verdict = {self.verdict!r} — must be one of {VERDICTS} or '{HOLDS_WHEN} …'")


@dataclass
class RunResult:
    """A finished training run: its summary, epoch records and logged steps (metrics.jsonl)."""

    run_dir: Path
    summary: dict
    epochs: list[dict]
    steps: list[dict]

    def series(self, key: str, kind: str = "epoch") -> list[float]:
        return [r[key] for r in (self.epochs if kind == "epoch" else self.steps)]

    @property
    def diverged(self) -> bool:
        return self.summary.get("status") == "diverged"

    def setup(self):
        """The run rebuilt from its recipe with its final weights (model.pt) loaded: a train `Setup`
        (model in train mode, data as the run saw it)."""
        from ..landscape.run import trained_setup

        return trained_setup(self.run_dir)[0]

    def full_loss(self, split: str = "train") -> tuple[float, float | None]:
        """The final weights over a whole split of the run's data, in eval mode: the mean loss (the
        recipe's loss, unsmoothed) and the accuracy (None unless the task is classification)."""
        setup = self.setup()
        model, data = setup.model.eval(), getattr(setup.data, split)
        total, correct, n = 0.0, 0, len(data)
        with torch.no_grad():
            for i in range(0, n, 1024):
                x, y = data.x[i:i + 1024], data.y[i:i + 1024]
                out = model(x)
                total += float(setup.eval_loss(out, y)) * len(y)
                correct += int((out.argmax(-1) == y).sum()) if setup.task == "classification" else 0
        return total / n, correct / n if setup.task == "classification" else None

    def model(self) -> torch.nn.Module:
        """The trained model (the weights of model.pt, in eval mode)."""
        return self.setup().model.eval()

    def chance(self) -> float:
        """1/K for the run's data set (read from its recipe: a diverged run has no model to rebuild)."""
        from ..data import load

        recipe = Recipe.load(self.run_dir / "recipe.toml")
        return 1.0 / load(recipe.data["name"], **recipe.params("data")).n_classes

    def final_val_acc(self) -> float:
        """The last epoch's validation accuracy; a diverged run (or one with no epoch) counts as chance, 1/K."""
        return self.chance() if self.diverged or not self.epochs else self.epochs[-1]["val_acc"]

    def clean_accuracy(self, split: str = "train") -> float:
        """The run's clean accuracy on `split` as `CleanAccuracy` wrote it; a diverged run (no file):
        chance, 1/K."""
        path = self.run_dir / CLEAN
        return json.loads(path.read_text())[split] if path.is_file() else self.chance()


class Runs(list):
    """One arm's runs, one per seed (what `LabContext.runs` returns)."""

    def spread(self, measure: Callable[[RunResult], float]) -> Spread:
        """Spread of `measure(run)` over the seeds."""
        return Spread([float(measure(r)) for r in self])

    def gaps(self) -> tuple[Spread, Spread, Spread]:
        """(clean train accuracy, clean test accuracy, train − test gap) over the seeds (runs trained
        with a `CleanAccuracy` callback)."""
        train = self.spread(RunResult.clean_accuracy)
        test = self.spread(lambda r: r.clean_accuracy("test"))
        return train, test, Spread([a - b for a, b in zip(train.values, test.values)])


CLEAN = "clean_accuracy.json"


@torch.no_grad()
def accuracy(model: torch.nn.Module, split, batch_size: int = 1024) -> float:
    """Fraction of argmax(model(x)) = y over a split, in eval mode (the model's mode restored)."""
    was = model.training
    model.eval()
    try:
        right = sum(int((model(split.x[i:i + batch_size]).argmax(1) == split.y[i:i + batch_size]).sum())
                    for i in range(0, len(split), batch_size))
    finally:
        model.train(was)
    return right / len(split)


@torch.no_grad()
def probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """softmax(model(x)) in eval mode (the model's mode restored)."""
    was = model.training
    model.eval()
    try:
        return torch.softmax(model(x).float(), dim=-1)
    finally:
        model.train(was)


class CleanAccuracy(Callback):
    """At the end of a fit, the model's accuracy in eval mode (no dropout, no augmentation) on the clean
    training and test splits, written to ``<run_dir>/clean_accuracy.json`` (read by
    `RunResult.clean_accuracy`) — measured on the Trainer's own model, so nothing is rebuilt later."""

    def on_fit_end(self, trainer, summary: dict) -> None:
        data = trainer.setup.data
        acc = {split: accuracy(trainer.setup.model, getattr(data, split)) for split in ("train", "test")}
        (trainer.run_dir / CLEAN).write_text(json.dumps(acc))


class Snapshots(Callback):
    """A copy of the model's state dict at the end of every epoch: ``states[epoch]``."""

    def __init__(self):
        self.states: dict[int, dict] = {}

    def on_epoch_end(self, trainer, epoch: int, record: dict) -> None:
        self.states[epoch] = {k: v.detach().clone() for k, v in trainer.setup.model.state_dict().items()}


@dataclass
class LabContext:
    """What an experiment gets: its seeds, the fast flag, its output directory, the user's recipe
    under ``--on`` (else None), and the helpers of the module docstring."""

    name: str
    out: Path
    seeds: list[int]
    fast: bool
    on: Recipe | None = None
    parts: list[Part] = field(default_factory=list)
    captions: dict[str, str] = field(default_factory=dict)

    def pick(self, fast: Any, full: Any) -> Any:
        """`fast` under --fast, else `full` (budgets: sizes, epochs, steps)."""
        return fast if self.fast else full

    def recipe(self, workload: Mapping[str, Mapping[str, Any]] | None = None, seed: int | None = None,
               overrides: Mapping[str, Any] = ()) -> Recipe:
        """The recipe of one run: `workload` (the lab's sections) through `lab_recipe` — or, under
        ``--on``, the user's recipe in its place (checkpoints off) — then the protocol's dotted
        `overrides` and ``train.seed = seed``."""
        if self.on is None:
            return lab_recipe(workload, seed, overrides)
        return lab_recipe(self.on.raw, seed, {"train.checkpoint": False, **dict(overrides)}, lab_train=False)

    def run(self, recipe: Recipe, label: str, callbacks: Sequence = ()) -> RunResult:
        """Train `recipe` into ``out/runs/<label>`` (its recipe also to ``out/recipes/<label>.toml``)
        with the public Trainer; a diverged run returns its summary with status "diverged"."""
        from ..errors import DivergedError
        from ..train import Trainer, build
        from ..train.rundir import RunDir

        run_dir = self.out / "runs" / label
        (self.out / "recipes").mkdir(parents=True, exist_ok=True)
        recipe.save(self.out / "recipes" / f"{label}.toml")
        try:
            summary = Trainer(build(recipe), run_dir, quiet=True, callbacks=callbacks).fit()
        except DivergedError:
            summary = RunDir(run_dir).summary()
        return read_run(run_dir, summary)

    def runs(self, make_recipe: Callable[[int], Recipe], label: str, callbacks: Callable[[], Sequence] = tuple
             ) -> Runs:
        """The seed loop: ``run(make_recipe(seed), f"{label}-s{seed}")`` for each seed; `callbacks()`
        makes a fresh list of callbacks per run."""
        return Runs(self.run(make_recipe(s), f"{label}-s{s}", callbacks()) for s in self.seeds)

    def part(self, name: str, **kwargs) -> Part:
        """Judge and record one part (`judge`'s arguments); returns it."""
        p = judge(name, **kwargs)
        self.parts.append(p)
        return p

    def save_figure(self, fig, name: str, caption: str) -> str:
        """Save a matplotlib figure as ``figures/<name>.png``; `caption` (required): one line saying
        what to look at (shown under it in the report). Returns the path relative to out."""
        import matplotlib.pyplot as plt

        if not caption.strip():
            plt.close(fig)
            raise ValueError(f"lab figure {name!r}: a caption (one line: what to look at) is required")
        path = self.out / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        rel = str(path.relative_to(self.out))
        self.captions[rel] = caption
        return rel

    def finding(self, *, table: Table, figures: Sequence[str], numbers: Mapping | None = None,
                notes: str = "") -> Finding:
        """The finding from the recorded parts: headline verdict (`headline`), criteria and measured
        values one line per part."""
        return Finding(verdict=headline(self.parts),
                       criterion="; ".join(f"{p.name}: {p.criterion}" for p in self.parts),
                       measured="; ".join(p.line() for p in self.parts), table=table, figures=list(figures),
                       numbers=dict(numbers or {}), notes=notes, parts=list(self.parts), captions=dict(self.captions))


LAB_TRAIN = {"threads": 1, "device": "cpu", "checkpoint": False}


def lab_recipe(sections: Mapping[str, Mapping[str, Any]] | None = None, seed: int | None = None,
               overrides: Mapping[str, Any] = (), lab_train: bool = True) -> Recipe:
    """A recipe for a lab run: the defaults, one CPU thread and no checkpoints (the lab's budgets
    are measured on 2 shared cores; `lab_train=False` keeps the sections' own), then `sections`
    ({"optimizer": {"name": "sgd"}, ...}), ``train.seed = seed`` and the dotted `overrides`. An
    override of ``<section>.name`` naming another component starts that section from the new
    component's defaults (the old one's parameters would not apply)."""
    merged = {k: dict(v) for k, v in (sections or {}).items()}
    if lab_train:
        merged["train"] = {**LAB_TRAIN, **merged.get("train", {})}
    overrides = dict(overrides)
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if key == "name" and merged.get(section, {}).get("name") != value:
            merged[section] = {}
    if seed is not None:
        overrides["train.seed"] = seed
    return Recipe(merged).override(overrides) if overrides else Recipe(merged)


def steps_per_epoch(recipe) -> int:
    """⌈training examples / batch size⌉ of a recipe."""
    from ..data import load

    return math.ceil(len(load(recipe.data["name"], **recipe.params("data")).train) / recipe.train["batch_size"])


def read_run(run_dir: Path, summary: dict | None = None) -> RunResult:
    """A run directory's records (through its one reader, nnopt.train.rundir)."""
    from ..train.rundir import RunDir

    rundir = RunDir(run_dir)
    lines = rundir.metrics()
    if summary is None:
        summary = rundir.summary()
    return RunResult(run_dir, summary, [m for m in lines if m["kind"] == "epoch"],
                     [m for m in lines if m["kind"] == "step"])


@dataclass
class Experiment:
    name: str
    fn: Callable[[LabContext], Finding]
    claim: str  # the chapter's sentences
    precise: str  # the precise, measurable version tested here
    source: str  # the paper(s) the precise version comes from
    number: int | None  # the claim's number in the chapter's order
    accepts_recipe: bool  # runs its protocol on a user's recipe (--on)
    shows: dict[str, Any]  # recipe field → values (or "*": any non-default value) the playground links here
    cost_s: tuple[float, float] | None  # measured wall seconds (--fast, full) on 2 cores


EXPERIMENTS: dict[str, Experiment] = {}
FAST_BUDGET_S = 6.0


def experiment(name: str, *, claim: str, source: str, precise: str = "", number: int | None = None,
               accepts_recipe: bool = False, shows: Mapping[str, Any] | None = None,
               cost_s: tuple[float, float] | None = None):
    """Register an experiment function under `name` (see the module docstring)."""

    def decorate(fn: Callable[[LabContext], Finding]):
        if name in EXPERIMENTS:
            raise ValueError(f"lab: {name!r} is registered twice")
        match = re.search(r"\.c(\d+)_", fn.__module__ + ".")
        n = number if number is not None else int(match.group(1)) if match else None
        EXPERIMENTS[name] = Experiment(name, fn, claim, precise, source, n, accepts_recipe, dict(shows or {}),
                                       cost_s)
        return fn

    return decorate


def get(name: str) -> Experiment:
    from . import experiments  # noqa: F401  (registers them)

    if name not in EXPERIMENTS:
        raise unknown_name_error("lab experiment", name, EXPERIMENTS, what="one of")
    return EXPERIMENTS[name]


def all_experiments() -> list[Experiment]:
    """Every registered experiment, in the chapter's order (unnumbered last)."""
    from . import experiments  # noqa: F401

    return sorted(EXPERIMENTS.values(), key=lambda e: (e.number is None, e.number or 0))


def run_experiment(name: str, out: str | Path, seeds: int = 3, fast: bool = False,
                   on: str | Path | None = None) -> dict:
    """Run experiment `name` into `out` (on the user's recipe file `on`, if given); returns (and
    writes) the finding.json record."""
    from .. import __version__

    exp = get(name)
    if seeds < 3:
        raise ConfigError(f"--seeds = {seeds} — must be >= 3 (a verdict is never decided on fewer)")
    if on is not None and not exp.accepts_recipe:
        takes = ", ".join(e.name for e in all_experiments() if e.accepts_recipe)
        raise ConfigError(f"--on {on}: experiment {name!r} does not train recipes (--on works with: {takes})")
    user = Recipe.load(on) if on is not None else None
    out = Path(out)
    ctx = LabContext(name, out, list(range(seeds)), fast, user)
    out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the lab's tensors are small: one thread, as its recipes (LAB_TRAIN)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        finding = exp.fn(ctx)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        torch.set_num_threads(threads)
    record = {"experiment": name, "number": exp.number, "claim": exp.claim, "precise": exp.precise,
              "source": exp.source, "verdict": finding.verdict, "criterion": finding.criterion,
              "measured": finding.measured, "parts": finding.parts,
              "table": asdict(finding.table), "figures": finding.figures, "captions": finding.captions,
              "numbers": to_json(finding.numbers), "notes": finding.notes, "seeds": ctx.seeds, "fast": fast,
              "on": str(on) if on is not None else None, "time_s": elapsed, "cpu_s": cpu,
              "recipes": sorted(str(p.relative_to(out)) for p in (out / "recipes").glob("*.toml")),
              "nnopt_version": __version__}
    record = to_json(record)
    (out / "finding.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def to_json(value: Any) -> Any:
    if isinstance(value, Spread):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)  # JSON has no inf / nan
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return to_json(value.item())
    return value


def format_finding(record: dict) -> str:
    """The text the CLI prints: the claim, the table, one line per part (verdict, measured, control,
    why), the headline verdict."""
    table = Table(**record["table"]).text()
    parts = record.get("parts") or []
    lines = []
    for p in parts:
        tag = " [lab's derivation]" if p.get("derivation") else ""
        lines.append(f"  {p['verdict']:<13} {p['name']}{tag} — {p['measured']}")
        if p.get("control"):
            c = p["control"]
            lines.append(f"  {'':<13}   control ({c['what']}): {c['verdict']} — {c['measured']}")
        if p.get("why"):
            lines.append(f"  {'':<13}   why: {p['why']}")
    body = "\n".join(lines) if parts else f"{record['measured']} — criterion: {record['criterion']}"
    where = f", on {record['on']}" if record.get("on") else ""
    return (f"{record['experiment']}: {record['claim']}\n{table}\n{body}\n"
            f"{record['verdict']}  ({record['time_s']:.1f} s, seeds {record['seeds']}{where})")
