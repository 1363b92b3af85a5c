"""Steady-state optimizer step time: nnopt (eager and fused) vs torch.optim's fastest implementation
of the same algorithm, on ~10M float32 parameters in ~50 tensors shaped like a CNN + MLP head.

Prints, per optimizer: median step times (ms) of torch's best (fused where torch has it, else the
faster of for-loop and foreach), nnopt eager (torch._foreach_*) and nnopt fused (torch.compile,
compile time excluded); the ratios to torch's best; and nnopt fused's effective bandwidth (the
bytes the algorithm must move per step / time) as a fraction of a triad a = b + s·c measured in
the same process. One thread on CPU.

    python bench/optim_step.py [--device cuda] [--steps 30] [--only adam,sgd]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import nnopt.optim as O

# name → (nnopt hyperparameters, torch class, torch hyperparameters, tensors moved per element:
#         reads + writes of θ, g and each state buffer)
CASES = {
    "sgd": ({}, torch.optim.SGD, {}, 3),
    "momentum": ({"momentum": 0.9}, torch.optim.SGD, {"momentum": 0.9}, 5),
    "nesterov": ({"momentum": 0.9}, torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, 5),
    "adagrad": ({}, torch.optim.Adagrad, {}, 5),
    "rmsprop": ({}, torch.optim.RMSprop, {}, 5),
    "adadelta": ({}, torch.optim.Adadelta, {}, 7),
    "adam": ({}, torch.optim.Adam, {}, 7),
    "adamw": ({}, torch.optim.AdamW, {}, 7),
}


def shapes() -> list[tuple[int, ...]]:
    """A VGG-like CNN (conv weight, bias, norm weight, norm bias per layer) and an MLP head."""
    out = []
    chans = [3, 64, 64, 128, 128, 256, 256, 256, 384, 384, 384, 384]
    for c_in, c_out in zip(chans, chans[1:]):
        out += [(c_out, c_in, 3, 3), (c_out,), (c_out,), (c_out,)]
    out += [(384 * 4, 1024), (1024,), (1024, 1024), (1024,), (1024, 10), (10,)]
    return out


def make_params(device):
    gen = torch.Generator().manual_seed(0)
    params = []
    for s in shapes():
        p = torch.nn.Parameter((torch.randn(s, generator=gen) * 0.05).to(device))
        p.grad = (torch.randn(s, generator=gen) * 1e-2).to(device)
        params.append(p)
    return params


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_step(opt, device, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        opt.step()
    sync(device)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.step()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def triad_bandwidth(numel: int, device, steps: int) -> float:
    """Bytes/s of a = b + s·c (3 arrays of `numel` float32)."""
    b, c = torch.rand(numel, device=device), torch.rand(numel, device=device)
    a = torch.empty_like(b)
    times = []
    for _ in range(steps + 5):
        t = time.perf_counter()
        torch.add(b, c, alpha=0.5, out=a)
        sync(device)
        times.append(time.perf_counter() - t)
    return 3 * 4 * numel / statistics.median(times[5:])


def torch_best(cls, hyper, device, steps):
    """Median step time of torch's fastest implementation: fused where it has one, else the
    faster of foreach and for-loop. Returns (seconds, which)."""
    results = {}
    for impl in ({"fused": True}, {"foreach": True}, {"foreach": False}):
        try:
            opt = cls(make_params(device), **hyper, **impl)
            results[next(iter(impl)) if impl.get("fused") or impl.get("foreach") else "for-loop"] = \
                median_step(opt, device, steps, warmup=3)
        except (RuntimeError, TypeError, ValueError):
            continue
        if "fused" in results:
            break
    which = min(results, key=results.get)
    return results[which], which


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--only", default=",".join(CASES))
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    numel = sum(torch.Size(s).numel() for s in shapes())
    print(f"{len(shapes())} tensors, {numel / 1e6:.1f}M float32 params, device {device}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; medians of {args.steps} steps "
          f"(ms); the triad is measured again before each row")
    head = (f"{'optimizer':10} {'torch best':>16} {'nnopt eager':>11} {'nnopt fused':>11} {'eager/torch':>11} "
            f"{'fused/torch':>11} {'triad GB/s':>10} {'fused BW/triad':>14} {'compile s':>9}")
    print(head)
    print("-" * len(head))
    for name in args.only.split(","):
        ours, cls, theirs, moved = CASES[name]
        triad = triad_bandwidth(numel, device, args.steps)
        t_torch, which = torch_best(cls, theirs, device, args.steps)
        eager = O.create(name, make_params(device), **ours, fused=False, nonfinite="ignore")
        t_eager = median_step(eager, device, args.steps, warmup=3)
        fused = O.create(name, make_params(device), **ours, fused=True, nonfinite="ignore")
        start = time.perf_counter()
        fused.step()
        fused.step()  # step 2 compiles
        sync(device)
        compile_s = time.perf_counter() - start
        t_fused = median_step(fused, device, args.steps, warmup=3)
        bw = moved * 4 * numel / t_fused
        print(f"{name:10} {t_torch * 1e3:8.2f} {which:>7} {t_eager * 1e3:11.2f} {t_fused * 1e3:11.2f} "
              f"{t_eager / t_torch:11.2f} {t_fused / t_torch:11.2f} {triad / 1e9:10.1f} {bw / triad:14.2f} {compile_s:9.1f}",
              flush=True)


if __name__ == "__main__":
    main()
