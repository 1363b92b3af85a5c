"""The [penalty] recipe section: a registered penalty by name, its coefficients, the parameters it
sees; a user's own penalty end to end; the old regularization keys point to their new home."""
import json

import pytest
import torch

from nnopt import Recipe
from nnopt.cli import main
from nnopt.errors import ConfigError
from nnopt.registry import PENALTIES
from nnopt.serve.lab_links import lab_links, recipe_choices
from nnopt.train import Trainer, build
from nnopt.train.callbacks import LambdaCallback
from nnopt.tune.space import parse_space

# moons through an MLP 2-3-LayerNorm-2: modules 1 (Linear), 2 (LayerNorm), 4 (Linear)
TINY = {"data": {"name": "moons", "n_samples": 40}, "model": {"name": "mlp", "widths": [3], "norm": "layer"},
        "optimizer": {"name": "sgd", "lr": 0.5}, "train": {"epochs": 1, "batch_size": 1024, "threads": 1}}
SELECTED = {"weights": ("1.weight", "4.weight"),
            "weights_and_biases": ("1.weight", "1.bias", "4.weight", "4.bias"),
            "all": ("1.weight", "1.bias", "2.weight", "2.bias", "4.weight", "4.bias")}


def tiny(penalty: dict | None = None, **sections) -> Recipe:
    return Recipe({**TINY, **sections, **({"penalty": penalty} if penalty is not None else {})})


def values(model, on: str) -> list[float]:
    state = model.state_dict()
    return [x for name in SELECTED[on] for x in state[name].flatten().tolist()]


def smooth_abs(x: float, eps: float) -> float:
    return (x * x + eps) ** 0.5 - eps ** 0.5


@pytest.mark.parametrize("penalty, hand", [
    ({"name": "l1", "coef": 0.01}, lambda v: 0.01 * sum(abs(x) for x in v)),
    ({"name": "l1", "coef": 0.5, "smooth": 0.25}, lambda v: 0.5 * sum(smooth_abs(x, 0.25) for x in v)),
    ({"name": "l2", "coef": 0.3, "on": "weights_and_biases"}, lambda v: 0.3 * 0.5 * sum(x * x for x in v)),
    ({"name": "elastic_net", "l1_coef": 0.02, "l2_coef": 0.1, "on": "all"},
     lambda v: sum(0.02 * abs(x) + 0.1 * 0.5 * x * x for x in v)),
], ids=["l1", "l1-smooth", "l2-biases", "elastic-all"])
def test_the_run_penalty_is_the_coefficient_times_the_hand_sum(penalty, hand):
    setup = build(tiny(penalty))
    term = setup.penalty()
    assert term.requires_grad
    assert term.item() == pytest.approx(hand(values(setup.model, setup.recipe.penalty["on"])), rel=1e-6)


def test_no_penalty_by_default_and_with_zero_coefficients():
    assert Recipe().penalty == {"name": "none", "on": "weights"}
    assert build(tiny()).penalty() is None
    assert build(tiny({"name": "l2", "coef": 0.0})).penalty() is None


@pytest.mark.parametrize("penalty, words", [
    ({"name": "elasticnet"}, ["penalty.name = 'elasticnet'", "did you mean 'elastic_net'"]),
    ({"name": "l2"}, ["penalty.coef is required"]),
    ({"name": "l2", "coef": -1e-4}, ["penalty.coef = -0.0001 — must be >= 0"]),
    ({"name": "l2", "l2_coef": 1e-4}, ["penalty.l2_coef is not a known field", "did you mean 'coef'"]),
    ({"name": "l1", "coef": 1.0, "on": "biases"}, ["penalty.on = 'biases'", "'weights_and_biases'"]),
])
def test_bad_penalty_settings_are_config_errors(penalty, words):
    with pytest.raises(ConfigError) as err:
        tiny(penalty)
    assert all(w in str(err.value) for w in words), err.value


@pytest.mark.parametrize("old, value, words", [
    ("l2", 1e-4, ['regularization.l2 = 0.0001 — this setting moved', '[penalty] name = "l2", coef = 0.0001']),
    ("l1", 0.0, ['[penalty] name = "l1", coef = 0.0', "delete the line"]),
    ("l1_smooth", 0.1, ['name = "l1", smooth = 0.1']),
    ("penalize", "all", ['regularization.penalize = "all"', '[penalty] on = "all"']),
])
def test_the_old_regularization_keys_say_where_the_setting_moved(tmp_path, capsys, old, value, words):
    with pytest.raises(ConfigError) as err:
        Recipe({"regularization": {"dropout": 0.1, old: value}})
    assert all(w in str(err.value) for w in words), err.value
    # the same message from --set and from a search space, before any run directory exists
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--set", f"regularization.{old}={json.dumps(value)}"]) == 2
    assert words[-1] in capsys.readouterr().err and not out.exists()
    with pytest.raises(ConfigError, match="this setting moved"):
        parse_space(f"[regularization]\n{old} = [{json.dumps(value)}]", Recipe())


def test_a_search_space_searches_a_penalty_coefficient():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_space('[penalty]\nname = "elastic_net"\nl2_coef = { low = 1e-6, high = 1e-2, log = true }\n'
                        'l1_coef = [0.0, 1e-4]', Recipe())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(20):
        trial = study.ask()
        recipe = space.recipe(space.sample(trial))
        study.tell(trial, 0.0)
        assert recipe.penalty["name"] == "elastic_net" and recipe.penalty["l1_coef"] in (0.0, 1e-4)
        drawn.append(recipe.penalty["l2_coef"])
    assert all(1e-6 <= c <= 1e-2 for c in drawn) and len(set(drawn)) == 20
    with pytest.raises(ConfigError, match="penalty.l2_coef is not a known field of penalties 'l2'"):
        parse_space('[penalty]\nname = "l2"\nl2_coef = [1e-4, 1e-3]', Recipe())


def test_list_shows_the_penalties_and_their_parameters(capsys):
    assert main(["list", "penalties"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("none", "l1", "l2", "elastic_net"))
    assert main(["list", "penalties", "elastic_net"]) == 0
    out = capsys.readouterr().out
    assert "l1_coef = 0.0" in out and "l2_coef = 0.0" in out and "l1_smooth" in out
    assert main(["list", "penalties", "l2"]) == 0
    assert "coef = required" in capsys.readouterr().out


@pytest.fixture
def register():
    """Registers a user's own penalties for one test: ``register(name, fn)`` returns the name. The
    registry has no unregister, so they are removed by hand to keep them out of other tests."""
    names = []

    def add(name, fn):
        PENALTIES.register(name, skip=1)(fn)
        names.append(name)
        return name

    yield add
    for name in names:
        PENALTIES._entries.pop(name)


def group_lasso(params, coef: float = 0.0):
    """coef·Σ_i ‖W_i‖₂ over the rows of each matrix"""
    return coef * sum(p.norm(dim=1).sum() for p in params) if coef else None


def test_a_user_registered_penalty_reaches_the_sgd_update(tmp_path, register):
    """One SGD step (one batch, one epoch): the runs with and without the penalty differ by exactly
    −lr·∇P(θ₀), with ∇_{W_i} coef·‖W_i‖ = coef·W_i/‖W_i‖ computed by hand; biases see no penalty."""
    lr, coef = 0.5, 0.3
    row_norm = register("test_row_norm", group_lasso)
    sets = ["--set", "data.name=moons", "--set", "data.n_samples=40", "--set", "model.widths=[3]",
            "--set", "model.norm=layer", "--set", "optimizer.name=sgd", "--set", f"optimizer.lr={lr}",
            "--set", "train.epochs=1", "--set", "train.batch_size=1024", "--set", "train.threads=1"]
    assert main(["run", "--quiet", "--out", str(tmp_path / "plain"), *sets]) == 0
    assert main(["run", "--quiet", "--out", str(tmp_path / "pen"), *sets, "--set", f"penalty.name={row_norm}",
                 "--set", f"penalty.coef={coef}"]) == 0
    assert json.loads((tmp_path / "pen" / "summary.json").read_text())["steps"] == 1
    assert Recipe.load(tmp_path / "pen" / "recipe.toml").penalty == {"name": row_norm, "on": "weights", "coef": coef}
    start = build(Recipe.load(tmp_path / "pen" / "recipe.toml")).model.state_dict()  # θ₀: same seed, same init
    plain, pen = (torch.load(tmp_path / d / "model.pt") for d in ("plain", "pen"))
    for name in SELECTED["all"]:
        w = start[name].double()
        grad = coef * w / w.norm(dim=1, keepdim=True) if name in SELECTED["weights"] else torch.zeros_like(w)
        torch.testing.assert_close((pen[name] - plain[name]).double(), -lr * grad, atol=1e-6, rtol=0)
    assert (pen["1.weight"] - plain["1.weight"]).abs().max() > 1e-3  # the check above has something to see


def test_a_run_with_a_penalty_resumes_to_the_uninterrupted_result(tmp_path):
    recipe = tiny({"name": "elastic_net", "l1_coef": 1e-3, "l2_coef": 1e-2},
                  train={"epochs": 3, "batch_size": 8, "threads": 1})
    Trainer(build(recipe), tmp_path / "ref", quiet=True).fit()
    stop = LambdaCallback(on_epoch_end=lambda tr, epoch, record: tr.request_stop("test") if epoch == 1 else None)
    assert Trainer(build(recipe), tmp_path / "cut", quiet=True, callbacks=[stop]).fit()["status"] == "stopped"
    assert Recipe.load(tmp_path / "cut" / "recipe.toml") == recipe
    assert main(["run", "--quiet", "--resume", str(tmp_path / "cut")]) == 0
    ref, cut = (torch.load(tmp_path / d / "model.pt") for d in ("ref", "cut"))
    assert ref.keys() == cut.keys() and all(torch.equal(ref[k], cut[k]) for k in ref)


def test_the_playground_links_an_l2_penalty_to_its_lab_experiment():
    names = [link["name"] for link in lab_links(recipe_choices(tiny({"name": "l2", "coef": 1e-4})))]
    assert "weight_decay_vs_l2" in names
    assert "weight_decay_vs_l2" not in [link["name"] for link in lab_links(recipe_choices(tiny()))]


def refusing(params, power: float = 1.0):
    """Σ|θ|^power for power ≥ 1"""
    if power < 1:
        raise ValueError(f"power = {power} — must be >= 1 (not convex below)")
    return sum(p.abs().pow(power).sum() for p in params)


def test_a_penalty_that_refuses_its_values_fails_before_the_run_directory(tmp_path, capsys, register):
    name = register("test_refusing", refusing)
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--set", f"penalty.name={name}", "--set", "penalty.power=0.5",
                 "--set", "data.name=moons", "--set", "data.n_samples=40"]) == 2
    assert "penalty (test_refusing): power = 0.5 — must be >= 1" in capsys.readouterr().err
    assert not out.exists()
