"""Writes the small data files the examples use (deterministic: run it again, get the same bytes).

    python examples/make_data.py      # → examples/data/houses.csv, blobs.npz, shapes/{circle,square}/*.png
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent / "data"


def houses(rng: np.random.Generator, n: int = 400) -> None:
    """A regression table: price (k€) from area (m²), rooms, age (years) and distance (km),
    price = 2.5·area + 12·rooms − 0.8·age − 6·distance + 40 + noise(σ = 15)."""
    area = rng.uniform(30, 200, n).round(1)
    rooms = rng.integers(1, 7, n)
    age = rng.integers(0, 80, n)
    distance = rng.uniform(0.5, 30, n).round(2)
    price = 2.5 * area + 12 * rooms - 0.8 * age - 6 * distance + 40 + rng.normal(0, 15, n)
    lines = ["area,rooms,age,distance,price"]
    lines += [f"{a},{r},{g},{d},{p:.1f}" for a, r, g, d, p in zip(area, rooms, age, distance, price)]
    (HERE / "houses.csv").write_text("\n".join(lines) + "\n")


def blobs(rng: np.random.Generator, n: int = 600) -> None:
    """A classification set: 3 Gaussian blobs in 4-D (unit variance, centres 3 apart), x (n, 4)
    float32 and integer labels y (n,)."""
    y = np.arange(n) % 3
    centres = 3.0 * np.eye(3, 4)
    x = (centres[y] + rng.normal(size=(n, 4))).astype(np.float32)
    np.savez(HERE / "blobs.npz", x=x, y=y)


def shapes(rng: np.random.Generator, n: int = 20, size: int = 16) -> None:
    """An image folder: n grey PNGs per class of a filled circle or square of random size and
    place on a noisy background."""
    from PIL import Image

    yy, xx = np.mgrid[:size, :size]
    for kind in ("circle", "square"):
        folder = HERE / "shapes" / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            r = rng.uniform(3, 6)
            cy, cx = rng.uniform(r, size - r, 2)
            inside = (np.hypot(yy - cy, xx - cx) <= r) if kind == "circle" else \
                (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
            pixels = np.clip(40 + 180 * inside + rng.normal(0, 20, (size, size)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:02d}.png", optimize=True)


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    houses(rng)
    blobs(rng)
    shapes(rng)
