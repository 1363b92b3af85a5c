"""2-D test functions and optimizer trajectories on them, for the lab and the playground.

    s = SURFACES["saddle"]                                  # f(x, y) = x² − y²
    run = trajectory(s, "momentum", start=(1.0, 1e-3), steps=100, lr=0.05, momentum=0.9)
    run.points  # (steps+1, 2) array of iterates θ_0..θ_T;  run.losses  # f(θ_t)
    find_critical_points(SURFACES["double_well"])        # Newton on ∇f = 0, classified by the Hessian

Trajectories use nnopt's registered optimizers on one 2-element float64 tensor, so what the lab and
the playground show is what the library does. A critical point is classified by the signs of the
eigenvalues of its Hessian (exact, by autograd): all > 0 minimum, all < 0 maximum, mixed saddle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import ConfigError

Fn = Callable[[torch.Tensor], torch.Tensor]  # f(θ) with θ[..., 0] = x, θ[..., 1] = y


@dataclass(frozen=True)
class Surface:
    """A 2-D function with a view box, a default start and its known minima (for plots)."""

    name: str
    formula: str
    f: Fn
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...] = ()
    log_levels: bool = False  # contour levels on a log scale (steep valleys: Rosenbrock, Beale)

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        return self.f(theta)

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X, Y, f(X, Y) on an n×n grid over the view box."""
        xs = torch.linspace(*self.xlim, n, dtype=torch.float64)
        ys = torch.linspace(*self.ylim, n, dtype=torch.float64)
        X, Y = torch.meshgrid(xs, ys, indexing="xy")
        Z = self.f(torch.stack([X, Y], dim=-1))
        return X.numpy(), Y.numpy(), Z.numpy()


def _x(t):
    return t[..., 0]


def _y(t):
    return t[..., 1]


def quadratic(a: float = 0.1, b: float = 2.0) -> Surface:
    """f = a·x² + b·y²: condition number κ = max(a, b)/min(a, b) (Hessian diag(2a, 2b))."""
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ConfigError(f"quadratic(a = {a!r}, b = {b!r}) — both must be finite and > 0")
    return Surface(f"quadratic_{a:g}_{b:g}", f"{a:g}·x² + {b:g}·y²", lambda t: a * _x(t) ** 2 + b * _y(t) ** 2,
                   (-10.0, 10.0), (-3.0, 3.0), (-9.0, 2.0), ((0.0, 0.0),))


def flat_sharp(t: torch.Tensor) -> torch.Tensor:
    """The book's landscape (Qiu, 《神经网络与深度学习》 ch. 7): a flat minimum, a sharp minimum and a
    saddle between them.

    f(x, y) = q(s)² + y²·cosh²x,  s = sinh x,  q(s) = 4s(s − 3)/9.

    A symmetric double well in s, seen through s = sinh x: the warp stretches curvature by cosh²x,
    so the well at s = 3 is narrow and steep and the one at s = 0 wide and flat, at the same depth.

    ∇f = (2q(s)·q'(s)·cosh x + 2y²·sinh x·cosh x,  2y·cosh²x),  q'(s) = 4(2s − 3)/9.
    ∂f/∂y = 0 gives y = 0, then q·q' = 0 gives s ∈ {0, 3/2, 3}: three stationary points, all on y = 0.
    At y = 0 the Hessian is diagonal, diag(2q'²cosh²x + 2q·q''·cosh²x + 2q·q'·sinh x, 2cosh²x), q'' = 8/9:
    - flat minimum (0, 0), f = 0: Hessian diag(32/9, 2);
    - sharp minimum (asinh 3, 0) = (ln(3 + √10), 0), f = 0: diag(320/9, 20), both eigenvalues
      1 + 3² = 10 times the flat one's (cosh²x = 1 + s²): equally good on f, ten times as curved;
    - saddle (asinh 3/2, 0) = (ln((3 + √13)/2), 0), cosh²x = 13/4, f = 1: diag(−52/9, 13/2).
    SGD is stable in a minimum only for α < 2/λ_max: 9/16 at the flat one, 9/160 ≈ 0.056 at the
    sharp one. From the default start (1.3, 0.4), just past the saddle, SGD at α = 0.05 settles in
    the sharp minimum; momentum 0.9 at the same α overshoots it and is in the flat one by step 60.
    """
    x, y = t[..., 0], t[..., 1]
    s = torch.sinh(x)
    return (4 * s * (s - 3) / 9) ** 2 + (y * torch.cosh(x)) ** 2


SURFACES: dict[str, Surface] = {s.name: s for s in [
    Surface("saddle", "x² − y²", lambda t: _x(t) ** 2 - _y(t) ** 2, (-2.0, 2.0), (-2.0, 2.0), (1.5, 1e-3)),
    Surface("double_well", "(x² − 1)² + y²", lambda t: (_x(t) ** 2 - 1) ** 2 + _y(t) ** 2,
            (-2.0, 2.0), (-1.5, 1.5), (1e-3, 1.2), ((-1.0, 0.0), (1.0, 0.0))),
    Surface("quadratic", "0.1·x² + 2·y²", quadratic(0.1, 2.0).f, (-10.0, 10.0), (-3.0, 3.0), (-9.0, 2.0),
            ((0.0, 0.0),)),
    Surface("rosenbrock", "(1 − x)² + 100·(y − x²)²", lambda t: (1 - _x(t)) ** 2 + 100 * (_y(t) - _x(t) ** 2) ** 2,
            (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.0), ((1.0, 1.0),), log_levels=True),
    Surface("beale", "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
            lambda t: ((1.5 - _x(t) + _x(t) * _y(t)) ** 2 + (2.25 - _x(t) + _x(t) * _y(t) ** 2) ** 2
                       + (2.625 - _x(t) + _x(t) * _y(t) ** 3) ** 2),
            (-4.5, 4.5), (-4.5, 4.5), (1.0, 1.5), ((3.0, 0.5),), log_levels=True),
    Surface("himmelblau", "(x² + y − 11)² + (x + y² − 7)²  (four minima)",
            lambda t: (_x(t) ** 2 + _y(t) - 11) ** 2 + (_x(t) + _y(t) ** 2 - 7) ** 2,
            (-5.0, 5.0), (-5.0, 5.0), (-0.3, -0.9),
            ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848127)), log_levels=True),
    Surface("flat_sharp", "(4s(s − 3)/9)² + y²·cosh²x, s = sinh x  (flat and sharp minima, a saddle between)",
            flat_sharp, (-1.2, 2.4), (-1.5, 1.5), (1.3, 0.4), ((0.0, 0.0), (math.asinh(3.0), 0.0)),
            log_levels=True),
]}


@dataclass
class Trajectory:
    """Iterates θ_0..θ_T (``points``, shape (T+1, 2)) and f(θ_t) (``losses``); ``diverged`` when
    an iterate or its loss became non-finite (the trajectory stops before it)."""

    points: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diverged: bool = False


def trajectory(surface: Surface | Fn, optimizer: str, start: Sequence[float] | None = None, steps: int = 100,
               schedule: Callable[[int], float] | None = None, noise: float = 0.0, seed: int = 0,
               **hyper) -> Trajectory:
    """Run the registered `optimizer` (with `hyper`) on f from `start` for `steps` steps.

    schedule: t → lr, set before step t. noise: std of Gaussian noise added to each gradient
    (a stand-in for mini-batch noise), drawn from a generator seeded by `seed`."""
    from .. import optim

    if not isinstance(steps, int) or not 0 <= steps <= 1_000_000:
        raise ConfigError(f"steps = {steps!r} — must be an integer in [0, 1000000]")
    if noise < 0 or not math.isfinite(noise):
        raise ConfigError(f"noise = {noise!r} — must be finite and >= 0")
    f = surface.f if isinstance(surface, Surface) else surface
    if start is None:
        if not isinstance(surface, Surface):
            raise ConfigError("start — required when f is a plain function")
        start = surface.start
    theta = torch.tensor([float(v) for v in start], dtype=torch.float64, requires_grad=True)
    opt = optim.create(optimizer, [theta], **hyper)
    gen = torch.Generator().manual_seed(seed)
    points, losses, lrs = [theta.detach().clone()], [float(f(theta.detach()))], []
    diverged = False
    for t in range(steps):
        if schedule is not None:
            for group in opt.param_groups:
                group["lr"] = schedule(t)
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad(set_to_none=True)
        loss = f(theta)
        loss.backward()
        if noise:
            theta.grad.add_(torch.randn(2, generator=gen, dtype=torch.float64), alpha=noise)
        opt.step()
        point = theta.detach().clone()
        value = float(f(point))
        if not (bool(torch.isfinite(point).all()) and math.isfinite(value)):
            diverged = True
            break
        points.append(point)
        losses.append(value)
    return Trajectory(torch.stack(points).numpy(), np.array(losses), np.array(lrs, dtype=float), diverged)


@dataclass(frozen=True)
class CriticalPoint:
    point: tuple[float, float]
    kind: str  # "minimum" | "maximum" | "saddle" | "degenerate"
    eigenvalues: tuple[float, float]  # of the Hessian, ascending
    value: float


def gradient(f: Fn, point: Sequence[float]) -> np.ndarray:
    theta = torch.tensor([float(v) for v in point], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(f(theta), theta)
    return g.numpy()


def hessian(f: Fn, point: Sequence[float]) -> np.ndarray:
    theta = torch.tensor([float(v) for v in point], dtype=torch.float64)
    return torch.autograd.functional.hessian(f, theta).numpy()


def classify(f: Surface | Fn, point: Sequence[float], tol: float = 1e-8) -> CriticalPoint:
    """The kind of the critical point by the signs of the Hessian's eigenvalues (|λ| ≤ tol counts
    as zero → "degenerate")."""
    fn = f.f if isinstance(f, Surface) else f
    eig = np.linalg.eigvalsh(hessian(fn, point))
    if np.all(np.abs(eig) > tol):
        kind = "minimum" if np.all(eig > 0) else "maximum" if np.all(eig < 0) else "saddle"
    else:
        kind = "degenerate"
    value = float(fn(torch.tensor([float(v) for v in point], dtype=torch.float64)))
    return CriticalPoint((float(point[0]), float(point[1])), kind, (float(eig[0]), float(eig[1])), value)


def find_critical_points(surface: Surface, grid: int = 9, iters: int = 60, tol: float = 1e-9) -> list[CriticalPoint]:
    """All critical points Newton's method on ∇f = 0 reaches from a grid×grid set of starts in the
    view box, deduplicated (to 1e-5) and classified; sorted by f."""
    found: list[CriticalPoint] = []
    for x0 in np.linspace(*surface.xlim, grid):
        for y0 in np.linspace(*surface.ylim, grid):
            p = np.array([x0, y0])
            for _ in range(iters):
                g = gradient(surface.f, p)
                if np.linalg.norm(g) < tol:
                    break
                try:
                    p = p - np.linalg.solve(hessian(surface.f, p), g)
                except np.linalg.LinAlgError:
                    break
                if not np.all(np.isfinite(p)) or np.abs(p).max() > 1e6:
                    break
            inside = surface.xlim[0] <= p[0] <= surface.xlim[1] and surface.ylim[0] <= p[1] <= surface.ylim[1]
            if np.all(np.isfinite(p)) and inside and np.linalg.norm(gradient(surface.f, p)) < 1e-7 and \
                    all(np.hypot(*(p - np.array(c.point))) > 1e-5 for c in found):
                found.append(classify(surface, p))
    return sorted(found, key=lambda c: c.value)


def plot_trajectories(ax, surface: Surface, trajectories: dict[str, Trajectory], levels: int = 30,
                      colors: Sequence[str] | None = None) -> None:
    """Contours of f with each trajectory (start ○, end ×) and the known minima (★) on `ax`."""
    X, Y, Z = surface.grid()
    if surface.log_levels:
        lo = max(float(Z.min()), 1e-3)
        ax.contour(X, Y, Z, levels=np.logspace(np.log10(lo), np.log10(float(Z.max())), levels),
                   cmap="Greys", linewidths=0.6, alpha=0.7)
    else:
        ax.contour(X, Y, Z, levels=levels, cmap="Greys", linewidths=0.6, alpha=0.7)
    for m in surface.minima:
        ax.plot(*m, marker="*", color="gold", markeredgecolor="black", markersize=12, zorder=5)
    palette = colors or [f"C{i}" for i in range(10)]
    for (label, run), color in zip(trajectories.items(), palette * (len(trajectories) // len(palette) + 1)):
        pts = run.points
        ax.plot(pts[:, 0], pts[:, 1], "-", color=color, linewidth=1.4, label=label + (" (diverged)" if run.diverged else ""))
        ax.plot(pts[0, 0], pts[0, 1], "o", color=color, markersize=5, fillstyle="none")
        ax.plot(pts[-1, 0], pts[-1, 1], "x", color=color, markersize=7)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("θ₁ (x)")
    ax.set_ylabel("θ₂ (y)")
    ax.set_title(f"f = {surface.formula}", fontsize=9)
