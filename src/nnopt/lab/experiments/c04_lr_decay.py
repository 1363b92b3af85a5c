"""Claim 4: SGD needs a decaying learning rate — a regime map: noisy data no model fits (where a constant lr
stalls at a noise floor) vs data the model interpolates (where it converges), judged on the final weights' loss
over the whole training set."""
from __future__ import annotations

import math

from ..base import Finding, LabContext, Precondition, Spread, Table, exceeds, experiment, interval, steps_per_epoch
from ..plots import band, figure, finish, spread_note, verdict_map

MOONS = {"name": "moons", "n_samples": 400, "noise": 0.35}
REGIMES = {  # regime → (workload at the full budget, its epochs under --fast)
    "noisy moons, MLP, lr 1.5 (no model fits them)": ({
        "data": MOONS, "model": {"widths": [32]}, "optimizer": {"name": "sgd", "lr": 1.5},
        "train": {"batch_size": 4, "epochs": 20}}, 6),
    "digits, MLP, lr 0.2 (it interpolates them)": ({
        "data": {"n_train": 500}, "model": {"widths": [64]}, "optimizer": {"name": "sgd", "lr": 0.2},
        "train": {"batch_size": 32, "epochs": 60}}, 3),
}
INTERPOLATES = 0.99  # training accuracy of the final weights that counts as fitting the data
DECAY = "cosine"  # the decay that decides, fixed in advance; the others are shown
CONTROL = "step, rate 1 (a 'decay' that does not decay), other seeds"


def schedules(total: int) -> dict[str, dict]:
    """Each decaying schedule ends near 1% of the initial lr (linear and cosine at 0). Exponential and
    natural-exponential decay are the same curve here (rate 0.01 per run = e^(−ln 100)), so one is run."""
    return {"constant": {"name": "constant"},
            "step": {"name": "step", "rate": 0.1, "step_size": math.ceil(total / 2)},
            "linear": {"name": "linear"},
            "inverse_time": {"name": "inverse_time", "rate": 99.0, "step_size": total},
            "exponential": {"name": "exponential", "rate": 0.01, "step_size": total},
            "cosine": {"name": "cosine"}}


def plateau(curve: list[float], last: int) -> tuple[bool, float, float, float]:
    """Has `curve` stopped falling? The least-squares slope b of its `last` points (per epoch) and b's 95%
    t-interval (SE from the residuals, `last` − 2 degrees of freedom): (upper end ≥ 0, b, lo, hi) — the
    loss is not falling beyond its own noise."""
    from scipy.stats import linregress, t as student

    y = curve[-last:]
    fit = linregress(range(len(y)), y)
    half = float(student.ppf(0.975, len(y) - 2)) * fit.stderr
    return fit.slope + half >= 0, fit.slope, fit.slope - half, fit.slope + half


@experiment("lr_decay", shows={"schedule.name": ["step", "piecewise", "polynomial", "linear", "inverse_time",
                                                 "exponential", "natural_exp", "cosine"]},
            accepts_recipe=True, cost_s=(3.3, 22),
            claim="In practice it is necessary to gradually decrease the learning rate over time: with a "
                  "fixed rate, mini-batch noise keeps SGD from converging.",
            precise="Plain SGD, equal epochs: cosine decay (fixed in advance as the representative decay) ends with "
                    "a lower full-training-set loss of the final weights than the constant lr, beyond the seed spread "
                    "(95% Welch interval), in each of two regimes — noisy two moons, which no model fits, at lr 1.5 "
                    "and batch 4, where the constant lr's loss has stopped falling (its noise floor), and digits, which "
                    "the MLP interpolates; step, linear, inverse-time and exponential decay are shown beside it.",
            source="Bottou, Curtis & Nocedal 2018, Thms 4.6–4.7 (fixed step: a noise floor ∝ lr; diminishing steps: "
                   "convergence); Ma, Bassily & Belkin 2018 (when the model interpolates, constant-step SGD "
                   "converges); Goodfellow et al. 2016 §8.3.1")
def lr_decay(ctx: LabContext) -> Finding:
    regimes = {"your recipe": (None, None)} if ctx.on is not None else REGIMES
    results, rows = {}, []
    for regime, (workload, fast_epochs) in regimes.items():
        budget = {"train.epochs": fast_epochs} if ctx.on is None and ctx.fast else {}
        base = ctx.recipe(workload, 0, budget)
        epochs = base.train["epochs"]
        total = epochs * steps_per_epoch(base)
        plans = {k: v for k, v in schedules(total).items() if not ctx.fast or k in ("constant", DECAY)}
        plans[CONTROL] = {"name": "step", "rate": 1.0, "step_size": 1}
        runs = {}
        for name, sched in plans.items():
            offset = 100 if name == CONTROL else 0
            over = {**budget, **{f"schedule.{k}": v for k, v in {**sched, "interval": "step"}.items()}}
            runs[name] = ctx.runs(lambda s, o=over, d=offset: ctx.recipe(workload, s + d, o),
                                  f"{_slug(regime)}-{name.split(',')[0]}" + ("-control" if offset else ""))
        final = {k: [(math.inf, 0.0) if r.diverged else r.full_loss("train") for r in rs] for k, rs in runs.items()}
        loss = {k: Spread([v[0] for v in vs]) for k, vs in final.items()}
        acc = {k: Spread([v[1] for v in vs]) for k, vs in final.items()} if all(
            v[1] is not None for vs in final.values() for v in vs) else {}
        pre = [Precondition("constant lr trains: every seed's final training loss is finite and below its first "
                            "epoch's", all(math.isfinite(v) and r.epochs and v < r.epochs[0]["train_loss"]
                                           for v, r in zip(loss["constant"].values, runs["constant"])),
                            f"constant {loss['constant'].fmt('.3g')}")]
        fits = bool(acc) and acc["constant"].lo >= INTERPOLATES
        if regime.startswith("digits"):
            pre.append(Precondition(f"the MLP interpolates: constant lr's final training accuracy ≥ {INTERPOLATES}",
                                    fits, acc["constant"].fmt(".3f")))
        else:
            if acc:
                pre.append(Precondition(f"no run fits the data: every final training accuracy < {INTERPOLATES}",
                                        max(a.hi for a in acc.values()) < INTERPOLATES,
                                        f"largest {max(a.hi for a in acc.values()):.3f}"))
            curve = [sum(e) / len(e) for e in zip(*(r.series("train_loss") for r in runs["constant"]))]
            last = max(3, len(curve) // 3)
            floor = f"constant lr has reached its noise floor: the slope of its epoch-mean training loss over the " \
                    f"last {last} epochs is not negative beyond the noise (95% interval reaches 0)"
            if len(curve) < last:
                pre.append(Precondition(floor, False, f"{len(curve)} epochs: a slope and its interval need ≥ 3"))
            else:
                flat, slope, lo, hi = plateau(curve, last)
                pre.append(Precondition(floor, flat, f"slope {slope:.2g}/epoch [{lo:.2g}, {hi:.2g}]"))
        ctx.part(f"{regime}: decay ends lower than constant", regime=regime,
                 criterion=f"constant − {DECAY} final full-training-set loss > 0 beyond the seed spread (95% Welch "
                           "interval)",
                 check=lambda arm, c=loss["constant"]: exceeds(c, arm, what="constant − decay loss", spec=".4f"),
                 on=loss[DECAY], control=("a step schedule of rate 1 (constant, labelled a decay) on other seeds",
                                          loss[CONTROL]),
                 preconditions=pre,
                 why="constant-lr SGD ends no higher than the decay here (beyond the seed noise, or within it)"
                     + (": where the model interpolates the data the gradient noise vanishes at the minimum, so a "
                        "fixed step converges too (Ma et al. 2018)" if fits else ""))
        results[regime] = (runs, loss, acc)
        rows += [[regime, k, loss[k].fmt(".4f"), acc[k].fmt(".3f") if acc else "—"] for k in runs]
    return ctx.finding(
        table=Table(["regime", "schedule", "final full-training loss (mean ± std [min, max])",
                     "final training accuracy"], rows),
        figures=[_figure(ctx, results)],
        numbers={regime: {"final_train_loss": loss, "final_train_acc": acc} for regime, (_, loss, acc)
                 in results.items()},
        notes="Changed after the first pass's result (DOES NOT HOLD on digits alone): it scored the epoch-mean "
              "loss of a 12-epoch run on an MLP that interpolates digits — the regime where constant-lr SGD "
              "converges (Ma et al. 2018) — and required every decay to win, exponential and natural-exponential "
              "included, which are the same schedule here. Second pass: the final weights' loss over the whole "
              "training set, in regimes chosen by whether the model can fit the data, cosine fixed in advance as "
              "the decay that decides, the other decays shown. Its first full run (noisy moons, MLP at lr 0.2, "
              "batch 16) never reached constant lr's noise floor (still falling 7.8% over the last third at 60 "
              "epochs: 0.288 vs cosine 0.327), so that regime was INCONCLUSIVE. Third pass (this one, issue 22): the "
              "noisy regime is chosen by that precondition — a constant lr large enough, at batch 4, that its loss "
              "stops falling within a few epochs (the floor grows with lr, Bottou et al. Thm 4.6), tested as a slope "
              "over the last third whose 95% interval reaches 0. Probes (3 seeds, 20 epochs) before the full run: "
              "at lr 0.5 the MLP's constant lr is flat too but its floor is the size of the seed spread (constant "
              "0.304 ± 0.013 vs cosine 0.279 ± 0.006); at lr 1.5 it is not (0.451 ± 0.033 vs 0.279 ± 0.0002), and "
              "lr 1.5 was fixed. A convex regime (logistic regression on the same moons, Bottou et al.'s own "
              "setting) was tried and left out: with 3 parameters' worth of directions its final iterate's excess "
              "loss spreads about as much as its mean (spread ≈ √(2/d) × mean near the optimum), so 3 seeds resolve "
              "the floor only at lr 5 (0.667 ± 0.080 vs 0.379), where at --fast constant lr ended above its first "
              "epoch (1.01 ± 0.63). The negative control is a step schedule of rate 1 (it never "
              "decays) run on other seeds: the noise between seeds alone must not pass.")


def _figure(ctx: LabContext, results: dict) -> str:
    """Top: the schedules (lr / initial lr over the run) and each regime's epoch-mean training loss; bottom: the
    map (one cell per regime: verdict and constant − cosine) and each seed's final full-training loss."""
    n = len(results)
    fig, axes = figure(n + 1, width=4.4, height=3.7, nrows=2)
    top, bottom = axes[:n + 1], axes[n + 1:]
    names = list(next(iter(results.values()))[0])
    colors = {k: ("k" if k == "constant" else "0.55" if k == CONTROL else f"C{i}") for i, k in enumerate(names)}
    label = {k: k.split(",")[0] + (" rate 1 (control)" if k == CONTROL else "") for k in names}
    runs0 = next(iter(results.values()))[0]
    for k, rs in runs0.items():
        steps = [s["step"] for s in rs[0].steps]
        top[0].plot([s / steps[-1] for s in steps], [v / rs[0].steps[0]["lr"] for v in rs[0].series("lr", "step")],
                    color=colors[k], ls=":" if k == CONTROL else "-", label=label[k])
    top[0].set(xlabel="fraction of the run", ylabel="lr / initial lr", title="the schedules (every regime)")
    parts = {p.regime: p for p in ctx.parts}
    for j, (regime, (runs, loss, _)) in enumerate(results.items(), start=1):
        for k, rs in runs.items():
            band(top[j], [e["epoch"] for e in rs[0].epochs], [r.series("train_loss") for r in rs], label[k],
                 color=colors[k], ls=":" if k == CONTROL else "-")
            ys = [v for v in loss[k].values if math.isfinite(v)]
            bottom[j].plot([names.index(k)] * len(ys), ys, "o", color=colors[k], ms=4, alpha=0.8)
            bottom[j].plot([names.index(k) - 0.3, names.index(k) + 0.3], [loss[k].mean] * 2, color=colors[k], lw=2)
        top[j].set(xlabel="epoch", ylabel="training loss (epoch mean, nats, log)", yscale="log",
                   title=f"{regime.split(' (')[0]}\n{spread_note(len(ctx.seeds))}")
        bottom[j].set_xticks(range(len(names)), [label[k].split(" (")[0] for k in names], rotation=35, fontsize=7)
        bottom[j].set(ylabel="final full-training loss (nats)", title=f"{parts[regime].verdict}: each seed's final "
                      "weights", yscale="log")
    verdict_map(bottom[0], [(r.split(" (")[0], parts[r], _difference(results[r][1])) for r in results],
                "the map: constant − cosine final loss")
    top[0].set_ylim(-0.03, 1.45)  # room above lr = 1 for the legend, clear of every curve
    finish(fig, *top)
    for ax in top[1:]:
        ax.get_legend().remove()  # one legend, on the schedules panel: same colours everywhere
    top[0].legend(fontsize=6.5, ncol=2, loc="upper right")
    return ctx.save_figure(fig, "schedules", caption="bottom left, the map: green where cosine ends below the constant "
                           "lr beyond the seed spread; bottom row: the black bar (constant lr) above the others on the "
                           "noisy moons, level with or below them on digits")


def _difference(loss: dict[str, Spread]) -> str:
    d, lo, hi = interval(loss["constant"], loss[DECAY])
    return f"{d:+.3f} nats [{lo:+.3f}, {hi:+.3f}]"


def _slug(text: str) -> str:
    """A regime's name before its parenthesis as a run label: "noisy moons, MLP, lr 1.5" → "noisy_moons_MLP_lr_1.5"."""
    import re

    return re.sub(r"[^A-Za-z0-9.]+", "_", text.split(" (")[0])
