"""Batched per-sample image augmentation vs a per-image loop doing the same ops, in one process.

Pipeline: hflip p=0.5 → rotation ±15° · scale [0.9, 1.1] · translate 0.1 (one resampling) → noise
σ=0.05, on a Fashion-MNIST-sized batch (B, 1, 28, 28). The loop draws each image's parameters and
runs flip / grid_sample / noise on that image alone — what a per-sample Dataset transform does.
kornia's RandomAffine is a second anchor when kornia is installed (it is not a dependency).
Reports images/s (median of repeats) and the ratio to the loop.

    python bench/augment.py [--batch 512] [--repeats 7] [--threads 1] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from nnopt.augment import image as im
from nnopt.report import format_table

PARAMS = {"hflip": 0.5, "rotation": 15.0, "scale": (0.9, 1.1), "translate": 0.1, "noise": 0.05}


def per_image_loop(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The same ops, one image at a time (parameters drawn per image)."""
    out = []
    for img in x:
        img = img.unsqueeze(0)
        u = torch.rand(5, generator=generator, device=generator.device).tolist()
        if u[0] < PARAMS["hflip"]:
            img = img.flip(-1)
        angle = (2 * u[1] - 1) * PARAMS["rotation"]
        low, high = PARAMS["scale"]
        scale = low + (high - low) * u[2]
        h, w = img.shape[-2:]
        dx, dy = (2 * u[3] - 1) * PARAMS["translate"] * w, (2 * u[4] - 1) * PARAMS["translate"] * h
        one = lambda v: torch.tensor([v], device=x.device)  # noqa: E731
        m = im.shift_matrix(one(dx), one(dy)) @ im.scale_matrix(one(scale)) @ im.rotation_matrix(one(angle))
        img = im.warp(img, m)
        img = img + PARAMS["noise"] * torch.randn(img.shape, generator=generator, device=generator.device)
        out.append(img)
    return torch.cat(out)


def kornia_pipeline():
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    seq = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=PARAMS["hflip"]),
        K.RandomAffine(degrees=PARAMS["rotation"], translate=(PARAMS["translate"],) * 2,
                       scale=PARAMS["scale"], p=1.0),
        K.RandomGaussianNoise(std=PARAMS["noise"], p=1.0))
    return lambda x, g: seq(x)


def images_per_s(fn, x, device, repeats: int) -> float:
    g = torch.Generator(device=device).manual_seed(0)
    fn(x, g)  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn(x, g)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return len(x) / statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    x = torch.rand(args.batch, 1, 28, 28, device=device)
    methods = {"per-image loop": per_image_loop, "nnopt batched": im.pipeline(**PARAMS)}
    if (k := kornia_pipeline()) is not None:
        methods["kornia batched"] = k
    rates = {name: images_per_s(fn, x, device, args.repeats) for name, fn in methods.items()}
    base = rates["per-image loop"]
    print(f"batch {args.batch}×1×28×28 on {device} ({torch.get_num_threads()} thread(s)), "
          f"median of {args.repeats}")
    print(format_table(["method", "images/s", "× loop"],
                       [[name, f"{r:,.0f}", f"{r / base:.1f}"] for name, r in rates.items()]))


if __name__ == "__main__":
    main()
