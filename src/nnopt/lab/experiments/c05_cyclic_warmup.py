"""Claim 5: cyclic learning rates (triangular, SGDR, one-cycle) train as well as a tuned constant rate;
warmup lets a large learning rate with a large batch train — a regime map over batch norm × lr."""
from __future__ import annotations

from ..base import Finding, LabContext, Precondition, RunResult, Table, exceeds, experiment, interval, steps_per_epoch
from ..plots import band, figure, finish, spread_note, verdict_map

PEAK, FLOOR, BATCH, BIG = 0.3, 0.01, 32, 256
CONSTANTS = (0.01, 0.03, 0.1, 0.3)  # the grid the constant lr is tuned on
WORKLOAD = {"data": {"n_train": 1000}, "model": {"widths": [64]},
            "optimizer": {"name": "momentum", "lr": 0.1, "momentum": 0.9}}
TOLERANCE = 0.02  # "as well as": at most 2 points of validation accuracy below the tuned constant
FAILS = 0.5  # a run that ends below 50% validation accuracy (chance: 10%) has failed to train
RESCUE = 0.20  # warmup must end at least 20 points higher
WARMUP_EPOCHS = 3
WARM_DEPTH = 4
WARM_DATA = {"name": "fashion_mnist", "layout": "flat", "n_train": 4096}
WARM_WORKLOAD = {"data": WARM_DATA, "model": {"widths": [128] * WARM_DEPTH},
                 "optimizer": {"name": "momentum", "lr": 0.4, "momentum": 0.9}}
SMALL_LR, SCALED_LR = 0.4, 3.2  # 3.2 = 0.4 × 256/32: Goyal et al.'s linear scaling from batch 32 to BIG
CONTROL = "warmup 0 steps (control), other seeds"


def cyclic(total: int) -> dict[str, dict]:
    """Three cycles over the run, all between FLOOR and PEAK (the range a range test would give)."""
    return {"triangular": {"name": "cyclic", "lr": FLOOR, "max_lr": PEAK, "cycle_steps": max(2, total // 2)},
            "SGDR": {"name": "cosine_restarts", "lr": PEAK, "cycle_steps": max(1, total // 3)},
            "one-cycle": {"name": "one_cycle", "lr": PEAK}}


@experiment("cyclic_warmup", shows={"schedule.name": ["cyclic", "cosine_restarts", "one_cycle"],
                                    "schedule.warmup_steps": "*"}, accepts_recipe=True, cost_s=(4, 45),
            claim="Cyclic learning rates (triangular, SGDR restarts, one-cycle) train as well as a tuned fixed rate "
                  "in the same budget; a large learning rate with a large batch fails without warmup and trains "
                  "with it.",
            precise="(a) Digits MLP, SGD + momentum 0.9, batch 32, a short budget: each cyclic schedule between 0.01 "
                    "and 0.3 ends within 2 points of validation accuracy of the best constant lr of {0.01, 0.03, 0.1, "
                    "0.3} (paired over seeds, 95% interval above −2 points). (b) Fashion-MNIST (4096 training images), an MLP "
                    "of 4 hidden layers × 128, SGD + momentum 0.9, batch 256, 10 epochs: a regime map over norm {none, "
                    "batch} × lr {0.4, 3.2 = 0.4 × 256/32, Goyal et al.'s linear scaling from batch 32}: where the run "
                    "without warmup fails (< 50% validation accuracy), a linear warmup over the first 3 epochs ends ≥ "
                    "20 points higher (paired 95% interval); control: a 'warmup' of 0 steps on other seeds.",
            source="Smith 2017 (cyclical learning rates); Loshchilov & Hutter 2017 (SGDR); Smith & Topin 2019 "
                   "(one-cycle); Goyal et al. 2017 (linear scaling, gradual warmup over 5 epochs); Gotmare et al. "
                   "2019 (what warmup does)")
def cyclic_warmup(ctx: LabContext) -> Finding:
    epochs = ctx.pick(2, 4)
    workload = None if ctx.on is not None else {**WORKLOAD, "data": {"n_train": ctx.pick(300, 1000)}}
    budget = {} if ctx.on is not None else {"train.epochs": epochs, "train.batch_size": BATCH}
    base = ctx.recipe(workload, 0, budget)
    total = base.train["epochs"] * steps_per_epoch(base)
    constants = ctx.pick((FLOOR, 0.1), CONSTANTS)
    runs = {f"constant {lr:g}": ctx.runs(lambda s, lr=lr: ctx.recipe(workload, s, {
        **budget, "optimizer.lr": lr, "schedule.name": "constant"}), f"constant-{lr:g}") for lr in constants}
    plans = cyclic(total) if not ctx.fast else {"one-cycle": cyclic(total)["one-cycle"]}
    for name, sched in plans.items():
        over = {**budget, **{f"schedule.{k}": v for k, v in {**sched, "interval": "step"}.items()}}
        runs[name] = ctx.runs(lambda s, o=over: ctx.recipe(workload, s, o), name.replace("-", "_"))
    acc = {k: rs.spread(RunResult.final_val_acc) for k, rs in runs.items()}
    consts = [k for k in acc if k.startswith("constant")]
    best = max(consts, key=lambda k: acc[k].mean)
    matters = Precondition("the lr matters in this budget: the constant grid's best and worst mean validation "
                           "accuracy differ by ≥ 5 points", acc[best].mean - min(acc[k].mean for k in consts) >= 0.05,
                           f"{best} {acc[best].mean:.3f}, worst {min(acc[k].mean for k in consts):.3f}")
    stuck = f"constant {FLOOR:g}"
    for name in plans:
        _, lo, hi = interval(acc[name], acc[best], paired=True)
        precise = Precondition(f"the seeds measure finely enough to show a {TOLERANCE:g} margin: the paired 95% "
                               f"interval's half-width < {TOLERANCE:g}", (hi - lo) / 2 < TOLERANCE,
                               f"half-width {(hi - lo) / 2:.3f}")
        ctx.part(f"{name} trains as well as the tuned constant lr",
                 criterion=f"{name} − best constant ({best}) final val acc > −{TOLERANCE:g}, paired over seeds "
                           "(95% interval)",
                 check=lambda arm: exceeds(arm, acc[best], by=-TOLERANCE, paired=True, what="schedule − best constant"),
                 on=acc[name], control=(f"a 'cyclic' schedule stuck at its floor lr {FLOOR:g} (the constant-{FLOOR:g} "
                                        "runs)", acc[stuck]), preconditions=[matters, precise],
                 why=f"{name} is not shown within {TOLERANCE:g} of the tuned constant lr: the paired interval reaches "
                     "below")

    warm = _warmup_map(ctx)
    rows = [["(a) batch 32", k, acc[k].fmt(".3f"), ", ".join(r.summary["status"] for r in rs)] for k, rs in runs.items()]
    rows += [[f"(b) {regime}", arm, a.fmt(".3f"), ""] for regime, arms in warm.items() for arm, a in arms[1].items()]
    return ctx.finding(
        table=Table(["part", "schedule", "final val acc (mean ± std [min, max])", "status"], rows),
        figures=[_figure(ctx, runs, warm)],
        numbers={"val_acc": acc, "best_constant": best,
                 "warmup": {regime: accs for regime, (_, accs) in warm.items()}},
        notes="Changed after the first pass's result: (a) compared the cyclic schedules with one untuned constant "
              "and had no negative control (a schedule stuck at a constant would have passed); now the constant is "
              "tuned on a grid (chosen on the same validation set, which favours it) and a 'cyclic' schedule stuck at "
              "its floor must fail. (b) was judged on a one-layer MLP for 40 steps where no run failed without "
              "warmup, so warmup had nothing to rescue; a probe over depth 1/4/8 × lr 0.8/1.6/3.2 found runs fail or "
              "succeed together with or without warmup. Now a regime map (depth × lr, warmup over 3 epochs as Goyal "
              "et al.) with the precondition that the no-warmup run fails; a regime where it trains is INCONCLUSIVE "
              "for warmup, not evidence against it. The control of (b) is a warmup that ends after one step. "
              "After the first full run of this form (6 epochs), (a)'s precondition failed narrowly (the constant grid spanned 4.8 points, "
              "0.888–0.936; the cyclic schedules were within 0.4–2.1 points above the best constant), so its "
              "budget was cut to 4 epochs, where the lr matters more; criterion unchanged. At 4 epochs the seeds "
              "spread more (paired intervals ±8–10 points) and every cyclic schedule read DOES NOT HOLD on a margin "
              "no 3 seeds could show; the precision precondition (as grow_batch's) was added after that run, so "
              "such a part reads INCONCLUSIVE. Third pass (issue 22): (a) unchanged and left INCONCLUSIVE — its "
              "paired intervals' half-widths (0.080–0.096) against the 0.02 margin would need about (0.09/0.02)² ≈ "
              "20× the seeds, which is not cheap. (b) the second pass's map (digits, depth 1/4 × lr 0.2/0.8) had no "
              "cell where the run without warmup failed and warmup rescued it. A probe before this map (Fashion-MNIST, "
              "1 seed, depth 2/6 × no norm/batch norm × lr 0.4/1.6/3.2, 10 epochs) found rescues only with batch norm "
              "at lr 3.2 (depth 2: 0.24 → 0.79), while without norm every lr ≥ 0.4 failed with and without warmup; a "
              "3-seed probe with batch norm (depth 1/2/4 × lr 3.2/6.4) failed without warmup at every depth at 3.2 "
              "(0.19–0.44) and was rescued by warmup at each (0.46–0.80; at 6.4 never), and depth 4 was fixed, the "
              "most consistent; a probe on digits with batch norm (depth 4, batch 128) rescued one seed of three. "
              "The map is norm × lr at that depth, lr 3.2 being the linear scaling of 0.4 from batch 32 to 256 (as "
              "Goyal et al.'s ResNets, which have batch norm); its control, a 0-step 'warmup' on other seeds, "
              "replaces the second pass's 1-step warmup. --fast runs the one batch-norm cell on digits (a "
              "Fashion-MNIST load costs 0.6 s of CPU a run).")


def _warmup_map(ctx: LabContext) -> dict:
    """(b): per regime (norm, lr) of WARM_WORKLOAD at batch BIG, the runs without warmup, with WARMUP_EPOCHS of
    linear warmup (at most half the run, for a short --on recipe) and the control — a 'warmup' of 0 steps (no
    warmup, labelled warmup) on other seeds; records one part per regime."""
    if ctx.on is not None:
        regimes, budget = {"your recipe": (None, {})}, {}
    else:
        grid = ctx.pick([("batch", SCALED_LR)], [(norm, lr) for norm in ("none", "batch") for lr in (SMALL_LR, SCALED_LR)])
        data = ctx.pick({"n_train": 1000}, WARM_DATA)  # --fast: digits (a Fashion-MNIST load costs 0.6 s a run)
        regimes = {f"{'batch norm' if norm == 'batch' else 'no norm'}, lr {lr:g}": (
            {**WARM_WORKLOAD, "data": data, "model": {**WARM_WORKLOAD["model"], "norm": norm}}, {"optimizer.lr": lr})
            for norm, lr in grid}
        budget = {"train.epochs": ctx.pick(6, 10), "train.batch_size": BIG}
    out = {}
    for regime, (workload, over) in regimes.items():
        base = ctx.recipe(workload, 0, budget)
        per_epoch = steps_per_epoch(base)
        warm_steps = min(WARMUP_EPOCHS * per_epoch, max(1, base.train["epochs"] * per_epoch // 2))  # ≤ half the run
        name = f"warmup {warm_steps / per_epoch:g} epochs ({warm_steps} steps)"
        arms = {"no warmup": (0, 0), name: (warm_steps, 0), CONTROL: (0, 100)}
        runs = {arm: ctx.runs(lambda s, w=w, d=d: ctx.recipe(workload, s + d, {
            **budget, **over, "schedule.name": "constant", "schedule.interval": "step", "schedule.warmup_steps": w}),
            f"{_slug(regime)}-warm{w}" + ("-control" if d else "")) for arm, (w, d) in arms.items()}
        accs = {arm: rs.spread(RunResult.final_val_acc) for arm, rs in runs.items()}
        fails = Precondition(f"the run without warmup fails (mean val acc < {FAILS:g})", accs["no warmup"].mean < FAILS,
                             f"{accs['no warmup'].fmt('.3f')}")
        ctx.part(f"{regime}: warmup rescues a run that fails without it", regime=regime,
                 criterion=f"warmup − no warmup final val acc > {RESCUE:g}, paired over seeds (95% interval)",
                 check=lambda arm, a=accs["no warmup"]: exceeds(arm, a, by=RESCUE, paired=True,
                                                                 what="warmup − no warmup"),
                 on=accs[name], control=("a 'warmup' of 0 steps (no warmup, labelled warmup) on other seeds",
                                         accs[CONTROL]),
                 preconditions=[fails], why="the run fails with warmup too: the lr is too large for the trained "
                                            "network, not only for its first steps" if accs[name].mean < FAILS else
                 f"warmup rescues some seeds only: the paired interval reaches below +{RESCUE:g}")
        out[regime] = (runs, accs)
    return out


def _slug(regime: str) -> str:
    return regime.replace(", ", "-").replace(" ", "")


def _figure(ctx: LabContext, runs: dict, warm: dict) -> str:
    fig, axes = figure(4, width=4.4, height=3.9)
    a_lr, a_acc, a_w, a_map = axes
    for k, rs in runs.items():
        a_lr.plot([s["step"] for s in rs[0].steps], rs[0].series("lr", "step"), label=k)
        band(a_acc, [e["epoch"] for e in rs[0].epochs], [r.series("val_acc") for r in rs], k)
    markers = {"no warmup": ("x", "C3"), CONTROL: (".", "0.5")}
    for i, (regime, (rs_by_arm, accs)) in enumerate(warm.items()):
        for j, arm in enumerate(rs_by_arm):
            marker, color = markers.get(arm, ("o", "C2"))
            a_w.plot([i + (j - 1) * 0.15] * len(accs[arm].values), accs[arm].values, marker, color=color,
                     label=arm.split(" (")[0].split(" on ")[0] if i == 0 else None)
    a_w.set_xticks(range(len(warm)), list(warm), rotation=20, fontsize=7)
    a_w.axhline(FAILS, color="grey", lw=0.8, ls=":")
    a_lr.set(xlabel="step", ylabel="learning rate", title=f"(a) schedules, batch {BATCH} (colours: next legend)")
    a_acc.set(xlabel="epoch", ylabel="validation accuracy", title=f"(a) {spread_note(len(ctx.seeds))}")
    a_w.set(ylabel="final validation accuracy (each seed)", ylim=(0, 1),
            title=f"(b) batch {BIG}: without / with warmup")
    parts = {p.regime: p for p in ctx.parts if p.regime}
    verdict_map(a_map, [(regime, parts[regime], f"no warmup {accs['no warmup'].mean:.2f}, warmup "
                         f"{next(a for k, a in accs.items() if k.startswith('warmup')).mean:.2f}")
                        for regime, (_, accs) in warm.items()], f"(b) the map: depth {WARM_DEPTH}, batch {BIG}")
    finish(fig, a_lr, a_acc, a_w)
    a_lr.get_legend().remove()  # the middle panel's legend names the same colours; here it covered the peaks
    return ctx.save_figure(fig, "cyclic_warmup", caption="(a) middle: the cyclic bands beside the best constant; (b) "
                           "right, the map: green where warmup rescues a run that fails without it (crosses below "
                           "the dotted 50% line, circles above it), grey where the run trains without warmup")
