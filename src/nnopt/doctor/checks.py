"""The doctor's diagnosis of a run directory: root causes first, each from its evidence.

A run's records (``metrics.jsonl``, ``summary.json``, ``recipe.toml``, ``model.pt`` and, with
``train.log_layers``, ``layers.jsonl``) plus what `probe.Probe` measures (the network rebuilt at its
seed, the inputs, a short lr range test) go through the checks in `CHECKS` order. A root cause is
checked before the symptoms it produces: the inputs and the initialization before the learning
rate, the learning rate before dead units, plateaus and under/overfitting. Each check returns a
`Finding` or None; a symptom already explained by an earlier finding (`EXPLAINED`) and any finding
whose ``--set`` lines touch a field an earlier one sets are dropped, so no remedy contradicts another.

    check                       seen as (L₀: the loss at init on the probe batch; η*: the range test's best lr;
                                R: the accuracy the data allow, a 5-NN vote's validation accuracy, 1
                                without a probe; "fits": train accuracy ≥ R − 0.1)
    unnormalized inputs         training inputs with RMS √mean(x²) > 5 (standardized inputs: 1)
    symmetric init              a hidden layer whose units all start with identical weights
    dead ReLUs (at init)        ≥ 50% of a ReLU layer's units output 0 on all the probe batch at init
                                (hidden layers of ≥ 4 units)
    exploding init              at init (not recurrent): the logits' std > 10, or the last affine layer's
                                pre-activation std > 100× the first's, or ‖∇W_first‖/‖∇W_last‖ > 100
    vanishing init              at init (≥ 3 affine layers, not recurrent): the last pre-activation std
                                < 1/100 of the first's, or ‖∇W_first‖/‖∇W_last‖ < 1/100
    batch norm at tiny batches  batch norm over batches ≤ 8, and the final weights' eval-mode loss on
                                training samples is outside [0.8, 1.25]× the logged train-mode loss, or
                                the run does not fit / ended at a loss > L₀/2 (a norm registered with
                                min_batch ≥ 2, i.e. training statistics over the batch: batch, sync_batch)
    exploding gradients         a recurrent model without clipping whose recurrent matrices start with
                                spectral radius ρ > 1.5 (the evidence adds divergence, gradient norms > 10×
                                the median, validation loss jumps > 20%, a run that does not fit)
    lr too high                 the lr > η* (a range test whose best loss is < 0.9·L₀), or a loss above
                                10·L₀, or no progress (train loss ≥ 0.9·L₀) while units died (not under a
                                penalty or weight decay ≥ 1e-3, which kills units too); and the run
                                diverged, or ended with a train loss ≥ 0.9·L₀ or (lr > η*) above 1.2× the
                                range test's lowest loss, or a loss once exceeded 3·L₀, or ≥ 1/3 of its
                                epochs raised the train loss by > 10% and > 0.05·L₀, or it killed ≥ 50%
                                of a ReLU layer's units (alive at init) and does not fit
    schedule decays too early   the logged lr falls below 1% of its peak before half the epochs, and
                                the train loss fell < 10% after that, at train accuracy < R − 0.05
    lr too low                  the train loss fell < 50% of L₀, and either the lr < η*/100 with a range
                                test reaching a loss below the run's final one/1.2 and steps ‖Δθ‖/‖θ‖ < 3e-4
                                when layers.jsonl has them, or the weights' median step ‖Δθ‖/‖θ‖ is in (0, 1e-4)
                                (over the weight matrices that received a gradient; none when none did)
    underfitting                train accuracy < R − 0.15, a shortfall R − train at least the gap train − val
                                (a validation far below training is a generalization problem first), a
                                plateau: the train loss fell < 15% over the last third of the epochs, and
                                a model that cannot fit 95% of 128 random training samples in 300 steps
    dead ReLUs                  ≥ 70% of a ReLU layer's units dead in the final weights, in a run that
                                does not fit (hidden layers of ≥ 4 units)
    overfitting                 the validation loss ends ≥ 20% and ≥ max(0.1, 3× its median epoch-to-epoch
                                change) above its minimum (reached before 75% of the epochs) while the
                                training loss fell ≥ 30% below its value there (at its lowest after), a
                                rise of at least the validation loss's standard error s/√n (final weights);
                                or a validation loss ≥ 3× the training loss with train − val accuracy
                                ≥ 0.1 or ≥ 0.3 between the losses (a validation better than training is
                                never overfitting); early stopping is the remedy when the loss rose
    diverged                    a non-finite loss that no check above explains (never "nothing found")

The thresholds were set on the "dev" half of bench/doctor_exam.py; the last three changes (the step
size in lr too low, the plateau in underfitting, the training loss at its lowest in overfitting) on
dev and the old "test" half together; "test2", made after they were frozen, measured them. Two more
rules were made looking at dev, test and test2 (all seen): underfitting's shortfall against the
train − val gap, and overfitting's rise against the validation loss's standard error; "test3",
made after they were frozen, measured them, and test4 after it. The range test's minimum sought from
its 10th step came after test4 (test5 measured it); after test5 (dev, test, test2–test5 all seen),
lr too high's run that ends above the range test's reach and no lr too low for weights that receive
no gradient; "test6" measured them. After test6 (seen): underfitting needs a model that cannot fit a
small batch; "test7" and "test8" (with the user-data path) measured it.
Regression runs (no accuracy in the records) skip the accuracy conditions; an epoch-level metric
that is missing skips the check that needs it.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..nn.norms import least_batch
from ..train.rundir import RunDir
from .probe import FIT_STEPS, Probe, flat_recipe, informative, probe

BOOK = "Goodfellow, Bengio & Courville 2016"
SECTIONS = {
    "unnormalized inputs": "LeCun et al. 2012 (Efficient BackProp) §4.3, normalizing the inputs",
    "symmetric init": f"{BOOK} §8.4, breaking symmetry",
    "exploding init": f"{BOOK} §8.4, the scale of the initial weights",
    "vanishing init": f"{BOOK} §8.4 and §8.2.5; Glorot & Bengio 2010",
    "dead ReLUs": f"{BOOK} §6.3.1, rectified linear units",
    "exploding gradients": f"{BOOK} §8.2.4 and §10.11.1, clipping gradients",
    "lr too high": f"{BOOK} §8.3.1 and §11.4.1; Smith 2017 (lr range test)",
    "batch norm at tiny batches": f"{BOOK} §8.7.1; Ioffe 2017, Wu & He 2018",
    "schedule decays too early": f"{BOOK} §8.3.1, the learning-rate schedule",
    "lr too low": f"{BOOK} §8.3.1 and §11.4.1; Smith 2017 (lr range test)",
    "underfitting": f"{BOOK} §5.2, capacity, overfitting and underfitting",
    "overfitting": f"{BOOK} §5.2, §7.1, §7.8, §7.12",
    "diverged": f"{BOOK} §8.2.4 and §8.3.1",
}


@dataclass
class Finding:
    """One diagnosis: its name, the numbers that show it, a confidence in [0, 1], the reference, the
    remedy in words and as exact recipe changes (`sets`: dotted field → value; ``--verify`` applies
    them), and `severity` — the evidence's number, larger = worse, that ``--verify`` compares."""

    name: str
    evidence: str
    confidence: float
    remedy: str
    sets: dict[str, Any]
    severity: float
    section: str = ""

    def __post_init__(self):
        self.section = self.section or SECTIONS[self.name]

    def set_lines(self) -> list[str]:
        """The remedy as `nnopt run --set` arguments."""
        return [f"--set {k}={toml_value(v)}" for k, v in self.sets.items()]

    def to_dict(self) -> dict:
        return {"name": self.name, "evidence": self.evidence, "confidence": round(self.confidence, 2),
                "section": self.section, "remedy": self.remedy, "set": self.set_lines(),
                "severity": self.severity if math.isfinite(self.severity) else str(self.severity)}


def toml_value(v: Any) -> str:
    """`v` as a TOML value for --set (strings quoted, lists bracketed)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        return f"{v:.3g}" if "e" not in f"{v:.3g}" else f"{v:.1e}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


@dataclass
class Run:
    """A run directory's records: its recipe as written (no validation), summary, epoch and step
    lines of metrics.jsonl, and layers.jsonl's step and units lines."""

    path: Path
    recipe: dict
    summary: dict
    steps: list[dict]
    epochs: list[dict]
    layers: list[dict] = field(default_factory=list)
    units: list[dict] = field(default_factory=list)
    _probe: tuple | None = None

    @property
    def probe(self) -> Probe | None:
        if self._probe is None:
            self._probe = probe(self.recipe, self.path)
        return self._probe[0]

    @property
    def probe_note(self) -> str:
        return self._probe[1] if self._probe else ""

    @property
    def flat(self) -> dict:
        return flat_recipe(self.recipe)

    def get(self, key: str, default: Any = None) -> Any:
        v = self.flat.get(key, default)
        return default if v == "none" else v

    @property
    def classification(self) -> bool:
        return bool(self.epochs) and "train_acc" in self.epochs[-1] and "val_acc" in self.epochs[-1]

    @property
    def diverged(self) -> bool:
        return self.summary.get("status") == "diverged" or any(
            not math.isfinite(e.get("train_loss", 0.0)) for e in self.epochs) or any(
            not math.isfinite(s.get("loss", 0.0)) for s in self.steps)


def read(run_dir: str | Path) -> Run:
    """The records of `run_dir` (through `train.rundir.RunDir`, the recipe as its raw TOML dict);
    ConfigError when it does not exist, holds no metrics.jsonl or a record is damaged."""
    rd = RunDir(run_dir).check()
    lines, layer_lines = rd.metrics(), rd.layers()  # metrics(): every value a number or null, else ConfigError
    for rec in lines:  # and the losses the checks divide by are never null
        for k in ("loss", "train_loss", "val_loss"):
            if k in rec and rec[k] is None:
                raise ConfigError(f"{rd.file('metrics.jsonl')} — {k} = None at step {rec.get('step')} "
                                  "must be a number")
    return Run(rd.path, rd.recipe() or {}, rd.summary(), [m for m in lines if m["kind"] == "step"],
               [m for m in lines if m["kind"] == "epoch"], [m for m in layer_lines if m["kind"] == "step"],
               [m for m in layer_lines if m["kind"] == "units"])


def confidence(ratio: float, strong: float) -> float:
    """0.6 at the threshold (ratio 1) rising log-linearly to 0.95 at `strong`× past it."""
    if not math.isfinite(ratio):
        return 0.95
    t = math.log(max(ratio, 1.0)) / math.log(strong)
    return round(min(0.95, 0.6 + 0.35 * t), 2)


def g(x: float) -> str:
    return f"{x:.3g}"


def train_losses(run: Run) -> list[float]:
    return [e["train_loss"] for e in run.epochs if "train_loss" in e]


# accuracy is judged against what the data allow, not against 1: a k-NN vote's validation accuracy
FIT_MARGIN, CLOSE_MARGIN, UNDERFIT_MARGIN = 0.1, 0.05, 0.15
DEAD_SHARE, DEAD_FINAL_SHARE = 0.5, 0.7  # of a ReLU layer's units: at init / in the final weights
SMALL_STEP = 3e-4  # ‖Δθ‖/‖θ‖ per step below which the lr holds a run back (a working lr: ~1e-3)
PLATEAU = 0.15  # a run whose train loss still fell ≥ 15% over its last third of epochs is still learning
FITS_BATCH = 0.95  # a model that fits this share of a small batch (`Probe.batch_fit`) is not too small


def reference(run: Run) -> float:
    """The accuracy the data allow (`Probe.reference_accuracy`: a 5-NN vote on the validation split),
    or 1 when there is no probe (the absolute thresholds: fits = train accuracy ≥ 0.9)."""
    ref = run.probe.reference_accuracy if run.probe is not None else None
    return 1.0 if ref is None else ref


def shortfall(run: Run) -> float | None:
    """How far the final train accuracy falls short of `reference` (None without accuracy)."""
    acc = run.epochs[-1].get("train_acc") if run.epochs else None
    return reference(run) - acc if isinstance(acc, (int, float)) else None


def fits(run: Run, margin: float = FIT_MARGIN) -> bool:
    """Whether the run fit its training data to within `margin` of the accuracy the data allow."""
    short = shortfall(run)
    return short is not None and short <= margin


def short_text(run: Run) -> str:
    """'train accuracy A (R reached by a 5-NN vote on the validation split)'."""
    ref = run.probe.reference_accuracy if run.probe is not None else None
    return f"train accuracy {run.epochs[-1]['train_acc']:.3f}" + (
        f" (a 5-nearest-neighbour vote reaches {ref:.3f} on the validation split)" if ref is not None else "")


# ---------------------------------------------------------------- root causes: inputs and init
def unnormalized_inputs(run: Run) -> Finding | None:
    p = run.probe
    if p is None or p.input_rms <= 5:
        return None
    x = p.data.train.x.double().flatten(1)
    mean, std = x.mean(0), x.std(0)
    return Finding("unnormalized inputs", f"the training inputs have RMS {g(p.input_rms)} (per-feature means "
                   f"{g(float(mean.min()))} … {g(float(mean.max()))}, stds {g(float(std.min()))} … {g(float(std.max()))});"
                   " standardized inputs have RMS 1",
                   confidence(p.input_rms / 5, 20),
                   "standardize the inputs on the training split (zero mean, unit variance per feature)",
                   {"preprocess.name": "standardize"}, p.input_rms)


def init_remedy(run: Run) -> dict:
    """The variance-preserving init for the run's activation: He for ReLU-like, Xavier otherwise."""
    act = run.get("model.activation", "relu")
    return {"init.name": "he_normal" if act in ("relu", "leaky_relu", "elu", "gelu") else "xavier_normal",
            "init.bias": 0.0}


def symmetric_init(run: Run) -> Finding | None:
    p = run.probe
    if p is None or not p.init["symmetric"]:
        return None
    layers = ", ".join(f"layer {n} ({k} units)" for n, k in p.init["symmetric"])
    return Finding("symmetric init", f"every unit of {layers} starts with the same weights "
                   f"(init.name = {run.get('init.name')!r}), so they get the same gradient and stay identical",
                   0.95, "break the symmetry with a random, variance-preserving draw", init_remedy(run),
                   float(len(p.init["symmetric"])))


def gradient_ratio(p: Probe) -> float | None:
    grads = p.init["grads"]
    if len(grads) < 3 or grads[-1][1] == 0:
        return None
    return grads[0][1] / grads[-1][1]


def exploding_init(run: Run) -> Finding | None:
    p = run.probe
    if p is None or p.recurrent or not p.init["pre_std"]:
        return None
    pre, logit = p.init["pre_std"], p.init["logit_std"]
    grow = pre[-1] / pre[0] if pre[0] > 0 else math.inf
    ratio = gradient_ratio(p)
    seen = []
    if logit > 10:
        seen.append(f"the initial logits have std {g(logit)} (a variance-preserving init: about 1)")
    if grow > 100:
        seen.append(f"the pre-activation std grows {g(grow)}× from the first to the last layer")
    if ratio is not None and ratio > 100:
        seen.append(f"the first layer's initial gradient is {g(ratio)}× the last layer's")
    if not seen:
        return None
    severity = max(logit / 10, grow / 100, (ratio or 0) / 100)
    return Finding("exploding init", "; ".join(seen) + f" — the initial loss is {g(p.init['loss'])}"
                   + (f" (ln K = {g(math.log(p.n_classes))})" if p.n_classes else ""),
                   confidence(severity, 100), "draw the initial weights at a variance-preserving scale",
                   init_remedy(run), logit)


def vanishing_init(run: Run) -> Finding | None:
    p = run.probe
    if p is None or p.recurrent or len(p.init["pre_std"]) < 3:
        return None
    pre = p.init["pre_std"]
    shrink = pre[-1] / pre[0] if pre[0] > 0 else 0.0
    ratio = gradient_ratio(p)
    seen = []
    if shrink < 1e-2:
        seen.append(f"the pre-activation std shrinks to {shrink:.1e} of the first layer's by the last")
    if ratio is not None and ratio < 1e-2:
        seen.append(f"the first layer's initial gradient is {ratio:.1e}× the last layer's")
    if not seen:
        return None
    severity = 1 / max(min(shrink, ratio if ratio is not None else 1.0), 1e-300)
    return Finding("vanishing init", "; ".join(seen) + f" through {len(pre)} layers (init.name = "
                   f"{run.get('init.name')!r}, activation {run.get('model.activation', 'relu')!r})",
                   confidence(severity / 100, 1e4), "draw the initial weights at a variance-preserving scale",
                   init_remedy(run), severity)


def dead_share(dead: dict) -> tuple[str, float]:
    name = max(dead, key=dead.get) if dead else ""
    return name, dead.get(name, 0.0)


def dead_at_init(run: Run) -> Finding | None:
    p = run.probe
    if p is None:
        return None
    name, share = dead_share(p.init["dead"])
    if share < DEAD_SHARE or p.init["min_width"] < 4:
        return None
    bias = run.get("init.bias")
    sets = {"init.bias": 0.0} if isinstance(bias, (int, float)) and bias < 0 else {"model.activation": "leaky_relu"}
    return Finding("dead ReLUs", f"already at init {share:.0%} of ReLU layer {name}'s units output 0 on every "
                   f"probe sample" + (f" (init.bias = {bias:g})" if "init.bias" in sets else ""),
                   confidence(share / 0.5, 2), "start the units where they pass gradient" if "init.bias" in sets
                   else "use an activation that passes gradient below 0", sets, share)


# ---------------------------------------------------------------- the learning rate and its schedule
def lr_of(run: Run) -> float | None:
    lr = run.get("optimizer.lr")
    return float(lr) if isinstance(lr, (int, float)) and lr > 0 else None


def exploding_gradients(run: Run) -> Finding | None:
    p = run.probe
    if p is None or not p.recurrent or run.get("clip.name", "none") != "none":
        return None
    rho = p.spectral_radius
    if rho <= 1.5:
        return None
    norms = [s["grad_norm"] for s in run.steps if isinstance(s.get("grad_norm"), (int, float))]
    finite = [n for n in norms if math.isfinite(n)]
    med = statistics.median(finite) if finite else 1.0
    spike = max(norms) / med if norms and med > 0 else 0.0
    val = [e.get("val_loss", math.nan) for e in run.epochs]
    jumps = sum(1 for a, b in zip(val, val[1:]) if b > 1.2 * a)
    short = shortfall(run)
    seen = []
    if run.diverged:
        seen.append("the loss became non-finite")
    if spike > 10:
        seen.append(f"the gradient norm peaked at {g(max(norms))}, {g(spike)}× its median {g(med)}")
    if jumps:
        seen.append(f"the validation loss jumped by > 20% in {jumps} of {len(val) - 1} epochs")
    if short is not None and short > FIT_MARGIN:
        seen.append(f"training reached only {short_text(run)}")
    # the radius is the root cause, measured at init as the init checks measure theirs; the symptoms
    # in the records (when there are any) are further evidence
    return Finding("exploding gradients", f"the recurrent weights start with spectral radius {g(rho)} (> 1: "
                   f"gradients through time can grow as ρ^T) and there is no clipping"
                   + ("; " + "; ".join(seen) if seen else ""),
                   confidence(rho / 1.5 * (1 + len(seen)) / 2, 4),
                   "start the recurrent matrices orthogonal (ρ = 1: gradients through time neither grow nor "
                   "shrink at init) and clip the global gradient norm at about its median",
                   {"init.name": "orthogonal", "init.gain": 1.0, "clip.name": "global_norm",
                    "clip.max_norm": float(f"{max(med, 0.1):.2g}")}, rho)


def range_test(p: Probe | None) -> dict | None:
    """The probe's range test when it is informative: some lr brought the loss below 0.9·L₀."""
    if p is None:
        return None
    return p.range_test if informative(p.range_test, p.init["loss"]) else None


def lr_too_high(run: Run) -> Finding | None:
    lr, p = lr_of(run), run.probe
    if lr is None or p is None or not run.epochs and not run.diverged:
        return None
    rt, l0 = range_test(p), p.init["loss"]
    losses = train_losses(run)
    jump = max((x for x in [s["loss"] for s in run.steps] + losses[:1] if math.isfinite(x)), default=0.0)
    stuck = bool(losses) and math.isfinite(losses[-1]) and losses[-1] >= 0.9 * l0
    # all its epochs above the range test's best lr left the run above what the test's 150 steps reached
    # (the mirror of lr too low's "a range test reaching 1/1.2 of the run's final loss")
    held = (rt is not None and lr > rt["best_lr"] and bool(losses) and math.isfinite(losses[-1])
            and losses[-1] > 1.2 * rt["min_loss"] and not stuck)
    final = p.final
    name, share = dead_share(final["dead"]) if final is not None else ("", 0.0)
    # units alive at init that died, in a run that did not fit (a run that fits lost only spare units)
    killed = share >= DEAD_SHARE and dead_share(p.init["dead"])[1] < DEAD_SHARE and not fits(run)
    # the lr is past the range test's best; or (an uninformative test) the loss exploded 10-fold at
    # once, or the run made no progress while its units died — unless a penalty of ≥ 1e-3 crushed the
    # weights, which kills units too (added after the exam's test half: see docs/doctor.md), or the
    # range test puts this lr below its suggestion (a tenth of its best): an lr that small does not
    # kill units, something else did (added after test3's fashion-w1: see docs/doctor.md). The raw
    # test counts here even when too flat to name a best lr: lrs up to its range did not blow the loss up
    raw = rt or p.range_test
    below_suggestion = raw is not None and lr < raw["suggested"]
    if not (rt is not None and lr > rt["best_lr"] or jump > 10 * l0 or
            killed and stuck and not weaker_penalty(run) and not below_suggestion):
        return None
    rt = rt or p.range_test
    seen = []
    if run.diverged:
        at = run.summary.get("diverged_at_step")
        seen.append("the loss became non-finite" + (f" at step {at}" if at is not None else ""))
    if stuck:
        seen.append(f"the train loss ended at {g(losses[-1])}, no lower than at init ({g(l0)})")
    if held:
        seen.append(f"the train loss ended at {g(losses[-1])}, {g(losses[-1] / rt['min_loss'])}× the "
                    f"{g(rt['min_loss'])} that {len(rt['lrs'])} steps of a range test reached")
    if jump > 3 * l0:
        seen.append(f"the loss jumped to {g(jump)} ({g(jump / l0)}× the initial {g(l0)})")
    # epoch-mean rises of > 10% and > 0.05·L₀ (near a zero loss, a 10% rise is noise, not an oscillation)
    rises = [b / a - 1 for a, b in zip(losses, losses[1:])
             if math.isfinite(a) and math.isfinite(b) and b > 1.1 * a and b - a > 0.05 * l0]
    if len(losses) >= 4 and len(rises) >= (len(losses) - 1) / 3:
        seen.append(f"the train loss rose in {len(rises)} of {len(losses) - 1} epochs")
    if killed:
        seen.append(f"{share:.0%} of ReLU layer {name}'s units died during training")
    if not seen:
        return None
    suggested = rt["suggested"] if rt["suggested"] < lr else lr / 10
    severity = losses[-1] / l0 if losses and math.isfinite(losses[-1]) and not run.diverged else math.inf
    return Finding("lr too high", "; ".join(seen) + f". A range test from the same init finds the loss "
                   f"lowest at lr ≈ {g(rt['best_lr'])}; this run's lr is {g(lr)} ({g(lr / rt['best_lr'])}× that)",
                   confidence(max(lr / rt["best_lr"], jump / (10 * l0)), 30),
                   f"lower the lr to {g(suggested)}" + (" (a tenth of the range test's best)"
                                                         if suggested == rt["suggested"] else " (a tenth of it)"),
                   {"optimizer.lr": float(f"{suggested:.2g}")}, severity)


def bn_tiny_batches(run: Run) -> Finding | None:
    p = run.probe
    batch = run.get("train.batch_size", 32)
    if p is None or least_batch(run.get("model.norm")) < 2 or batch > 8 or not run.epochs:
        return None  # a norm whose training statistics are the batch's (its registration's min_batch)
    final, logged = p.final, run.epochs[-1].get("train_loss")
    if final is None or not isinstance(logged, (int, float)) or logged <= 0:
        return None
    ratio = final["eval_loss"] / logged
    short = shortfall(run)
    fit = (short is not None and short > FIT_MARGIN) or logged > 0.5 * p.init["loss"]
    if 0.8 <= ratio <= 1.25 and not fit:
        return None
    seen = [f"the final weights' loss on training samples is {g(final['eval_loss'])} in eval mode (running "
            f"statistics) vs {g(logged)} logged in train mode (batch statistics), {g(ratio)}×"]
    if fit:
        seen.append(f"training reached only {short_text(run) if short is not None else 'loss ' + g(logged)}")
    return Finding("batch norm at tiny batches", f"batch norm over batches of {batch}: " + "; ".join(seen),
                   confidence(max(ratio, 1 / ratio, 1.25) / 1.25, 8),
                   "use batches of 32 so that batch statistics estimate the population ones (or a per-sample "
                   "norm: model.norm = \"layer\")", {"train.batch_size": 32}, max(ratio, 1 / ratio))


def early_decay(run: Run) -> Finding | None:
    e = run.epochs
    lrs = [r.get("lr") for r in e]
    if len(e) < 4 or not all(isinstance(x, (int, float)) for x in lrs) or run.get("schedule.name") in (None, "constant"):
        return None
    peak = max(lrs)
    low = next((i for i, x in enumerate(lrs) if x < 0.01 * peak), None)
    if low is None or low + 1 > 0.5 * len(e):
        return None
    losses = train_losses(run)
    fell = 1 - losses[-1] / losses[low] if losses[low] > 0 else 0.0
    acc = e[-1].get("train_acc")
    if fell >= 0.1 or fits(run, CLOSE_MARGIN):
        return None
    return Finding("schedule decays too early", f"the lr fell from {g(peak)} to {g(lrs[low])} (< 1%) by epoch "
                   f"{e[low]['epoch']} of {len(e)}; the train loss then fell only {fell:.0%} (to {g(losses[-1])})"
                   + (f", train accuracy {acc:.3f}" if acc is not None else ""),
                   confidence((len(e) / 2) / (low + 1), 5),
                   "decay over the whole run instead (cosine to the last step)", {"schedule.name": "cosine"},
                   losses[-1])


def update_ratio(run: Run) -> float | None:
    """The median of ‖Δθ‖/‖θ‖ (rule of thumb: 1e-3) over layers.jsonl's log points and the weight
    matrices that received a gradient there (a matrix behind dead units gets none, whatever the lr);
    0.0 when none ever did (a dead network), None without per-layer records."""
    logged = [st for line in run.layers for n, st in line["layers"].items()
              if n.endswith("weight") and st.get("param", 0) > 0]
    r = [st["update"] / st["param"] for st in logged if st.get("grad", 1.0) > 0]
    return statistics.median(r) if r else 0.0 if logged else None


def lr_too_low(run: Run) -> Finding | None:
    lr, p = lr_of(run), run.probe
    losses = train_losses(run)
    if lr is None or p is None or not losses or run.diverged:
        return None
    l0 = p.init["loss"]
    progress = 1 - losses[-1] / l0 if l0 > 0 else 1.0
    if progress >= 0.5:
        return None
    rt, ratio = range_test(p), update_ratio(run)
    if ratio == 0.0:  # no weight matrix received a gradient (its units are dead): no lr moves it
        return None
    # the range test's verdict counts only when the steps are small too: steps that already move the
    # weights by ≳ 3e-4 of their norm (a working lr: ~1e-3, the weights:updates rule of thumb of
    # Karpathy's CS231n notes) are not held back by the lr — a slow run (Lion at 1e-4) or a model too
    # small to fit (one unit) is
    by_test = (rt is not None and lr < rt["suggested"] / 10 and losses[-1] > 1.2 * rt["min_loss"]
               and (ratio is None or ratio < SMALL_STEP))
    by_steps = ratio is not None and 0 < ratio < 1e-4  # the steps barely move the weights
    if not (by_test or by_steps):
        return None
    rt = rt or p.range_test
    suggested = rt["suggested"] if rt["suggested"] > lr else 10 * lr
    seen = f"the train loss fell only {progress:.1%} in {len(losses)} epochs ({g(l0)} at init → {g(losses[-1])})"
    if by_steps:
        seen += f"; each step moves the weights by {ratio:.1e} of their norm (rule of thumb: 1e-3)"
    if by_test:
        seen += (f"; a {len(rt['lrs'])}-step range test from the same init reaches {g(rt['min_loss'])} at lr ≈ "
                 f"{g(rt['best_lr'])}, {g(rt['best_lr'] / lr)}× this run's lr {g(lr)}")
    return Finding("lr too low", seen, confidence(max(suggested / (10 * lr), 1e-4 / (ratio or 1e-4)), 100),
                   f"raise the lr to the range test's suggestion ({g(suggested)}, a tenth of its best)"
                   if suggested == rt["suggested"] else "raise the lr tenfold",
                   {"optimizer.lr": float(f"{suggested:.2g}")}, 1 - progress)


# ---------------------------------------------------------------- symptoms
def dead_relus(run: Run) -> Finding | None:
    p = run.probe
    final = p.final if p is not None else None
    dead = final["dead"] if final is not None else (run.units[-1]["dead"] if run.units else {})
    name, share = dead_share(dead)
    if share < DEAD_FINAL_SHARE or (p is not None and p.init["min_width"] < 4) or fits(run):
        return None
    return Finding("dead ReLUs", f"{share:.0%} of ReLU layer {name}'s units output 0 on every probe sample in the "
                   "final weights", confidence(share / 0.5, 2), "use an activation that passes gradient below 0",
                   {"model.activation": "leaky_relu"}, share)


def wider(run: Run) -> dict:
    """A 4× larger model of the run's kind, or more epochs when it has no width field."""
    widths, hidden = run.get("model.widths"), run.get("model.hidden")
    if isinstance(widths, list) and widths:
        return {"model.widths": [max(4 * w, 32) for w in widths]}
    if isinstance(hidden, int):
        return {"model.hidden": max(4 * hidden, 32)}
    return {"train.epochs": 3 * int(run.get("train.epochs", 10))}


def weaker_penalty(run: Run) -> tuple[dict, str] | None:
    """A penalty or weight decay of ≥ 1e-3 divided by 100 ({field: value}, words); None without one."""
    coef, wd = run.get("penalty.coef"), run.get("optimizer.weight_decay", 0.0)
    if run.get("penalty.name", "none") != "none" and isinstance(coef, (int, float)) and coef >= 1e-3:
        return {"penalty.coef": float(f"{coef / 100:.2g}")}, f"weaken the penalty (penalty.coef = {coef:g})"
    if isinstance(wd, (int, float)) and wd >= 1e-3:
        return {"optimizer.weight_decay": float(f"{wd / 100:.2g}")}, f"weaken the weight decay ({wd:g})"
    return None


def underfitting(run: Run) -> Finding | None:
    e = run.epochs
    if len(e) < 3 or not run.classification or run.diverged:
        return None
    tr, va, short = e[-1]["train_acc"], e[-1]["val_acc"], shortfall(run)
    # underfitting is judged on the training fit itself (Goodfellow et al. §5.2: a model that cannot
    # make its training error small): the avoidable bias R − train against the variance train − val,
    # the larger of the two is the one to fix first (Ng, Machine Learning Yearning ch. 20–23). A
    # validation below training does not hide a model that cannot fit (an LSTM of 2 units at 0.47 / 0.40
    # where a 5-NN reaches 0.97); a gap larger than the shortfall is a generalization problem
    if short <= UNDERFIT_MARGIN or tr - va > short:  # validation better than training is no gap
        return None
    # underfitting is a model that cannot fit: its training loss has plateaued (§5.2). A loss still
    # falling ≥ 15% over the last third of the epochs is a slow run that has not converged yet (§8.1.3)
    losses = train_losses(run)
    k = max(1, len(losses) // 3)
    if len(losses) > k and losses[-1 - k] > 0 and 1 - losses[-1] / losses[-1 - k] >= PLATEAU:
        return None
    # and it cannot fit even a small batch ("overfit a single batch", Karpathy 2019): a model that fits
    # 128 random training samples has the capacity, and its shortfall is a slow run (Lion at 1e-4 on
    # digits, 64 units: 100% of the batch, 0.79 of the training set after 12 epochs), not a small model
    fit = run.probe.batch_fit if run.probe is not None else None
    if fit is not None and fit["accuracy"] >= FITS_BATCH:
        return None
    batch = (f"; from its initial weights it fits only {fit['accuracy']:.0%} of {fit['n']} random training "
             f"samples in {FIT_STEPS} steps" if fit is not None else "")
    sets, why = weaker_penalty(run) or (wider(run), "a larger model")
    return Finding("underfitting", f"after {len(e)} epochs the model fits its own training data only to "
                   f"{short_text(run)}, {short:.3f} short; validation {va:.3f}, as close as a model that cannot "
                   f"fit{batch}",
                   confidence(short / UNDERFIT_MARGIN, 5), why, sets, short)


def slow_run(run: Run) -> str | None:
    """A note, not a finding, for a run the checks leave alone that has not fit its training data:
    train accuracy < R − 0.15 with a model that fits a small batch (`Probe.batch_fit`) — a slow run,
    which more epochs would take further. None otherwise."""
    e, p = run.epochs, run.probe
    if p is None or not e or not run.classification or run.diverged or shortfall(run) <= UNDERFIT_MARGIN:
        return None  # (the batch fit, 300 steps, only for a run that falls short)
    fit = p.batch_fit
    if fit is None or fit["accuracy"] < FITS_BATCH:
        return None
    return (f"note: no pathology found, but the run has not fit its training data yet: {short_text(run)}, "
            f"while its model fits {fit['accuracy']:.0%} of {fit['n']} random training samples in {FIT_STEPS} "
            f"steps: a slow run — more epochs (train.epochs = {len(e)}) would take it further")


def overfitting(run: Run) -> Finding | None:
    e = run.epochs
    if len(e) < 4 or run.diverged:
        return None
    val = [r.get("val_loss") for r in e]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in val):
        return None
    losses = train_losses(run)
    m = min(range(len(val)), key=val.__getitem__)
    rise = val[-1] / val[m] - 1 if val[m] > 0 else 0.0
    noise = statistics.median(abs(b - a) for a, b in zip(val, val[1:]))  # the epoch-to-epoch jitter
    # the training loss fell ≥ 30% below its value at the validation minimum at some point after it
    # (its lowest, not its last: a noisy run that memorized and then wandered back still opened the
    # gap between training and validation that defines overfitting, §5.2 and §7.8)
    low = min(losses[m:])
    rose = (rise >= 0.2 and val[-1] - val[m] >= max(0.1, 3 * noise) and m + 1 <= 0.75 * len(e)
            and low <= 0.7 * losses[m])
    # alone, the rise is evidence only beyond the validation loss's standard error s/√n at the final
    # weights: a mean over few samples moves by chance when one confident mistake grows (27 wine
    # samples: one sample's loss 0.06 → 5 nats raises the mean 0.13 < its standard error 0.19, at an
    # unchanged accuracy), and a change within one standard error is no evidence (a Wald statistic
    # below 1, Wasserman 2004 §10.1). A rise within it still picks the remedy (early stopping) when
    # the memorization rule below finds the overfitting
    se = run.probe.final.get("val_loss_se") if run.probe is not None and run.probe.final is not None else None
    rising = rose and (se is None or val[-1] - val[m] >= se)
    # memorized: the validation loss ≥ 3× the training loss, with an accuracy gap ≥ 0.1 or a loss gap ≥ 0.3
    # (an accuracy gap at a comparable loss is a noisy, high-lr fit, not memorization)
    memorized = val[-1] >= 3 * losses[-1]
    # rounded: accuracies are ratios of counts, and 1.0 − 0.9 is 0.09999999999999998 in floating point
    gap = round(e[-1]["train_acc"] - e[-1]["val_acc"], 9) if run.classification and memorized else 0.0
    loss_gap = val[-1] - losses[-1] >= 0.3 and memorized
    if not (rising or gap >= 0.1 or loss_gap):
        return None
    seen = [f"the validation loss rose {rise:.0%} from its minimum {g(val[m])} at epoch {e[m]['epoch']} to "
            f"{g(val[-1])} while the training loss fell {1 - low / losses[m]:.0%} (at its lowest)"
            + (f"; the rise is {(val[-1] - val[m]) / se:.1f}× the validation loss's standard error {g(se)}" if se else "")
            ] if rose else []
    if gap >= 0.1:
        seen.append(f"train − val accuracy gap {gap:.3f} ({e[-1]['train_acc']:.3f} vs {e[-1]['val_acc']:.3f})")
    if loss_gap:
        times = f"{g(val[-1] / losses[-1])}×" if losses[-1] > 0 else "far above"  # a training loss of exactly 0
        seen.append(f"the validation loss {g(val[-1])} is {times} the training loss {g(losses[-1])}")
    patience = run.get("regularization.early_stopping.patience")
    coef = run.get("penalty.coef")
    if rose and patience is None:
        sets = {"regularization.early_stopping.patience": max(3, len(e) // 20),
                "regularization.early_stopping.restore_best_weights": True}
        why = "stop at the validation minimum (early stopping, keeping the best weights)"
    elif run.get("regularization.dropout", 0.0) == 0.0 and run.get("model.name") in ("mlp", "cnn"):
        sets, why = {"regularization.dropout": 0.3}, "dropout on the hidden layers"
    elif run.get("penalty.name", "none") == "none":
        sets, why = {"penalty.name": "l2", "penalty.coef": 1e-3}, "an L2 penalty on the weights"
    elif isinstance(coef, (int, float)):
        sets, why = {"penalty.coef": float(f"{coef * 10:.2g}")}, "a stronger penalty"
    else:
        sets, why = {"regularization.dropout": 0.5}, "stronger dropout"
    severity = max(rise, gap, val[-1] - losses[-1])
    return Finding("overfitting", "; ".join(seen), confidence(max(rise / 0.2, gap / 0.1, (val[-1] - losses[-1]) / 0.3), 5),
                   why, sets, severity)


Check = Callable[[Run], "Finding | None"]
CHECKS: tuple[Check, ...] = (unnormalized_inputs, symmetric_init, dead_at_init, exploding_init, vanishing_init,
                             bn_tiny_batches, exploding_gradients, lr_too_high, early_decay, lr_too_low,
                             underfitting, dead_relus, overfitting)
ROOTS = {"unnormalized inputs", "symmetric init", "exploding init", "vanishing init", "exploding gradients",
         "lr too high", "batch norm at tiny batches", "schedule decays too early", "lr too low"}
RECORDS_ONLY = {"schedule decays too early", "underfitting", "dead ReLUs", "overfitting"}  # need no probe
EXPLAINED = {"dead ReLUs", "underfitting"}  # symptoms an earlier root cause already accounts for


def findings_of(run: Run) -> list[Finding]:
    """The run's findings in CHECKS order, symptoms explained by a root cause and remedies that touch
    a field an earlier finding sets dropped."""
    out: list[Finding] = []
    for check in CHECKS:
        f = check(run)
        if f is None or any(x.name == f.name for x in out):
            continue
        if f.name in EXPLAINED and any(x.name in ROOTS for x in out):
            continue
        if any(set(f.sets) & set(x.sets) for x in out):
            continue
        out.append(f)
    if not out and run.diverged:  # never "nothing found" for a run whose loss became NaN/inf
        lr = lr_of(run)
        out.append(Finding("diverged", "the loss became non-finite" + (
            f" at step {run.summary['diverged_at_step']}" if run.summary.get("diverged_at_step") is not None else "")
            + " and no check above explains why" + (f" ({run.probe_note})" if run.probe_note else ""), 0.5,
            "lower the lr tenfold and clip the gradient norm",
            ({"optimizer.lr": float(f"{lr / 10:.2g}")} if lr else {}) | {"clip.name": "global_norm"}, math.inf))
    return out


def diagnose(run_dir: str | Path) -> list[Finding]:
    """Every finding of `run_dir`, root cause first (empty: nothing found)."""
    return findings_of(read(run_dir))


def format_diagnosis(run_dir: str | Path | Run, findings: list[Finding] | None = None) -> str:
    """The doctor's text: one block per finding (evidence, confidence, reference, remedy and its --set
    lines), or that nothing was found and what was checked (`run_dir`: a path, or its `read` Run)."""
    run = run_dir if isinstance(run_dir, Run) else read(run_dir)
    findings = findings_of(run) if findings is None else findings
    layers = "with per-layer statistics" if run.layers else "without layers.jsonl"
    head = f"nnopt doctor: {run.path} ({len(run.epochs)} epochs, {len(run.steps)} logged steps, {layers})"
    if run.probe is None:
        head += (f"\n  (no rebuilt network: {run.probe_note} — the checks of the inputs, the init, the lr, "
                 "batch norm and recurrent gradients are skipped; the rest read the records)")
    if not findings:
        if not run.epochs:
            return head + "\nnothing to judge: the run has no epoch records yet"
        checked = [n for n in SECTIONS if n != "diverged" and (run.probe is not None or n in RECORDS_ONLY)]
        note = slow_run(run)
        return head + "\nnothing found — checked: " + ", ".join(checked) + (f"\n{note}" if note else "")
    blocks = []
    for i, f in enumerate(findings):
        lead = "! " if i == 0 else "  also: "
        blocks.append(f"{lead}{f.name} (confidence {f.confidence:.2f}): {f.evidence}\n"
                      f"    remedy: {f.remedy}: {' '.join(f.set_lines())}\n    see: {f.section}")
    return "\n".join([head, *blocks])
