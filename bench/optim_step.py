"""Steady-state optimizer step time: nnopt vs torch.optim's fastest implementation of the same
algorithm, in two regimes: ~10M float32 parameters in ~50 tensors shaped like a CNN + MLP head
(bandwidth-bound), and 500 tensors of 1,000 elements (half 25×40 matrices, half vectors: the
fixed cost of a step — Python and per-tensor work — dominates).

Prints, per optimizer: median step times (ms) of torch's best (fused where torch has it, else the
faster of for-loop and foreach); nnopt's default configuration (torch's fused kernel where there
is one, else the cache-blocked torch._foreach_* path; no non-finite screen, as torch), the same
with the device-side screen nonfinite="skip" (what the screen costs), compile=True (the
torch.compile'd update, compile time excluded) and the transforms alone (fused=False,
compile=False), the last two without a screen; the ratios to torch's best; and the default's effective
bandwidth (the bytes the algorithm must move per step / time) as a fraction of a triad
a = b + s·c measured in the same process. The
optimizers of a row take their steps in turn (round robin, starting one further each round), so
a slow spell of a shared machine, or the cache state one leaves to the next, hits them all alike. One thread on CPU.

    python bench/optim_step.py [--device cuda] [--steps 30] [--only adam,sgd] [--regime cnn,small]
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


# nnopt's configurations, by column: the default (no options), with the non-finite screen, compiled,
# the transforms alone.
VARIANTS = {"default": {}, "skip": {"nonfinite": "skip"}, "compiled": {"compile": True},
            "transforms": {"fused": False, "compile": False}}


def shapes() -> list[tuple[int, ...]]:
    """The "cnn" regime: a VGG-like CNN (conv weight, bias, norm weight, norm bias per layer) and
    an MLP head."""
    out = []
    chans = [3, 64, 64, 128, 128, 256, 256, 256, 384, 384, 384, 384]
    for c_in, c_out in zip(chans, chans[1:]):
        out += [(c_out, c_in, 3, 3), (c_out,), (c_out,), (c_out,)]
    out += [(384 * 4, 1024), (1024,), (1024, 1024), (1024,), (1024, 10), (10,)]
    return out


REGIMES = {"cnn": shapes, "small": lambda: [(25, 40), (1000,)] * 250}


def make_params(device, shaped=shapes):
    """Parameters with gradients, of the shapes `shaped()` gives."""
    gen = torch.Generator().manual_seed(0)
    params = []
    for s in shaped():
        p = torch.nn.Parameter((torch.randn(s, generator=gen) * 0.05).to(device))
        p.grad = (torch.randn(s, generator=gen) * 1e-2).to(device)
        params.append(p)
    return params


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def round_robin(opts: dict, device, steps: int, warmup: int) -> dict:
    """Median step time of each optimizer, their steps taken in turn; round r starts at the r-th."""
    for _ in range(warmup):
        for opt in opts.values():
            opt.step()
    sync(device)
    times: dict = {name: [] for name in opts}
    names = list(opts)
    for r in range(steps):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter()
            opts[name].step()
            sync(device)
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


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


def torch_impls(cls, hyper, device, shaped) -> dict:
    """torch's fused implementation where it has one (for the device), else its foreach and
    for-loop ones."""
    try:
        opt = cls(make_params(device, shaped), **hyper, fused=True)
        opt.step()
        return {"fused": opt}
    except (RuntimeError, TypeError, ValueError):
        return {"foreach": cls(make_params(device, shaped), **hyper, foreach=True),
                "for-loop": cls(make_params(device, shaped), **hyper, foreach=False)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--only", default=",".join(CASES))
    ap.add_argument("--regime", default=",".join(REGIMES), help="cnn (~10M elements), small (500 × 1,000)")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="nnopt's columns besides the default (compiled compiles each optimizer: minutes "
                         "for the 500 tensors of the small regime)")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    variants = {k: VARIANTS[k] for k in VARIANTS if k == "default" or k in args.variants.split(",")}
    for regime in args.regime.split(","):
        table(regime, REGIMES[regime], args.only.split(","), device, args.steps, variants)


def table(regime: str, shaped, names: list[str], device, steps: int, variants: dict) -> None:
    numel = sum(torch.Size(s).numel() for s in shaped())
    print(f"\n[{regime}] {len(shaped())} tensors, {numel / 1e6:.1f}M float32 params, device {device}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; medians of {steps} steps "
          f"(ms); the triad is measured again before each row (a shared machine: ±10% noise)")
    head = f"{'optimizer':10} {'torch best':>16} " + " ".join(f"{k:>10} {k[:6] + '/torch':>12}" for k in variants)
    head += f" {'default BW/triad':>16}" + (f" {'compile s':>9}" if "compiled" in variants else "")
    print(head)
    print("-" * len(head))
    for name in names:
        ours, cls, theirs, moved = CASES[name]
        triad = triad_bandwidth(numel, device, steps)
        opts = {f"torch {k}": v for k, v in torch_impls(cls, theirs, device, shaped).items()}
        for key, options in variants.items():
            opts[key] = O.create(name, make_params(device, shaped), **ours, **options)
        compile_s = None
        if "compiled" in opts:
            start = time.perf_counter()
            opts["compiled"].step()
            opts["compiled"].step()  # a compiled update compiles at step 2
            sync(device)
            compile_s = time.perf_counter() - start
        t = round_robin(opts, device, steps, warmup=3)
        which = min((k for k in t if k.startswith("torch ")), key=t.get)
        best = t[which]
        bw = moved * 4 * numel / t["default"]
        row = f"{name:10} {best * 1e3:8.2f} {which[6:]:>7} " + " ".join(
            f"{t[k] * 1e3:10.2f} {t[k] / best:12.2f}" for k in variants)
        row += f" {bw / triad:16.2f}" + (f" {compile_s:9.1f}" if compile_s is not None else "")
        print(row, flush=True)
        del opts


if __name__ == "__main__":
    main()
