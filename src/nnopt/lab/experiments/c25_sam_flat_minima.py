"""Claim 25: sharpness-aware minimization reaches flatter minima than the SGD it wraps — compared at the
same epochs, at a matched training loss, and at SAM's compute (twice SGD's gradients)."""
from __future__ import annotations

import math
import statistics

from ..base import Check, Finding, LabContext, Precondition, Snapshots, Spread, Table, exceeds, experiment, matches
from ..plots import band, figure, finish, spread_note
from .c02_flat_minima import FAST_LANCZOS, LANCZOS, sharpness

LR, RHO, BATCH, WIDTHS = 0.05, 0.05, 32, [64]
SGD = {"name": "momentum", "lr": LR, "momentum": 0.9}
SAM = {**SGD, "name": "sam", "base": "momentum", "rho": RHO}
RATIO_MAX = 0.8  # SAM's λ_max below 0.8 × the reference's, beyond the seed spread (fixed before the first run)
LOSS_TOL = 1.25  # "a similar training loss": within a factor 1.25 of each other (90% paired interval of the log)


def run_with_snapshots(ctx: LabContext, optimizer: dict, epochs: int, label: str) -> tuple[list, list[Snapshots]]:
    """The seeds' runs of `optimizer` with a state-dict snapshot after every epoch."""
    snaps: list[Snapshots] = []
    runs = ctx.runs(lambda s: ctx.recipe({"model": {"widths": WIDTHS}, "optimizer": optimizer,
                                          "train": {"epochs": epochs, "batch_size": BATCH}}, s), label,
                    lambda: [snaps.append(Snapshots()) or snaps[-1]])
    return runs, snaps


def sharpness_at(setup, state: dict, seed: int, iters: int) -> dict:
    """`sharpness` of a run's rebuilt `setup` with the weights `state` (a snapshot) loaded."""
    setup.model.load_state_dict(state)
    return sharpness(setup, seed, iters)


def matched_epoch(losses: list[float], target: float) -> int:
    """The 1-based epoch whose training loss is closest to `target` on a log scale."""
    return min(range(len(losses)), key=lambda i: abs(math.log(losses[i] / target))) + 1


@experiment("sam_flat_minima", shows={"optimizer.name": ["sam"]}, cost_s=(3.3, 26),
            claim="Sharpness-aware minimization seeks flat minima: it reaches a minimum with a smaller largest "
                  "Hessian eigenvalue than the SGD it wraps, at a similar training loss.",
            precise=f"Digits MLP (one hidden layer of {WIDTHS[0]}), the whole training split, batch {BATCH}, momentum "
                    f"SGD (lr {LR}, momentum 0.9) vs SAM (ρ = {RHO}) around that same optimizer, same seeds and "
                    f"initial weights. λ_max of the training-loss Hessian (paired by seed): SAM's below {RATIO_MAX} × "
                    f"SGD's beyond the seed spread (95% interval of log λ_SGD − log λ_SAM above −log {RATIO_MAX}), "
                    f"(a) at the same epochs, (b) against SGD's epoch whose training loss matches SAM's final one, "
                    f"(c) against SGD at SAM's compute (twice the epochs). Precondition of (a) and (b): the training "
                    f"losses within a factor {LOSS_TOL} (90% paired interval of the log inside ±log {LOSS_TOL}). "
                    f"Control: SAM with ρ = 0 (SGD through SAM's two-gradient step) must fail",
            source="Foret et al. 2021, Sharpness-Aware Minimization for Efficiently Improving Generalization (§2, "
                   "§4.2 and the Hessian spectra of its Figure 3)")
def sam_flat_minima(ctx: LabContext) -> Finding:
    epochs = ctx.pick(3, 40)
    sgd, sgd_snaps = run_with_snapshots(ctx, SGD, 2 * epochs, "sgd")  # its first `epochs` are "SGD"
    sam, _ = run_with_snapshots(ctx, SAM, epochs, "sam")
    rho0, _ = run_with_snapshots(ctx, {**SAM, "rho": 0.0}, epochs, "sam-rho0")
    matched = [matched_epoch(r.series("train_loss")[:2 * epochs], s.series("train_loss")[-1]) for r, s in zip(sgd, sam)]
    iters = ctx.pick(FAST_LANCZOS, LANCZOS)
    sgd_setups = [r.setup() for r in sgd]  # rebuilt once per seed; each point loads its weights into it
    points = {"SAM": [sharpness(r.setup(), s, iters) for r, s in zip(sam, ctx.seeds)],
              "SAM, ρ = 0 (control)": [sharpness(r.setup(), s, iters) for r, s in zip(rho0, ctx.seeds)],
              f"SGD, {epochs} epochs": [sharpness_at(st, sn.states[epochs], s, iters)
                                        for st, sn, s in zip(sgd_setups, sgd_snaps, ctx.seeds)],
              "SGD at SAM's loss": [sharpness_at(st, sn.states[e], s, iters)
                                    for st, sn, e, s in zip(sgd_setups, sgd_snaps, matched, ctx.seeds)],
              f"SGD ×2, {2 * epochs} epochs": [sharpness_at(st, sn.states[2 * epochs], s, iters)
                                               for st, sn, s in zip(sgd_setups, sgd_snaps, ctx.seeds)]}
    log_lam = {k: Spread([math.log(p["lambda_max"]) for p in v]) for k, v in points.items()}
    log_loss = {k: Spread([math.log(p["train_loss"]) for p in v]) for k, v in points.items()}
    lam = {k: Spread([p["lambda_max"] for p in v]) for k, v in points.items()}
    loss = {k: Spread([p["train_loss"] for p in v]) for k, v in points.items()}
    control = ("SAM with ρ = 0", log_lam["SAM, ρ = 0 (control)"])
    references = {"(a) at the same epochs": f"SGD, {epochs} epochs", "(b) at a matched training loss": "SGD at SAM's loss",
                  "(c) at SAM's compute": f"SGD ×2, {2 * epochs} epochs"}
    for part, ref in references.items():
        def flatter(arm: Spread, ref=ref) -> Check:
            return exceeds(log_lam[ref], arm, by=-math.log(RATIO_MAX), paired=True, what=f"log λ({ref}) − log λ(SAM)")
        similar = matches(log_loss["SAM"], log_loss[ref], tol=math.log(LOSS_TOL), paired=True,
                          what="log loss(SAM) − log loss(SGD)")
        ctx.part(f"{part}: SAM's λ_max < {RATIO_MAX} × SGD's", check=flatter, on=log_lam["SAM"], control=control,
                 criterion=f"log λ_SGD − log λ_SAM > −log {RATIO_MAX} = {-math.log(RATIO_MAX):.3f} beyond the seed "
                           f"spread (95% paired interval)",
                 preconditions=[] if part.startswith("(c)") else [Precondition(
                     f"training losses within a factor {LOSS_TOL}", similar.ok, similar.measured)],
                 why="with cross-entropy λ_max falls as the training loss falls; SGD given SAM's number of gradients "
                     "trains further and ends about as flat, so the flatness here is what the extra compute buys"
                 if part.startswith("(c)") else "SAM's minimum is not flatter than SGD's by the criterion's margin here")
    ratios = {ref: [a["lambda_max"] / b["lambda_max"] for a, b in zip(points["SAM"], points[ref])]
              for ref in references.values()}
    rows = [[k, lam[k].fmt(".3g"), loss[k].fmt(".3g"),
             ", ".join(f"{r:.2f}" for r in ratios[k]) if k in ratios else ""] for k in points]
    rows.append(["SGD's epoch matched to SAM's loss, per seed", ", ".join(map(str, matched)), "", ""])
    fig = plot(sgd, sam, rho0, points, references, epochs, matched, len(ctx.seeds))
    return ctx.finding(
        table=Table(["optimizer / point", f"λ_max (Lanczos, {iters} HVPs)", "train loss (eval mode)", "SAM / this, per seed"],
                    rows),
        figures=[ctx.save_figure(fig, "sam_sharpness", caption="left: λ_max against the training loss for every point "
                                 "set; right: the training curves, SGD's epochs matched to SAM's loss dotted")],
        numbers={"lambda_max": lam, "train_loss": loss, "ratios": ratios, "matched_epoch": matched,
                 "median_ratio": {k: statistics.median(v) for k, v in ratios.items()},
                 "test_acc": {name: Spread([r.summary["test_acc"] for r in rs])
                              for name, rs in (("SGD ×2", sgd), ("SAM", sam), ("SAM ρ=0", rho0))}, "epochs": epochs},
        notes="Setup written before the first run. Matched budgets: the same batch, lr, initial weights and batch "
              "order; SAM computes two gradients per step. λ_max is the lab's one measurement (claim 2's `sharpness`). "
              "Second pass: the first pass called losses 30% apart 'similar' (a tolerance of 5% of ln 10 that could "
              "not fail); (a) and (b) now need the losses within a factor 1.25, and (b) compares SAM with SGD's own "
              "trajectory at the epoch of SAM's training loss (snapshots of the SGD ×2 run, whose first half is the "
              "SGD run); the ρ = 0 control is new. Dinh et al. 2017: λ_max is not invariant to reparametrisation, so "
              "'flat' is relative to this parametrisation.")


def plot(sgd, sam, rho0, points, references, epochs: int, matched: list[int], n_seeds: int):
    fig, (ax_l, ax_c) = figure(2, width=5.4, height=4.2)
    styles = dict(zip(points, (("C3", "o"), ("k", "x"), ("C2", "o"), ("C1", "s"), ("C4", "D"))))
    for k, ps in points.items():  # the ρ = 0 control is SGD at the same epochs: its crosses sit on the green dots
        ax_l.scatter([p["train_loss"] for p in ps], [p["lambda_max"] for p in ps], s=30, zorder=3,
                     color=styles[k][0], marker=styles[k][1], label=k)
    ax_l.set(xscale="log", xlabel="training loss (eval mode, nats; log scale)",
             ylabel="λ_max of the training-loss Hessian", title=f"sharpness vs loss ({n_seeds} seeds: one dot each)")
    for name, runs, color in (("SGD (continued to ×2)", sgd, "C0"), ("SAM", sam, "C3"), ("SAM, ρ = 0", rho0, "C7")):
        band(ax_c, range(1, len(runs[0].epochs) + 1), [r.series("train_loss") for r in runs], name, color)
    for e in sorted(set(matched)):
        ax_c.axvline(e, color="C1", lw=0.8, ls=":")
    ax_c.set(yscale="log", xlabel="epoch (dotted: SGD's epoch matched to SAM's loss)",
             ylabel="training loss (running mean, nats)", title=f"training curves, {spread_note(n_seeds)}")
    finish(fig, ax_l, ax_c)
    return fig
