""""Open in lab": the `nnopt lab` experiments that show the techniques a playground setup uses."""
from __future__ import annotations

from typing import Any, Iterable

from ..recipe import Recipe

DECAYS = ("step", "piecewise", "polynomial", "linear", "inverse_time", "exponential", "natural_exp", "cosine")
RANDOM_INITS = ("normal", "uniform", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "orthogonal")

# field → value → experiment; "*" = any value other than the default recipe's
LINKS: dict[str, dict[str, str]] = {
    "surface": {"saddle": "saddle_points", "flat_sharp": "flat_minima"},
    "optimizer.name": {"momentum": "momentum", "nesterov": "nesterov", "adagrad": "adagrad_rmsprop",
                       "rmsprop": "adagrad_rmsprop", "adadelta": "adadelta", "adam": "adam", "adamw": "adam"},
    "optimizer.weight_decay": {"*": "weight_decay_vs_l2"},
    "schedule.name": {**dict.fromkeys(DECAYS, "lr_decay"),
                      **dict.fromkeys(("cyclic", "cosine_restarts", "one_cycle"), "cyclic_warmup")},
    "schedule.warmup_steps": {"*": "cyclic_warmup"},
    "clip.name": dict.fromkeys(("value", "norm", "global_norm", "agc"), "clipping"),
    "init.name": {"zeros": "zero_init", "constant": "zero_init", **dict.fromkeys(RANDOM_INITS, "init_depth")},
    "preprocess.name": dict.fromkeys(("minmax", "standardize", "pca", "zca"), "preprocessing"),
    "model.norm": {"batch": "batch_norm", **dict.fromkeys(("layer", "weight", "lrn"), "layer_weight_lrn_norm")},
    "penalty.name": {"l2": "weight_decay_vs_l2"},
    "regularization.dropout": {"*": "dropout"},
    "regularization.label_smoothing": {"*": "label_smoothing"},
    "regularization.early_stopping.patience": {"*": "early_stopping"},
    "augment.name": {"image": "augmentation", "noise": "augmentation"},
    "train.batch_growth": {"*": "grow_batch"},
}


def recipe_choices(recipe: Recipe) -> list[tuple[str, Any, bool]]:
    """(field, value, differs from the default recipe) for each linked field the recipe has."""
    default, out = Recipe(), []
    for field in LINKS:
        try:
            value = recipe.get(field)
        except KeyError:
            continue
        try:
            base = default.get(field)
        except KeyError:
            base = None
        out.append((field, value, value != base))
    return out


def lab_links(choices: Iterable[tuple[str, Any, bool]]) -> list[dict]:
    """The registered experiments matching (field, value, changed) choices: name, claim, command."""
    from ..lab.base import EXPERIMENTS, all_experiments

    all_experiments()  # registers them
    names: list[str] = []
    for field, value, changed in choices:
        targets = LINKS.get(field, {})
        name = targets.get(str(value)) or (targets.get("*") if changed else None)
        if name in EXPERIMENTS and name not in names:
            names.append(name)
    return [{"name": n, "claim": EXPERIMENTS[n].claim, "command": f"nnopt lab {n}"} for n in names]
