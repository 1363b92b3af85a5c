"""What the doctor measures itself, beyond a run's records: the run's own model rebuilt from its
recipe and seed (the network as training started), its final weights (``model.pt``), the training
inputs, and a short learning-rate range test.

    inputs      RMS of the training inputs √mean(x²) and the largest per-feature |mean|/std ratio
    at init     on a probe batch P (the first 512 training samples): the loss L₀, the std of each
                affine layer's pre-activations z_l, the logits' std, the gradient norm ‖∇W_l L₀‖ of
                each weight matrix, the hidden layers whose units start identical (rows of W_l equal),
                and the share of dead ReLU units (output 0 on all of P)
    at the end  the dead units of the final weights, and their loss on P in eval mode (batch norm's
                running statistics) beside the run's logged train-mode loss, and the standard error
                s/√n of the validation loss (s: the std of the n validation samples' losses)
    recurrent   the spectral radius ρ of each initial recurrent matrix (per gate)
    reference   what the data allow: a 5-nearest-neighbour vote's validation accuracy (classification)
    range test  Smith 2017 (§3.3, "LR range test"): from the initial weights, η_i = η_lo·(η_hi/η_lo)^{i/(n−1)}
                for n = 150 steps of the run's optimizer, batch size and penalty; the data loss is
                smoothed by an exponential average (β = 0.9, bias-corrected) and the test stops once it
                exceeds 4× its minimum. η* is the lr of the smoothed minimum; the suggested lr is η*/10.
                The minimum is sought from step 1/(1−β) = 10 on: before it the average holds fewer
                batches (step 1: one), and the lowest of a few noisy values is chance, not a best lr
                (fashion-w1@t4: one batch of 2.21 at η = 1e-5 against 2.3–2.4 everywhere else).

The model is rebuilt with the run's recipe (`nnopt.train.build`, seeded by ``train.seed``) on the
CPU; a recipe that no longer builds gives no probe (the checks that need it are skipped).
"""
from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..train.layer_stats import PROBE, dead_units
from ..train.rundir import RunDir

RANGE_STEPS, RANGE_LO, RANGE_HI, RANGE_BETA, RANGE_STOP = 150, 1e-5, 10.0, 0.9, 4.0
RANGE_WINDOW = round(1 / (1 - RANGE_BETA))  # batches in the smoothed loss: its minimum counts from here on
KNN_K, KNN_TRAIN, KNN_VAL = 5, 2000, 1000
FIT_BATCH, FIT_STEPS = 128, 300  # the batch a model must be able to fit, and the full-batch steps it gets


def informative(rt: dict, l0: float) -> bool:
    """Whether a range test names a best lr: some lr brought the loss below 0.9·L₀ (`l0`, the loss at init)."""
    return rt["min_loss"] < 0.9 * l0


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The affine layers (Linear, Conv) in forward (registration) order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def is_recurrent(model: nn.Module) -> bool:
    return any(isinstance(m, nn.RNNBase) or "rnn" in type(m).__name__.lower() for m in model.modules())


class Probe:
    """The measurements above for the recipe `raw` (a dict as recipe.toml holds it) of `run_dir`."""

    def __init__(self, raw: dict, run_dir: Path):
        from ..recipe import Recipe
        from ..train import build

        raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
        raw["train"] = {**raw.get("train", {}), "device": "cpu"}
        self.recipe = Recipe(raw)
        self.run_dir = run_dir
        torch_threads = torch.get_num_threads()
        self.setup = build(self.recipe)
        torch.set_num_threads(torch_threads)
        self.data = self.setup.data
        self.model = self.setup.model
        self.init_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        x, y = self.data.train.x[:PROBE], self.data.train.y[:PROBE]
        self.x, self.y = x, y
        self.classification = getattr(self.data, "task", "classification") == "classification" and \
            self.data.n_classes > 0
        self.n_classes = self.data.n_classes if self.classification else 0
        self.recurrent = is_recurrent(self.model)

    def losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each sample's loss: cross-entropy for classification, squared error (mean over outputs) for
        regression."""
        if self.classification:
            return F.cross_entropy(out, y, reduction="none")
        err = F.mse_loss(out.reshape(y.shape) if out.numel() == y.numel() else out, y, reduction="none")
        return err.reshape(len(err), -1).mean(1)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean of `losses` (the training objective without a penalty)."""
        return self.losses(out, y).mean()

    # the inputs
    @cached_property
    def input_rms(self) -> float:
        """√mean(x²) over every training input value (1 for standardized inputs)."""
        x = self.data.train.x
        return float(x.double().pow(2).mean().sqrt()) if x.is_floating_point() else 0.0

    # the network as training started
    @cached_property
    def init(self) -> dict:
        """{loss, min_width (of the hidden affine layers), logit_std, pre_std: [per affine layer],
        grads: [(name, ‖∇W‖)], symmetric: [(name, units)], dead: {ReLU name: share}} of the initial weights on the probe batch (train mode)."""
        model = self.model
        model.load_state_dict(self.init_state)
        layers = weight_layers(model)
        pre: dict[str, float] = {}
        hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: pre.__setitem__(
            name, float(out.detach().double().std()))) for name, m in layers]
        model.train()
        model.zero_grad(set_to_none=True)
        try:
            out = model(self.x)
            loss = self.loss(out, self.y)
            loss.backward()
        finally:
            for h in hooks:
                h.remove()
        grads = [(n, float(m.weight.grad.norm())) for n, m in layers
                 if m.weight.grad is not None]
        symmetric = []
        for name, m in layers[:-1]:  # hidden layers: the output layer's rows are the classes
            w = m.weight.detach().reshape(m.weight.shape[0], -1)
            if w.shape[0] > 1 and bool((w == w[:1]).all()):
                symmetric.append((name, w.shape[0]))
        model.zero_grad(set_to_none=True)
        widths = [m.weight.shape[0] for _, m in layers[:-1]]
        return {"loss": float(loss.detach()), "min_width": min(widths, default=0), "logit_std": float(out.detach().double().std()),
                "pre_std": [pre[n] for n, _ in layers if n in pre], "grads": grads, "symmetric": symmetric,
                "dead": dead_units(model, self.x)}

    # the network as training ended
    @cached_property
    def final(self) -> dict | None:
        """{dead: {ReLU name: share}, eval_loss: loss on P in eval mode, val_loss_se} of model.pt; None
        without it. val_loss_se is the standard error of the validation loss, s/√n over the n validation
        samples' losses ℓᵢ (s their sample standard deviation; None with < 2 validation samples): how
        much the mean of n noisy per-sample losses moves by chance."""
        try:
            state = RunDir(self.run_dir).model_state()
            self.model.load_state_dict(state)
        except (ConfigError, RuntimeError):  # no, a damaged or a foreign model.pt: those checks skip
            return None
        if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
            return None
        self.model.eval()
        with torch.no_grad():
            eval_loss = float(self.loss(self.model(self.x), self.y))
            val = self.data.val
            val_losses = self.losses(self.model(val.x), val.y).double() if len(val) >= 2 else None
        se = float(val_losses.std() / math.sqrt(len(val_losses))) if val_losses is not None else None
        result = {"dead": dead_units(self.model, self.x), "eval_loss": eval_loss, "val_loss_se": se}
        self.model.load_state_dict(self.init_state)
        return result

    def seeded(self, measure):
        """`measure()` from the initial weights, deterministic: one thread and its own RNG seeded by the
        run's seed (dropout's masks), whatever ran before it in the process; the initial weights after."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.recipe.train["seed"])
                self.model.load_state_dict(self.init_state)
                self.model.train()
                return measure()
        finally:
            self.model.load_state_dict(self.init_state)
            torch.set_num_threads(threads)

    def optimizer(self) -> torch.optim.Optimizer:
        """A fresh optimizer of the run's kind and settings over the model."""
        from ..registry import OPTIMIZERS

        return OPTIMIZERS.create(self.recipe.optimizer["name"], self.model.named_parameters(), field="optimizer",
                                 nonfinite="ignore", **self.recipe.params("optimizer"))

    def step(self, optimizer: torch.optim.Optimizer, lr: float, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One step at `lr` (each group at its scale) on the data loss + the run's penalty; the data loss,
        or a non-finite one without a step."""
        for g, scale in zip(optimizer.param_groups, self.setup.lr_scales):
            g["lr"] = lr * scale
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(self.model(x), y)  # the data loss, as the run logs it
        extra = self.setup.penalty()
        if torch.isfinite(loss):
            (loss if extra is None else loss + extra).backward()
            optimizer.step()
        return loss.detach()

    @cached_property
    def range_test(self) -> dict:
        """Smith's lr range test from the initial weights: {lrs, losses (smoothed), best_lr, suggested}."""
        return self.seeded(self._range_test)

    @cached_property
    def batch_fit(self) -> dict | None:
        """Whether the model can fit a few samples at all ("overfit a single batch", Karpathy 2019, A
        Recipe for Training Neural Networks): `FIT_STEPS` full-batch steps of the run's optimizer, its
        settings and penalty, from the initial weights on `FIT_BATCH` training samples drawn at random, at the
        range test's suggested lr (the run's own when the test is too flat to name one):
        {n, lr, accuracy} — accuracy on those samples in eval mode. None for regression."""
        if not self.classification:
            return None
        rt = self.range_test
        lr = rt["suggested"] if informative(rt, self.init["loss"]) else self.recipe.optimizer["lr"]
        # a seeded random batch (the first samples of a split can all be one class: the 2-D sets are ordered)
        idx = torch.randperm(len(self.data.train), generator=torch.Generator().manual_seed(
            self.recipe.train["seed"]))[:FIT_BATCH]
        x, y = self.data.train.x[idx], self.data.train.y[idx]

        def fit() -> dict:
            optimizer = self.optimizer()
            for _ in range(FIT_STEPS):
                if not torch.isfinite(self.step(optimizer, lr, x, y)):
                    break
            self.model.eval()
            with torch.no_grad():
                accuracy = float((self.model(x).argmax(1) == y).double().mean())
            return {"n": len(y), "lr": lr, "accuracy": accuracy}

        return self.seeded(fit)

    def _range_test(self) -> dict:
        optimizer = self.optimizer()
        batch = min(self.recipe.train["batch_size"], len(self.data.train))
        gen = torch.Generator().manual_seed(self.recipe.train["seed"])
        x, y = self.data.train.x, self.data.train.y
        lrs, losses, avg, best = [], [], 0.0, math.inf
        for i in range(RANGE_STEPS):
            lr = RANGE_LO * (RANGE_HI / RANGE_LO) ** (i / (RANGE_STEPS - 1))
            idx = torch.randint(len(x), (batch,), generator=gen)
            loss = self.step(optimizer, lr, x[idx], y[idx])
            if not torch.isfinite(loss):
                break
            avg = RANGE_BETA * avg + (1 - RANGE_BETA) * float(loss)
            smooth = avg / (1 - RANGE_BETA ** (i + 1))
            lrs.append(lr)
            losses.append(smooth)
            if i >= RANGE_WINDOW - 1:
                best = min(best, smooth)
            if smooth > RANGE_STOP * best:
                break
        start = min(RANGE_WINDOW, len(losses)) - 1  # a sweep cut short by a non-finite loss: its last point
        k = min(range(start, len(losses)), key=losses.__getitem__) if losses else 0
        best_lr = lrs[k] if lrs else RANGE_LO
        return {"lrs": lrs, "losses": losses, "best_lr": best_lr, "suggested": best_lr / 10,
                "min_loss": losses[k] if losses else math.inf}

    @cached_property
    def reference_accuracy(self) -> float | None:
        """What the data allows: the validation accuracy of a k-nearest-neighbour vote (k = `KNN_K`,
        Euclidean on the inputs flattened and standardized by the training split's mean and std) over
        at most `KNN_TRAIN` training samples, on at most `KNN_VAL` validation samples. Asymptotically
        the 1-NN error is at most twice the Bayes error (Cover & Hart 1967), so a network that cannot
        reach this accuracy on its own training data fits less than the data allow. None for
        regression, token inputs or an empty validation split."""
        train, val = self.data.train, self.data.val
        if not self.classification or not train.x.is_floating_point() or len(val) == 0:
            return None
        x, y = train.x[:KNN_TRAIN].double().flatten(1), train.y[:KNN_TRAIN]
        mean, std = x.mean(0), x.std(0).clamp_min(1e-8)
        q = (val.x[:KNN_VAL].double().flatten(1) - mean) / std
        k = min(KNN_K, len(y))
        near = torch.cdist(q, (x - mean) / std).topk(k, largest=False).indices
        votes = F.one_hot(y[near], self.n_classes).sum(1)
        return float((votes.argmax(1) == val.y[:KNN_VAL]).double().mean())

    @cached_property
    def spectral_radius(self) -> float:
        """The largest spectral radius ρ(W) of the initial recurrent matrices (each gate's H×H block of
        every ``weight_hh``): gradients through T steps scale up to ρ^T (Pascanu et al. 2013)."""
        rho = 0.0
        for name, w in self.init_state.items():
            if "weight_hh" in name and w.dim() == 2 and w.shape[0] % w.shape[1] == 0:
                for block in w.double().split(w.shape[1]):
                    rho = max(rho, float(torch.linalg.eigvals(block).abs().max()))
        return rho


def flat_recipe(raw: dict) -> dict:
    """{"section.field": value} of a nested recipe dict (nested tables joined by dots too)."""
    out: dict = {}

    def walk(prefix: str, node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = node
    walk("", raw or {})
    return out


def probe(raw: dict | None, run_dir: Path) -> tuple[Probe | None, str]:
    """(the run's Probe, "") or (None, why) when its recipe does not build here: the checks that need
    a probe are then skipped, and the doctor's header says why."""
    if not raw:
        return None, "no recipe.toml"
    if not all(isinstance(raw.get(k), dict) and "name" in raw[k] for k in ("data", "model")):
        return None, "the recipe names no data set and model (a run nnopt did not train)"
    if any(k.endswith(".factory") for k in flat_recipe(raw)):
        return None, "the recipe names user code (a factory), which the doctor does not import"
    try:
        return Probe(raw, run_dir), ""
    except Exception as exc:  # an unbuildable recipe (a removed component, data not here): records only
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
