"""Claim 27: in high dimensions saddle points far outnumber local minima, and a critical point's index grows
with its value (claim 1's first sentence, which its 2-D surfaces cannot test)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..base import Check, LabContext, Finding, Spread, Table, experiment
from ..plots import figure

DIMS, TERMS, START_SD, MAX_STEP = (1, 2, 4, 8, 16), 128, 2.0, 0.5
STARTS, STARTS_FAST = 600, 120  # Newton starts per function
GRAD_TOL, EIG_TOL, SAME = 1e-9, 1e-6, 1e-5  # converged ‖∇f‖, degenerate |λ|, one point (distance)
MINIMA_MAX, RHO_MIN = 0.05, 0.5  # the criterion, fixed before the first run


@dataclass
class CosineField:
    """f(x) = Σ_k a_k cos(w_k·x + b_k): with w_k ~ N(0, I_d), b_k ~ U[0, 2π), a_k ~ N(0, 2/K) and K large, a
    stationary isotropic field, nearly Gaussian, of variance 1 and covariance exp(−‖x − y‖²/2)."""

    w: np.ndarray  # (K, d)
    a: np.ndarray  # (K,)
    b: np.ndarray  # (K,)

    @classmethod
    def random(cls, d: int, terms: int, rng: np.random.Generator) -> CosineField:
        return cls(rng.standard_normal((terms, d)), rng.normal(0.0, np.sqrt(2 / terms), terms),
                   rng.uniform(0, 2 * np.pi, terms))

    def value(self, x: np.ndarray) -> np.ndarray:
        """f at each row of x (n, d)."""
        return np.cos(x @ self.w.T + self.b) @ self.a

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """∇f(x) = −Σ_k a_k sin(w_k·x + b_k) w_k, per row: (n, d)."""
        return -(np.sin(x @ self.w.T + self.b) * self.a) @ self.w

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """∇²f(x) = −Σ_k a_k cos(w_k·x + b_k) w_k w_kᵀ, per row: (n, d, d)."""
        c = np.cos(x @ self.w.T + self.b) * self.a
        return -np.einsum("nk,ki,kj->nij", c, self.w, self.w)


class Bowl:
    """f(x) = ½‖x‖² in d dimensions: one critical point, a minimum (the negative control of part (a))."""

    def __init__(self, d: int):
        self.d = d

    def value(self, x: np.ndarray) -> np.ndarray:
        return 0.5 * (x * x).sum(1)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return x

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.eye(self.d), (len(x), self.d, self.d)).copy()


def critical_points(field: CosineField, starts: np.ndarray, iters: int) -> np.ndarray:
    """Newton's method on ∇f = 0 from each start, x ← x − H⁺∇f (H⁺ the pseudo-inverse of the Hessian) with the
    step's length capped at MAX_STEP (a capped Newton step is attracted to saddles and maxima as much as to
    minima); the converged ones (‖∇f‖ < GRAD_TOL, no |λ| < EIG_TOL), with points closer than SAME counted once."""
    x = starts.copy()
    for _ in range(iters):
        step = (np.linalg.pinv(field.hessian(x)) @ field.gradient(x)[..., None])[..., 0]
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        x = x - step * np.minimum(1.0, MAX_STEP / np.maximum(norm, 1e-300))
    ok = np.linalg.norm(field.gradient(x), axis=1) < GRAD_TOL
    ok &= np.abs(np.linalg.eigvalsh(field.hessian(x))).min(axis=1) > EIG_TOL
    kept: list[np.ndarray] = []
    for p in x[ok]:
        if all(np.linalg.norm(p - q) >= SAME for q in kept):
            kept.append(p)
    return np.array(kept).reshape(-1, starts.shape[1])


def index(hessians: np.ndarray) -> np.ndarray:
    """α: the fraction of each Hessian's eigenvalues that are negative (0 at a minimum, 1 at a maximum)."""
    return (np.linalg.eigvalsh(hessians) < 0).mean(axis=-1)


def ranks(v: np.ndarray) -> np.ndarray:
    """The rank of each entry (0 = smallest); tied entries share the mean of their ranks."""
    places = np.empty(len(v))
    places[np.argsort(v, kind="stable")] = np.arange(len(v))
    _, group = np.unique(v, return_inverse=True)
    return (np.bincount(group, weights=places) / np.bincount(group))[group]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (ties get their mean rank)."""
    return float(np.corrcoef(ranks(np.asarray(x)), ranks(np.asarray(y)))[0, 1])


def strictly_falls(values: list[float]) -> bool:
    """Each value below the one before, unless that one is already 0 (then equal to it)."""
    return all(b < a or a == b == 0 for a, b in zip(values, values[1:]))


@experiment("saddle_points_high_dim", cost_s=(4, 17),
            claim="In high-dimensional spaces saddle points are far more common than local minima.",
            precise=f"Random smooth functions f(x) = Σ_k a_k cos(w_k·x + b_k) (K = {TERMS} terms, w_k ~ N(0, I_d), "
                    f"a_k ~ N(0, 2/K), b_k ~ U[0, 2π): a nearly Gaussian isotropic field), one per seed, for d ∈ "
                    "{" + ", ".join(map(str, DIMS)) + "}; critical points found by capped Newton on ∇f = 0 from "
                    f"{STARTS} random starts ({STARTS_FAST} under --fast) x₀ ~ N(0, {START_SD}² I), kept when "
                    f"‖∇f‖ < {GRAD_TOL:g}, counted once, classified by the signs of the analytic Hessian's "
                    f"eigenvalues. "
                    f"(a) the median over seeds of the fraction of critical points "
                    f"that are local minima falls with d at every step (or stays at 0) and is < {MINIMA_MAX} at "
                    f"d = {DIMS[-1]}; (b) at d = {DIMS[-1]} the median over seeds of Spearman's correlation between "
                    f"the index α (fraction of negative Hessian eigenvalues) and f at the critical points is > "
                    f"{RHO_MIN}.",
            source="Dauphin et al. 2014, Identifying and attacking the saddle point problem in high-dimensional "
                   "non-convex optimization (§2, Fig. 1); Bray & Dean 2007, Statistics of critical points of "
                   "Gaussian fields on large-dimensional spaces")
def saddle_points_high_dim(ctx: LabContext) -> Finding:
    starts, iters = ctx.pick(STARTS_FAST, STARTS), ctx.pick(30, 40)
    minima, counts, rho, scatter = {}, {}, {}, {}
    with threadpool_limits(1):  # numpy's BLAS on one thread, as the lab's torch: the matrices are d × d
        for d in DIMS:
            for s in ctx.seeds:
                rng = np.random.default_rng([27, d, s])
                field = CosineField.random(d, TERMS, rng)
                points = critical_points(field, START_SD * rng.standard_normal((starts, d)), iters)
                alpha = index(field.hessian(points))
                counts[d, s] = len(points)
                minima[d, s] = float((alpha == 0).mean()) if len(points) else float("nan")
                if d == DIMS[-1]:
                    values = field.value(points)
                    rho[s], scatter[s] = spearman(alpha, values), (values, alpha)
        bowl = []  # the control of (a): the same search and classification on ½‖x‖²
        for d in DIMS:
            points = critical_points(Bowl(d), START_SD * np.random.default_rng([27, d]).standard_normal((8, d)), iters)
            bowl.append(float((index(Bowl(d).hessian(points)) == 0).mean()))
    frac = {d: Spread([minima[d, s] for s in ctx.seeds]) for d in DIMS}
    med = [float(np.median(frac[d].values)) for d in DIMS]
    rho_med = float(np.median(list(rho.values())))
    shuffled = {s: spearman(np.random.default_rng(s).permutation(alpha), values)
                for s, (values, alpha) in scatter.items()}

    def rarer(fractions: list[float]) -> Check:
        return Check(strictly_falls(fractions) and fractions[-1] < MINIMA_MAX,
                     "median fraction of minima " + ", ".join(f"d={d}: {m:.3f}" for d, m in zip(DIMS, fractions)))

    def ranked(correlations: list[float]) -> Check:
        return Check(float(np.median(correlations)) > RHO_MIN, f"median Spearman ρ(α, f) at d = {DIMS[-1]}: "
                     f"{np.median(correlations):.2f} [" + ", ".join(f"{r:.2f}" for r in correlations) + "]")

    ctx.part("(a) minima become rare as d grows", check=rarer, on=med, control=("the bowl ½‖x‖² (only minima)", bowl),
             criterion=f"the median fraction of minima falls at every step of d ∈ {list(DIMS)} (or stays at 0) and is "
                       f"< {MINIMA_MAX} at d = {DIMS[-1]}",
             why="the fraction of minima among the critical points found does not fall with d here")
    ctx.part("(b) a critical point's index grows with its value", check=ranked, on=list(rho.values()),
             control=("the index shuffled across the points", list(shuffled.values())),
             criterion=f"median over seeds of Spearman's ρ(α, f) at d = {DIMS[-1]} > {RHO_MIN}",
             why="the index and the value of the critical points are not rank-correlated here")

    fig, (ax_f, ax_s) = figure(2, width=5.2, height=4.0)
    floor = 0.5 / max(counts.values())  # where a fraction of 0 (no minimum found) is drawn on the log axis
    for s in ctx.seeds:
        found = [d for d in DIMS if minima[d, s] > 0]
        ax_f.plot(found, [minima[d, s] for d in found], "o", color="grey", alpha=0.6,
                  label="one seed (one random function)" if s == ctx.seeds[0] else None)
    zeros = [d for d in DIMS for s in ctx.seeds if minima[d, s] == 0]
    ax_f.plot(zeros, [floor] * len(zeros), "v", color="crimson", ms=8, alpha=0.6,
              label=f"a seed with no minimum found (drawn at {floor:.0e})")
    ax_f.fill_between(DIMS, [max(frac[d].lo, floor) for d in DIMS], [max(frac[d].hi, floor) for d in DIMS],
                      color="C0", alpha=0.18, lw=0, label="min–max over seeds")
    ax_f.plot(DIMS, [max(m, floor) for m in med], "-", color="C0", lw=2, label="median over seeds")
    ax_f.axhline(MINIMA_MAX, color="k", lw=0.8, ls="--", label=f"criterion at d = {DIMS[-1]}: < {MINIMA_MAX}")
    ax_f.set(yscale="log", xlabel="dimension d", ylabel="local minima / critical points found (fraction)",
             title="fraction of critical points that are minima", xticks=DIMS)
    ax_f.grid(alpha=0.3, which="both")
    ax_f.legend(fontsize=7, loc="upper right")
    jitter = np.random.default_rng(0)
    for i, (s, (values, alpha)) in enumerate(scatter.items()):
        ax_s.plot(values, alpha + jitter.uniform(-0.012, 0.012, len(alpha)), ".", color=f"C{i}", alpha=0.6, ms=4,
                  label=f"seed {s}: Spearman ρ = {rho[s]:.2f} ({len(alpha)} points)")
    ax_s.set(xlabel="f at the critical point (the field has variance 1; unitless)",
             ylabel="index α: fraction of negative Hessian eigenvalues", ylim=(-0.05, 1.05),
             title=f"d = {DIMS[-1]}: index vs value (α jittered ±0.012)")
    ax_s.grid(alpha=0.3)
    ax_s.legend(fontsize=7, loc="upper left")
    fig.tight_layout()

    rows = [[d, Spread([float(counts[d, s]) for s in ctx.seeds]).fmt(".0f"), frac[d].fmt(".3f"), f"{m:.3f}"]
            for d, m in zip(DIMS, med)]
    return ctx.finding(
        table=Table(["d", f"critical points found ({len(ctx.seeds)} seeds)", "fraction that are minima", "median"], rows),
        figures=[ctx.save_figure(fig, "saddle_points_high_dim", caption="left: the share of minima falls by orders "
                                 "of magnitude from d = 1 to 16; right: higher critical points have more descent "
                                 "directions")],
        numbers={"fraction_minima": {str(d): frac[d] for d in DIMS}, "median_fraction_minima": med,
                 "critical_points": {f"{d}/{s}": counts[d, s] for d in DIMS for s in ctx.seeds},
                 "spearman_alpha_f": rho, "median_spearman": rho_med, "starts": starts, "newton_iters": iters,
                 "control_bowl_fraction_minima": bowl, "control_shuffled_spearman": shuffled},
        notes="Setup and criterion written before the first run. Newton's method finds every kind of critical "
              "point, but in proportion to its basin under Newton's map, not uniformly: the fractions are of the "
              "critical points found from random starts. Second pass: parts and controls (the bowl ½‖x‖², whose "
              "only critical point is a minimum, for (a); the index shuffled across the points for (b)).")
