"""A recipe using each optimizer beyond the chapter trains the default digits MLP about as well as
the default recipe (Adam, test accuracy 0.967 on 270 test images).

The tolerance, fixed before any run: test accuracy ≥ 0.94 (the default's minus ~7 images). Each
runs at its registered defaults except where they do not fit this problem: LARS (η = 10⁻³ makes a
layer move by α·η‖θ‖ per step, so α = 1 instead of 0.1), Muon (torch's lr 1e-3 and decay 0.1 are for
long LLM runs: Jordan's 2e-2 without decay, and its AdamW part at the default recipe's Adam lr 1e-3
instead of 3e-4), SAM/ASAM around Adam at the default recipe's lr (ρ at their defaults, the papers'
0.05 and 0.5). Runs at 1 thread, seed 0: the same numbers every time."""
import pytest
from conftest import beyond

from nnopt import Recipe
from nnopt.train import train

NOT_DEFAULT = {"lars": dict(lr=1.0), "muon": dict(lr=2e-2, weight_decay=0.0, adamw_lr=1e-3),
               "sam": dict(base="adam", lr=1e-3), "asam": dict(base="adam", lr=1e-3)}


@pytest.mark.slow
@pytest.mark.parametrize("name", beyond())
def test_recipe_trains_digits_like_the_default(tmp_path, name):
    summary = train(Recipe({"optimizer": {"name": name, **NOT_DEFAULT.get(name, {})}, "train": {"threads": 1}}),
                    tmp_path / "run", quiet=True)
    assert summary["status"] == "completed"
    assert summary["test_acc"] >= 0.94
