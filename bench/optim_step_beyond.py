"""Steady-state step time of the optimizers beyond the chapter: nnopt vs the fastest reference
implementation of the same algorithm (torch.optim's foreach or for-loop, lion-pytorch,
pytorch-optimizer, schedulefree), in the two regimes of `optim_step.py` (~10M float32 parameters
in ~50 tensors of a CNN + MLP head; 500 tensors of 1,000 elements), one thread on CPU.

Per optimizer: the median step time (ms) of each reference implementation, the best of them,
nnopt's default (the transforms' _foreach ops; nonfinite="ignore", no screen, as the references)
and, with --compiled, compile=True (compile time excluded); the ratios to the best reference.
Steps are taken round robin (see optim_step.py). SAM's step is timed with a closure that leaves
the gradients as they are, so the row is SAM's own work (perturb, restore, base step), not the
second forward/backward. Muon's Newton–Schulz runs five bfloat16 matmul chains per matrix: its row
takes --muon-steps steps.

    python bench/optim_step_beyond.py [--steps 20] [--only lion,lamb] [--compiled] [--per-tensor] [--device cuda]
                                      [--regime cnn,small]

--per-tensor adds nnopt with foreach=False (the chain run one tensor at a time: what torch's
for-loop does). The default cuts elementwise chains (NAdam included) into cache-sized blocks and
runs tensorwise ones (LARS, LAMB, Adafactor, Muon: per-tensor norms) on groups of whole tensors.
"""
from __future__ import annotations

import argparse

import torch
from optim_step import REGIMES, make_params, round_robin, sync

import nnopt.optim as O


def _refs():
    """name → (nnopt hyperparameters, {reference label: factory(params)})."""
    import lion_pytorch
    import pytorch_optimizer as po
    import schedulefree as sf
    from lion_pytorch.foreach import Lion as LionForeach

    def torch_pair(cls, **kw):
        return {"foreach": lambda ps: cls(ps, foreach=True, **kw), "for-loop": lambda ps: cls(ps, foreach=False, **kw)}

    def muon(ps):
        two, rest = [p for p in ps if p.ndim == 2], [p for p in ps if p.ndim != 2]
        return _Both(torch.optim.Muon(two, lr=0.02), torch.optim.AdamW(rest, lr=3e-4, weight_decay=0.0, fused=True))

    def sam(ps, foreach):
        return po.SAM(ps, torch.optim.Adam, rho=0.05, foreach=foreach, **({} if foreach else {"fused": True}))

    return {
        "nadam": ({}, torch_pair(torch.optim.NAdam)),
        "radam": ({}, torch_pair(torch.optim.RAdam)),
        "adamax": ({}, torch_pair(torch.optim.Adamax)),
        "adafactor": ({}, torch_pair(torch.optim.Adafactor)),
        "lion": ({}, {"lion-pytorch": lambda ps: lion_pytorch.Lion(ps),
                      "lion-pytorch foreach": lambda ps: LionForeach(ps)}),
        "lars": ({"lr": 1e-3}, {"p-o foreach": lambda ps: po.LARS(ps, foreach=True),
                                "p-o for-loop": lambda ps: po.LARS(ps, foreach=False)}),
        "lamb": ({"bias_correction": False}, {
            "p-o foreach": lambda ps: po.Lamb(ps, foreach=True, weight_decouple=False, adam_debias=True),
            "p-o for-loop": lambda ps: po.Lamb(ps, foreach=False, weight_decouple=False, adam_debias=True)}),
        "sam": ({"base": "adam"}, {"p-o foreach": lambda ps: sam(ps, True),
                                   "p-o for-loop, fused Adam": lambda ps: sam(ps, False)}),
        "schedule_free_sgd": ({}, {"sf foreach": lambda ps: _train(sf.SGDScheduleFree(ps, foreach=True)),
                                   "sf for-loop": lambda ps: _train(sf.SGDScheduleFree(ps, foreach=False))}),
        "schedule_free_adamw": ({}, {"sf foreach": lambda ps: _train(sf.AdamWScheduleFree(ps, foreach=True)),
                                     "sf for-loop": lambda ps: _train(sf.AdamWScheduleFree(ps, foreach=False))}),
        "muon": ({"adamw_weight_decay": 0.0}, {"torch Muon+AdamW": muon}),
    }


def _train(opt):
    opt.train()
    return opt


class _Both:
    def __init__(self, *opts):
        self.opts = opts

    def step(self, closure=None):
        for o in self.opts:
            o.step()


class _Stepper:
    """opt.step() for the round robin; for SAM with a closure that puts the same gradients back
    (pytorch-optimizer's SAM sets them to None before calling it)."""

    def __init__(self, opt, params):
        self.opt = opt
        grads = [p.grad for p in params]

        def closure():
            for p, g in zip(params, grads):
                p.grad = g
        self.closure = closure if getattr(opt, "needs_closure", False) or hasattr(opt, "first_step") else None

    def step(self):
        if self.closure is None:
            self.opt.step()
        else:
            self.opt.step(self.closure)


def main():
    refs = _refs()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--muon-steps", type=int, default=4)
    ap.add_argument("--only", default=",".join(refs))
    ap.add_argument("--compiled", action="store_true", help="also time compile=True (compiles each optimizer)")
    ap.add_argument("--per-tensor", action="store_true", help="also time foreach=False")
    ap.add_argument("--regime", default=",".join(REGIMES), help="cnn (~10M elements), small (500 × 1,000)")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    for regime in args.regime.split(","):
        table(regime, REGIMES[regime], refs, args, device)


def table(regime: str, shaped, refs: dict, args, device) -> None:
    numel = sum(torch.Size(s).numel() for s in shaped())
    print(f"\n[{regime}] {len(shaped())} tensors, {numel / 1e6:.1f}M float32 params, device {device}, 1 thread, "
          f"torch {torch.__version__}; medians of {args.steps} steps (ms)")
    head = f"{'optimizer':20} {'references (ms)':48} {'best':>8} {'nnopt':>8} {'nnopt/best':>10}"
    head += f" {'compiled':>8} {'comp./best':>10}" if args.compiled else ""
    head += f" {'per-tensor':>10} {'p-t/best':>8}" if args.per_tensor else ""
    print(head)
    print("-" * len(head))
    for name in args.only.split(","):
        ours, theirs = refs[name]
        opts = {}
        for label, make in theirs.items():
            params = make_params(device, shaped)
            opts[label] = _Stepper(make(params), params)
        for label, options, wanted in (("nnopt", {}, True), ("compiled", {"compile": True}, args.compiled),
                                       ("per-tensor", {"foreach": False}, args.per_tensor)):
            if wanted:
                params = make_params(device, shaped)
                opts[label] = _Stepper(O.create(name, params, nonfinite="ignore", **ours, **options), params)
        if args.compiled:
            opts["compiled"].step()
            opts["compiled"].step()  # compiles at step 2
        steps = args.muon_steps if name == "muon" else args.steps
        t = round_robin(opts, device, steps, warmup=2)
        mine = {k: t.pop(k) for k in ("nnopt", "compiled", "per-tensor") if k in t}
        best = min(t.values())
        listed = ", ".join(f"{k} {v * 1e3:.1f}" for k, v in t.items())
        row = f"{name:20} {listed:48} {best * 1e3:8.2f} {mine['nnopt'] * 1e3:8.2f} {mine['nnopt'] / best:10.2f}"
        if args.compiled:
            row += f" {mine['compiled'] * 1e3:8.2f} {mine['compiled'] / best:10.2f}"
        if args.per_tensor:
            row += f" {mine['per-tensor'] * 1e3:10.2f} {mine['per-tensor'] / best:8.2f}"
        print(row, flush=True)
        del opts
        sync(device)


if __name__ == "__main__":
    main()
