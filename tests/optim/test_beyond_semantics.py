"""The optimizers beyond the chapter against closed forms and as torch users use them: LAMB with
bias correction and SAM/ASAM step by step, Newton–Schulz against the SVD, Muon's split of the
parameters, schedule-free's train()/eval(), state_dict resume, skipped non-finite steps, errors."""
import copy
import io
import re

import pytest
import torch
from beyond_train import run
from conftest import X, Y, beyond, compiled_exactly, rel_err, small_cnn, train
from torch.nn import functional as F

import nnopt.optim as O
from nnopt.errors import ConfigError
from nnopt.optim.beyond.muon import lr_ratio, newton_schulz
from nnopt.registry import OPTIMIZERS

BEYOND = beyond()
HYPER = {"sam": dict(base="adam", lr=1e-2), "asam": dict(base="momentum", lr=0.05), "lars": dict(lr=1.0)}


def test_all_registered_with_descriptions():
    """The package's docstring names every entry its modules register (and there are a dozen)."""
    import nnopt.optim.beyond as package

    assert len(BEYOND) >= 12 and set(BEYOND) <= set(re.findall(r"\w+", package.__doc__))
    for name in BEYOND:
        entry = OPTIMIZERS.get(name)
        assert entry.description and "lr" in entry.params, name


def test_lamb_with_bias_correction_matches_its_closed_form():
    """You et al. 2020, Algorithm 2, written out per tensor in float64."""
    torch.set_default_dtype(torch.float64)
    try:
        lr, (b1, b2), eps, wd, clamp = 3e-2, (0.9, 0.99), 1e-6, 1e-2, 10.0
        a, b = small_cnn(), small_cnn()
        train(a, O.create("lamb", a.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd,
                          no_decay_1d=False), 30)
        params = list(b.parameters())
        m = [torch.zeros_like(p) for p in params]
        v = [torch.zeros_like(p) for p in params]
        x = X.double()
        for t in range(1, 31):
            i = ((t - 1) % 3) * 32
            b.zero_grad()
            F.cross_entropy(b(x[i:i + 32]), Y[i:i + 32]).backward()
            with torch.no_grad():
                for p, mk, vk in zip(params, m, v):
                    mk.mul_(b1).add_((1 - b1) * p.grad)
                    vk.mul_(b2).add_((1 - b2) * p.grad ** 2)
                    r = (mk / (1 - b1 ** t)) / ((vk / (1 - b2 ** t)).sqrt() + eps) + wd * p
                    tn, rn = p.norm(), r.norm()
                    ratio = min(float(tn), clamp) / (float(rn) + eps) if tn > 0 and rn > 0 else 1.0
                    p.sub_(lr * ratio * r)
        assert rel_err(a, b) <= 1e-9
    finally:
        torch.set_default_dtype(torch.float32)


def _quadratic():
    torch.manual_seed(3)
    q = torch.randn(5, 5, dtype=torch.float64)
    return q @ q.T + torch.eye(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)


@pytest.mark.parametrize("name", ["sam", "asam"])
def test_sam_two_step_update_matches_closed_form(name):
    """f(θ) = ½θᵀAθ, base SGD: ε = ρ·T²∇f/‖T∇f‖ (T = |θ| for ASAM, else 1); θ ← θ − α∇f(θ + ε).
    The closure runs once per step and its loss (at θ + ε) is returned."""
    A, theta0 = _quadratic()
    rho, lr = 0.3, 0.05
    p = torch.nn.Parameter(theta0.clone())
    opt = O.create(name, [p], base="sgd", lr=lr, rho=rho)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = 0.5 * p @ A @ p
        loss.backward()
        return loss
    theta = theta0.clone()
    for _ in range(5):
        closure()
        loss = opt.step(closure)
        g = A @ theta
        t = theta.abs() if name == "asam" else torch.ones_like(theta)
        e = rho * t * t * g / (t * g).norm()
        assert float(loss.detach()) == pytest.approx(float(0.5 * (theta + e) @ A @ (theta + e)), rel=1e-12)
        theta = theta - lr * A @ (theta + e)
    assert len(calls) == 10
    assert torch.allclose(p.detach(), theta, rtol=1e-12, atol=0)


def test_sam_needs_a_closure_and_says_so():
    opt = O.create("sam", small_cnn().parameters())
    assert opt.needs_closure
    with pytest.raises(ValueError, match="closure"):
        opt.step()


def test_newton_schulz_approximates_the_polar_factor():
    """NS(M) ≈ UVᵀ (M = USVᵀ): its singular values land in about [0.5, 1.5] (the quintic trades
    exactness for speed, Jordan 2024) with M's singular vectors; wide and tall alike."""
    torch.manual_seed(0)
    for shape in ((16, 64), (64, 16), (32, 32)):
        m = torch.randn(shape)
        u, _, vh = torch.linalg.svd(m, full_matrices=False)
        o = newton_schulz(m, (3.4445, -4.7750, 2.0315), 5, 1e-7).float()
        s = torch.linalg.svdvals(o)
        assert 0.5 <= float(s.min()) and float(s.max()) <= 1.5, shape
        assert float((u.T @ o @ vh.T - torch.diag(torch.diagonal(u.T @ o @ vh.T))).norm() / o.norm()) < 0.05
    assert lr_ratio(torch.Size([64, 16]), "original") == 2.0
    assert lr_ratio(torch.Size([16, 64]), "match_rms_adamw") == pytest.approx(0.2 * 8)


def test_newton_schulz_of_a_stack_is_torch_muons_per_matrix_bit_for_bit():
    """Muon orthogonalizes same-shape matrices as one (k, n, m) stack (bmm/baddbmm): each result
    equals torch.optim.Muon's own per-matrix Newton–Schulz (addmm) exactly, wide, tall and square."""
    from torch.optim._muon import _zeropower_via_newtonschulz

    torch.manual_seed(0)
    for shape in ((3, 16, 64), (4, 64, 16), (2, 32, 32), (1, 25, 40)):
        m = torch.randn(shape)
        ours = newton_schulz(m, (3.4445, -4.7750, 2.0315), 5, 1e-7)
        for i in range(shape[0]):
            assert torch.equal(ours[i], _zeropower_via_newtonschulz(m[i], (3.4445, -4.7750, 2.0315), 5, 1e-7)), shape


def test_muon_splits_matrices_from_the_rest():
    model = small_cnn()
    opt = O.create("muon", model.named_parameters(), lr=0.02, adamw_lr=1e-3, weight_decay=0.1,
                   adamw_weight_decay=0.01, no_decay_1d=True)
    by_name = {n: g for g in opt.param_groups for n in g["param_names"]}
    assert by_name["4.weight"]["muon"] and by_name["7.weight"]["muon"]
    assert by_name["4.weight"]["lr"] == 0.02 and by_name["4.weight"]["weight_decay"] == 0.1
    conv, bias = by_name["0.weight"], by_name["0.bias"]
    assert not conv["muon"] and conv["lr"] == 1e-3 and conv["weight_decay"] == 0.01
    assert not bias["muon"] and bias["weight_decay"] == 0.0          # no_decay_1d
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def test_schedule_free_eval_train_restores_y_bit_for_bit():
    """eval() puts x = y + (1 − 1/β)(z − y) in the parameters, train() puts y back exactly: evaluating
    (twice, even) does not perturb training; step() in eval mode is refused."""
    for name in ("schedule_free_sgd", "schedule_free_adamw"):
        a, b = small_cnn(), small_cnn()
        oa = O.create(name, a.parameters(), lr=0.01 if name.endswith("adamw") else 0.5)
        ob = O.create(name, b.parameters(), lr=0.01 if name.endswith("adamw") else 0.5)
        train(a, oa, 10)
        train(b, ob, 10)
        y = [p.detach().clone() for p in a.parameters()]
        oa.eval()
        beta = oa.param_groups[0].get("momentum") or oa.param_groups[0]["betas"][0]
        p0 = next(a.parameters())
        z = oa.state[p0]["z"]
        assert torch.allclose(p0, y[0] + (1 - 1 / beta) * (z - y[0]), rtol=1e-5, atol=1e-7)
        oa.eval()
        with pytest.raises(ValueError, match="train()"):
            oa.step()
        oa.train()
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), y))
        train(a, oa, 10, start=10)
        train(b, ob, 10, start=10)
        assert rel_err(a, b) == 0, name


@pytest.mark.parametrize("name", ["schedule_free_sgd", "schedule_free_adamw"])
def test_schedule_free_at_lr_zero_moves_nothing(name):
    """lr = 0 makes every weight w_t and so c_t = 0 (the schedulefree package's ZeroDivisionError
    branch): θ and z stay as they are — c·z + k·u is computed as c·(z + (k/c)·u), which must not
    become 0·(0/0)."""
    m = small_cnn()
    before = [p.detach().clone() for p in m.parameters()]
    opt = O.create(name, m.parameters(), lr=0.0)
    train(m, opt, 3)
    assert opt.param_groups[0]["ckp1"] == 0.0
    assert all(torch.equal(p, q) and torch.equal(opt.state[p]["z"], q) for p, q in zip(m.parameters(), before))


@pytest.mark.parametrize("wd", [0.0, 0.5])
def test_schedule_free_step_by_hand(wd):
    """One `schedule_free` step against its formula, θ ← (1−αλ)(1−c)θ + c·z + k·g with
    k = α_t(β(1−c) − 1), z ← z − α_t·g: as one lerp when nothing came before it, and after a
    decoupled decay (1 − αλ), which makes it a scaling and an addition."""
    from nnopt.optim.beyond.schedule_free import schedule_free
    torch.manual_seed(0)
    theta = torch.randn(1000, requires_grad=True)
    theta.grad = torch.randn(1000)
    z0, th0 = theta.detach().clone(), theta.detach().clone()
    lr, c, beta, a_t = 0.1, 0.3, 0.9, 0.2
    opt = O.ChainOptimizer([theta], O.transforms.chain(O.transforms.decoupled_weight_decay(wd),
                                                       schedule_free(beta, c, a_t)), lr=lr)
    opt.step()
    k = a_t * (beta * (1 - c) - 1)
    expected = (1 - lr * wd) * (1 - c) * th0 + c * z0 + k * theta.grad
    assert torch.allclose(theta.detach(), expected, rtol=0, atol=1e-6)
    assert torch.allclose(opt.state[theta]["z"], z0 - a_t * theta.grad, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", BEYOND)
def test_state_dict_resume_gives_the_same_trajectory(name):
    """10 steps, save (schedule-free: in eval mode, as the Trainer does), 10 more; a fresh model and
    optimizer loaded from the save and run for the same 10 steps end bit-identical."""
    kw = HYPER.get(name, {})
    a = small_cnn()
    opt = O.create(name, a.named_parameters(), **kw)
    run(a, opt, 10)
    switch = hasattr(opt, "eval")
    if switch:
        opt.eval()
    buf = io.BytesIO()
    torch.save({"model": a.state_dict(), "opt": opt.state_dict()}, buf)
    if switch:
        opt.train()
    run(a, opt, 10, start=10)
    buf.seek(0)
    saved = torch.load(buf)
    b = small_cnn(seed=1)
    b.load_state_dict(saved["model"])
    opt_b = O.create(name, b.named_parameters(), **kw)
    opt_b.load_state_dict(saved["opt"])
    if switch:
        opt_b.train()
    run(b, opt_b, 10, start=10)
    assert rel_err(a, b) == 0


def assert_leaves_all_as_it_was(model, opt, step):
    """`step()` leaves the parameters and every state buffer as they were (not "step": nnopt
    counts a step skipped for a non-finite gradient, deciding on the device without a sync)."""
    params = copy.deepcopy(list(model.parameters()))
    state = copy.deepcopy(opt.state_dict()["state"])
    step()
    assert all(torch.equal(p, q) for p, q in zip(params, model.parameters()))
    after = opt.state_dict()["state"]
    assert all(torch.equal(state[i][k], after[i][k]) for i in state for k in state[i] if k != "step")


def poisoned_backward(model, loss_scale=lambda loss: loss):
    """Zero the gradients, backward of (scaled) CE on a batch, then an inf in the first gradient."""
    for p in model.parameters():
        p.grad = None
    loss_scale(F.cross_entropy(model(X[:32]), Y[:32])).backward()
    next(model.parameters()).grad[0] = float("inf")


@pytest.mark.parametrize("name", BEYOND)
def test_non_finite_gradient_step_is_skipped(name):
    """nonfinite="skip" (SAM: its perturbation is undone and the base skips)."""
    a = small_cnn()
    opt = O.create(name, a.parameters(), nonfinite="skip", **HYPER.get(name, {}))
    run(a, opt, 3)

    def step():
        poisoned_backward(a)
        opt.step(lambda: poisoned_backward(a)) if getattr(opt, "needs_closure", False) else opt.step()
    assert_leaves_all_as_it_was(a, opt, step)


@pytest.mark.parametrize("name, hyper, message", [
    ("lion", dict(betas=[0.9, 1.5]), r"optimizer.betas\[1\] = 1.5 — must be in \[0, 1\]"),
    ("adafactor", dict(d=0.5), r"optimizer.d = 0.5 — must be >= 1"),
    ("muon", dict(ns_steps=0), r"optimizer.ns_steps = 0 — must be in \[1, 100\)"),
    ("muon", dict(adjust_lr_fn="rms"), r"optimizer.adjust_lr_fn = 'rms' — must be one of"),
    ("lars", dict(momentum=0.0, nesterov=True), r"optimizer \(lars\): nesterov needs momentum > 0"),
    ("schedule_free_adamw", dict(betas=[0.0, 0.99]), r"optimizer.betas\[0\] = 0.0 — must be in \(0, 1\)"),
    ("sam", dict(base="adma"), r"optimizer.base = 'adma' — must be one of .* did you mean 'adam'"),
    ("sam", dict(base="sgd", betas=[0.9, 0.99]), r"optimizer.betas is not a known field of optimizers 'sgd'"),
    ("asam", dict(rho=-1.0), r"optimizer.rho = -1.0 — must be >= 0"),
])
def test_bad_hyperparameters_name_the_field(name, hyper, message):
    with pytest.raises(ConfigError, match=message):
        O.create(name, small_cnn().parameters(), **hyper)


@pytest.mark.parametrize("name", ["sam", "asam"])
@pytest.mark.parametrize("key, value, message", [
    ("momentum", 1.5, r"optimizer.momentum = 1.5 — must be in \[0, 1\)"),  # every base's momentum < 1
    ("betas", [0.9, 1.5], r"optimizer.betas\[1\] = 1.5 — must be in \[0, 1\]"),  # Lion's β₂ may be 1
    ("ns_steps", 0, r"optimizer.ns_steps = 0 — must be in \[1, 100\)"),
])
def test_sam_refuses_a_base_hyperparameter_out_of_range_at_recipe_read(name, key, value, message, capsys):
    """The base's hyperparameters on SAM's spec carry the loosest range any base allows: out of it
    is a ConfigError naming the field when the recipe is read (nothing built), and `nnopt run`'s
    exit 2 with that one line; a value some base accepts passes the read."""
    from nnopt.cli import main
    from nnopt.recipe import resolve

    with pytest.raises(ConfigError, match=message) as caught:
        resolve({"optimizer": {"name": name, key: value}})
    assert caught.value.field.startswith(f"optimizer.{key}")
    assert resolve({"optimizer": {"name": name, "momentum": 0.0, "betas": [0.9, 1.0]}})["optimizer"]["momentum"] == 0.0
    assert main(["run", "--quiet", "--out", "/nonexistent/never-written", "--set", f"optimizer.name={name}",
                 "--set", f"optimizer.{key}={value}".replace(" ", "")]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nadam", "radam", "adamax", "lion", "lars", "lamb", "schedule_free_sgd",
                                  "schedule_free_adamw"])
def test_compiled_update_matches_eager(name):
    """compile=True (torch.compile of the whole update, values as 0-d tensors: RAdam's switch at
    ρ_t = 5 is branch-free there) follows the eager transforms through RAdam's switch (β₂ = 0.9),
    as one graph compiled once (a graph break would run part of the update eagerly)."""
    hyper = dict(betas=(0.9, 0.9)) if name in ("radam", "nadam", "adamax", "lamb", "schedule_free_adamw") else {}
    a, b = small_cnn(), small_cnn()
    with compiled_exactly(1):
        train(a, O.create(name, a.parameters(), compile=True, **hyper), 12)
    train(b, O.create(name, b.parameters(), compile=False, **hyper), 12)
    assert rel_err(a, b) <= 1e-5


TORCH = {"nadam": (torch.optim.NAdam, dict(lr=1e-2, weight_decay=1e-3, decoupled_weight_decay=True)),
         "radam": (torch.optim.RAdam, dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=1e-3)),
         "adamax": (torch.optim.Adamax, dict(lr=1e-2, weight_decay=1e-3))}


@pytest.mark.parametrize("name", TORCH)
def test_drop_in_for_torch(name):
    """Same state names as torch: either state dict loads into the other and training goes on the
    same; maximize and foreach=False (one tensor at a time) as torch's."""
    cls, hyper = TORCH[name]
    for first_nnopt in (True, False):
        a = small_cnn()
        first = O.create(name, a.parameters(), no_decay_1d=False, **hyper) if first_nnopt else cls(a.parameters(), **hyper)
        train(a, first, 10)
        b = copy.deepcopy(a)
        second = cls(b.parameters(), **hyper) if first_nnopt else O.create(name, b.parameters(), no_decay_1d=False, **hyper)
        second.load_state_dict(copy.deepcopy(first.state_dict()))
        train(a, first, 10, start=10)
        train(b, second, 10, start=10)
        assert rel_err(a, b) <= 1e-5, first_nnopt
    for ours, theirs in ((dict(maximize=True), dict(maximize=True)), (dict(foreach=False), dict(foreach=False))):
        a, b = small_cnn(), small_cnn()
        train(a, O.create(name, a.parameters(), no_decay_1d=False, **hyper, **ours), 15)
        train(b, cls(b.parameters(), **hyper, **theirs), 15)
        assert rel_err(a, b) <= 1e-5, ours


@pytest.mark.parametrize("name", [n for n in BEYOND if n not in ("sam", "asam")])
def test_grad_scaler_skips_an_overflowing_step(name):
    """AMP's GradScaler: an overflowing step leaves everything as it was and lowers the scale
    (SAM takes no GradScaler: its closure would need a second scaled backward; the Trainer refuses
    fp16 with it)."""
    m = small_cnn()
    opt = O.create(name, m.parameters(), **HYPER.get(name, {}))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    train(m, opt, 2)

    def step():
        poisoned_backward(m, scaler.scale)
        scaler.step(opt)
        scaler.update()
    assert_leaves_all_as_it_was(m, opt, step)
    assert scaler.get_scale() == 2.0 ** 7
