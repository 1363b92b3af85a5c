"""Claim 3: the batch size changes the variance of the gradient estimate, not its mean; larger
batches tolerate larger learning rates."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from ..base import Check, LabContext, Finding, Spread, Table, experiment
from ..plots import figure

BASE = {"model": {"widths": [64]}, "optimizer": {"name": "sgd"}}  # the workload, with data.n_train added


def per_sample_gradients(model, x, y) -> torch.Tensor:
    """(N, P): row i = ∇θ loss(xᵢ, yᵢ) (torch.func.vmap of grad)."""
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.reshape(len(x), -1) for g in grads.values()], dim=1)


def batch_statistics(G: torch.Tensor, sizes, draws: int, seed: int) -> dict:
    """For each K: ‖mean of the draws' batch gradients − g‖², E‖g_K − g‖² (measured over `draws`
    batches drawn without replacement) and its closed form σ²(N−K)/(K(N−1)), σ² = mean ‖gᵢ − g‖²; and
    the same ‖· − g‖² for a biased estimator, the mean of the K examples with the largest ‖gᵢ‖. The draws'
    batch means are one product S·G, row d of S holding 1/K at the K indices of draw d (no (K, P) copy of
    G per draw)."""
    N = len(G)
    g = G.mean(0)
    sigma2 = float(((G - g) ** 2).sum(1).mean())
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for K in sizes:
        picks = torch.stack([torch.randperm(N, generator=gen)[:K] for _ in range(draws)])
        batch = torch.zeros(draws, N, dtype=G.dtype).scatter_(1, picks, 1.0 / K) @ G
        largest = G[torch.argsort(G.norm(dim=1), descending=True)[:K]].mean(0)
        out[K] = {"bias2": float(((batch.mean(0) - g) ** 2).sum()), "var": float(((batch - g) ** 2).sum(1).mean()),
                  "theory": sigma2 * (N - K) / (K * (N - 1)), "biased2": float(((largest - g) ** 2).sum())}
    return out


@experiment("batch_size_variance", cost_s=(2.3, 5.7),
            claim="Larger batches give a more accurate estimate of the gradient, with less than linear returns; "
                  "the batch size changes the variance of the gradient estimate, not its mean.",
            precise="At a fixed θ (digits MLP after one SGD epoch), mini-batch gradients of size K drawn without "
                    "replacement average to the full gradient (‖ḡ_K − g‖² < 3·Var/draws) and their variance "
                    "equals σ²(N−K)/(K(N−1)) — ∝ 1/K — within ±20% for every K; and in an lr × K grid of "
                    "3-epoch SGD runs, the largest lr that trains (final val loss < ln 10 for every seed) never "
                    "falls as K grows and is larger at the largest K than at the smallest.",
            source="Goodfellow et al. 2016 §8.1.3 (standard error σ/√n); Goyal et al. 2017 (linear scaling rule); "
                   "Keskar et al. 2017")
def batch_size_variance(ctx: LabContext) -> Finding:
    n_train = ctx.pick(300, 1000)
    sizes = [1, 4, 16, 64, 256, n_train]
    draws = ctx.pick(100, 400)
    workload = {**BASE, "data": {"n_train": n_train}}
    stats = []
    for seed, run in zip(ctx.seeds, ctx.runs(lambda s: ctx.recipe(workload, s, {
            "optimizer.lr": 0.1, "train.epochs": 1, "train.batch_size": 32}), "theta")):
        setup = run.setup()
        G = per_sample_gradients(setup.model.eval(), setup.data.train.x, setup.data.train.y).double()
        stats.append(batch_statistics(G, sizes, draws, seed))
    partial = [K for K in sizes if K < n_train]
    rel = {K: Spread([s[K]["var"] / s[K]["theory"] for s in stats]) for K in partial}
    bias = {K: Spread([s[K]["bias2"] / (s[K]["var"] / draws) for s in stats]) for K in partial}
    slope = float(np.polyfit(np.log(partial[:4]), np.log([np.mean([s[K]["var"] for s in stats])
                                                           for K in partial[:4]]), 1)[0])
    four_k = {K: Spread([s[K]["var"] / (s[K]["theory"] / 4) for s in stats]) for K in partial}
    biased = {K: Spread([s[K]["biased2"] / (s[K]["var"] / draws) for s in stats]) for K in partial}

    def closed_form(ratios: dict) -> Check:
        lo, hi = min(r.lo for r in ratios.values()), max(r.hi for r in ratios.values())
        return Check(0.8 <= lo and hi <= 1.25, f"measured / predicted variance {lo:.3f}–{hi:.3f} (log-log slope "
                                               f"{slope:.2f})")

    ctx.part("the batch size sets the variance: σ²(N−K)/(K(N−1)), about 1/K",
             criterion="measured / closed-form variance in [0.8, 1.25] for every K and seed",
             check=closed_form, on=rel, control=("the closed form at 4K, labelled K", four_k),
             why="the measured variance departs from the closed form")
    ctx.part("…not the mean",
             criterion="‖mean of the draws − g‖² < 3·Var/draws (what sampling noise alone leaves) for every K and seed",
             check=lambda b: Check(all(x.hi < 3 for x in b.values()), f"bias² / (Var/draws) up to "
                                                                        f"{max(x.hi for x in b.values()):.3g}"),
             on=bias, control=("a biased estimator: the K examples with the largest gradients", biased),
             why="the mini-batch gradients do not average to the full gradient")

    lrs = ctx.pick([0.1, 1.0], [0.1, 0.3, 1.0, 3.0])
    ks = ctx.pick([16, 128], [8, 32, 128, 512])
    epochs = ctx.pick(2, 3)
    grid = {}
    for K in ks:
        for lr in lrs:
            rs = ctx.runs(lambda s: ctx.recipe(workload, s, {"optimizer.lr": lr, "train.epochs": epochs,
                                                              "train.batch_size": K}), f"grid-K{K}-lr{lr:g}")
            grid[K, lr] = [r.summary["final_val_loss"] if r.summary["status"] == "completed"
                           and r.epochs and math.isfinite(r.epochs[-1]["val_loss"]) else math.inf for r in rs]
    trains = {(K, lr): max(v) < math.log(10) for (K, lr), v in grid.items()}
    lr_max = {K: max([lr for lr in lrs if trains[K, lr]], default=0.0) for K in ks}

    def tolerates(largest: dict) -> Check:
        ok = all(largest[a] <= largest[b] for a, b in zip(ks, ks[1:])) and largest[ks[-1]] > largest[ks[0]]
        return Check(ok, "largest training lr by K: " + ", ".join(f"{K}: {largest[K]:g}" for K in ks))

    ctx.part("larger batches tolerate larger learning rates",
             criterion="the largest lr that trains (final val loss < ln 10, every seed) never falls as K grows and is "
                       "larger at the largest K than at the smallest",
             check=tolerates, on=lr_max, control=("every K given the smallest K's runs", {K: lr_max[ks[0]] for K in ks}),
             why="the largest lr that trains does not grow with the batch on this grid")
    best_lr = {K: min(lrs, key=lambda lr: np.mean(grid[K, lr])) for K in ks}

    fig, (ax, ax2) = figure(2, width=5.4)
    v = np.array([[s[K]["var"] for K in partial] for s in stats])
    ax.errorbar(partial, v.mean(0), yerr=[v.mean(0) - v.min(0), v.max(0) - v.mean(0)], fmt="o", capsize=3,
                label=f"measured E‖g_K − g‖² ({draws} batches; bar: {len(ctx.seeds)} seeds' θ)")
    Ks = np.array(partial, dtype=float)
    theory = np.mean([[s[K]["theory"] for K in partial] for s in stats], axis=0)
    ax.plot(Ks, theory, "-", label="σ²(N−K)/(K(N−1))")
    ax.plot(Ks, theory[0] / Ks, ":", color="0.4", label="σ²/K")
    b = np.array([[s[K]["bias2"] for K in partial] for s in stats])
    ax.plot(Ks, b.mean(0), "s", ms=4, label="‖mean of the batches − g‖² (bias², ≈ Var/draws)")
    ax.set(xscale="log", yscale="log", xlabel="batch size K", ylabel="squared gradient norm",
           title=f"gradient noise at fixed θ (N = {n_train}): slope {slope:.2f}")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    Z = np.array([[np.mean(grid[K, lr]) for lr in lrs] for K in ks])
    im = ax2.imshow(np.where(np.isfinite(Z), np.minimum(Z, 3.0), 3.0), origin="lower", cmap="viridis_r",
                    aspect="auto", vmin=0, vmax=3.0)
    for i, K in enumerate(ks):
        for j, lr in enumerate(lrs):
            text = "div." if not np.isfinite(Z[i, j]) else f"{Z[i, j]:.2f}"
            ax2.text(j, i, text, ha="center", va="center", fontsize=7, color="w" if Z[i, j] < 1.5 else "k")
    ax2.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax2.set_yticks(range(len(ks)), [str(K) for K in ks])
    ax2.set(xlabel="learning rate (SGD)", ylabel="batch size K",
            title=f"final val loss after {epochs} epochs (mean of {len(ctx.seeds)} seeds)")
    fig.colorbar(im, ax=ax2, label="val loss (capped at 3; div. = diverged)")
    fig.tight_layout()

    rows = [[K, rel[K].fmt(".3f"), bias[K].fmt(".2f"), f"{np.mean([s[K]['var'] for s in stats]):.3g}"]
            for K in partial]
    rows += [[f"grid K = {K}", f"largest lr that trains: {lr_max[K]:g}", f"best lr: {best_lr[K]:g}", ""] for K in ks]
    return ctx.finding(
        table=Table(["K", f"variance / closed form ({len(ctx.seeds)} seeds)", "bias² / (Var/draws)", "E‖g_K − g‖²"], rows),
        figures=[ctx.save_figure(fig, "batch_variance", caption="left: the measured points sit on the closed-form "
                                 "line (slope ≈ −1 for K ≪ N); right: the trainable region (dark) reaches further "
                                 "right in the rows of larger batches")],
        numbers={"variance_ratio": {str(k): v for k, v in rel.items()}, "slope": slope, "lr_max": lr_max,
                 "best_lr": best_lr, "grid_val_loss": {f"K{K} lr{lr:g}": v for (K, lr), v in grid.items()}},
        notes="The full grid was trimmed after the first full run, for time, from lr ∈ {0.03 … 10} to {0.1 … 3}: "
              "neither 0.03 nor 10 was at the boundary (that run: largest training lr 0.3 at K = 8, 1 at K ≥ 32; "
              "the same verdict). The tolerance is coarse: on this grid it grows from K = 8 to 32 and then "
              "stays at 1 — no linear scaling beyond K = 32.")
