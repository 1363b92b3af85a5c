"""recipe → everything a run needs: data on the device, model, optimizer, schedule, clip, ...

Everything that can fail on bad input fails here, before a run directory exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..data import Dataset, load
from ..data.dataset import take_rows
from ..errors import ConfigError
from ..loggers import check_available
from ..nn import build_model
from ..recipe import Recipe
from ..nn.losses import torch_label_smoothing
from ..nn.norms import least_batch
from ..registry import AUGMENTATIONS, CLIPPING, INITS, LOSSES, MODELS, OPTIMIZERS, PREPROCESSORS, SCHEDULES
from ..tasks import DEFAULT_LOSS, DEFAULT_MONITOR, TOP_K, check_metric, targets
from ..regularize import bind, select
from ..schedules import BatchSizeSchedule, check_drives
from ..schedules.batch_size import from_train


@dataclass(kw_only=True)
class Setup:
    """The built run. ``schedule(t)`` gives the lr at step/epoch t (per ``interval``); each param
    group's lr is that value times ``lr_scales[i]`` (its own initial lr over the base lr);
    ``batches(epoch)`` the batch size of an epoch; ``penalty()`` the loss term of the recipe's
    [penalty] over the parameters its ``on`` selects (None when there is none)."""

    recipe: Recipe
    device: torch.device
    data: Dataset
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Callable[[int], float]
    interval: str
    lr_scales: list[float]
    clip: Callable | None
    augment: Callable | None
    preprocessor: Any
    penalty: Callable[[], torch.Tensor | None]
    task: str  # "classification" or "regression" (the data set's)
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # [loss] with the recipe's label smoothing
    eval_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # the same loss, unsmoothed
    monitor: str  # the metric the run is judged by (train.monitor resolved for the task)
    batches: BatchSizeSchedule  # batch size as a function of the epoch


def check_augment(augment: Callable, name: str, data: Dataset, device: torch.device) -> None:
    """Run the augmentation once on two training samples so a shape it cannot take fails now."""
    try:
        augment(data.train.x[:2], torch.Generator(device=device).manual_seed(0))
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"augment.name = {name!r} cannot take this data set's inputs "
                          f"{tuple(data.input_shape)}: {exc}") from None


def fill_from_run(params: dict, facts: dict) -> dict:
    """A component declares what it needs from the run by naming a run fact as a parameter and
    leaving it none: ``lr`` (the optimizer's base lr), ``total_steps`` (the schedule's horizon in
    its interval), ``vocab_size`` (the data set's vocabulary). Those are filled in here, so a
    user's own registered schedule or model gets them like the built-in ones."""
    return {k: facts[k] if v is None and facts.get(k) is not None else v for k, v in params.items()}


def schedule_drives(schedule) -> dict:
    """Hyperparameters other than lr a schedule moves (e.g. one-cycle's momentum): name → t → value."""
    return getattr(schedule, "drives", {})


def resolve_device(name: str) -> torch.device:
    """"auto" → CUDA when present, else CPU; "cuda" without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError('train.device = "cuda" — no CUDA device is available here; use "auto" or "cpu"')
    return torch.device(name)


def init_from_data(model: nn.Module, data: Dataset, batch_size: int, norm: str | None) -> None:
    """``init.data_dependent``: weight norm's data-dependent init on `batch_size` random training samples."""
    from ..nn.weightnorm import data_dependent_init, weight_normed

    if not weight_normed(model):
        raise ConfigError(f"init.data_dependent = true — needs weight-normed layers (model.norm = \"weight\"), "
                          f"got model.norm = {norm!r}")
    if batch_size < 2:
        raise ConfigError(f"train.batch_size = {batch_size} — init.data_dependent measures each unit's σ on one "
                          "batch: needs at least 2")
    idx = torch.randperm(len(data.train))[:batch_size].sort().values
    data_dependent_init(model, take_rows(data.train.x, idx.to(data.train.x.device)))


def build(recipe: Recipe, max_parameters: int | None = None) -> Setup:
    """Build every component of `recipe`, seeded by ``train.seed``; a model with more than
    `max_parameters` parameters is refused before it takes memory."""
    train = recipe.train
    if train["threads"]:
        torch.set_num_threads(train["threads"])
    device = resolve_device(train["device"])
    torch.manual_seed(train["seed"])

    data = load(recipe.data["name"], **recipe.params("data"))
    preprocessor = PREPROCESSORS.create(recipe.preprocess["name"], field="preprocess",
                                        **recipe.params("preprocess"))
    if preprocessor is not None:
        data.load_inputs()  # a memory-mapped split is read in: the preprocessor transforms it whole
        preprocessor.fit(data.train.x)
        for split in (data.train, data.val, data.test):
            split.x = preprocessor.transform(split.x)
    data = data.to(device)

    reg = recipe.regularization
    facts = {"vocab_size": len(data.vocabulary) if data.vocabulary is not None else None}
    model_params = fill_from_run(recipe.params("model"), facts)
    if data.vocabulary is not None and "vocab_size" in model_params:
        if model_params["vocab_size"] < len(data.vocabulary):
            raise ConfigError(f"model.vocab_size = {model_params['vocab_size']} — must be at least the data "
                              f"set's vocabulary size {len(data.vocabulary)} (or none)")
    if reg["variational_dropout"] > 0:
        if "variational_dropout" not in MODELS.get(recipe.model["name"]).params:
            raise ConfigError(f"regularization.variational_dropout = {reg['variational_dropout']} — needs "
                              'a time-loop recurrent model: model.name = "rnn_loop"')
        model_params["variational_dropout"] = reg["variational_dropout"]
    batches = from_train(train)
    n_train = len(data.train)
    sizes = batches.sizes(train["epochs"])
    norm, least = recipe.model.get("norm"), least_batch(recipe.model.get("norm"))
    smallest = batches.smallest(train["epochs"], n_train)
    if smallest < least:
        raise ConfigError(f"train.batch_size = {train['batch_size']} — model.norm = {norm!r} needs at least {least} "
                          f"samples in every training batch (batch sizes {sizes} over {n_train} samples leave a "
                          f"batch of {smallest}); change the batch size or use model.norm = \"layer\"")
    check_available(train["loggers"])
    task = data.task
    loss_name, n_outputs = loss_entry(recipe, data)
    try:
        smoothing = torch_label_smoothing(reg["label_smoothing"], data.n_classes,
                                          reg["label_smoothing_convention"])
    except ValueError as exc:
        raise ConfigError(f"regularization.label_smoothing: {exc}") from None
    monitor = monitor_of(recipe, data)
    loss, eval_loss = (make_loss(loss_name, recipe, eps) for eps in (smoothing, 0.0))
    model = build_model(recipe.model["name"], data.input_shape, n_outputs, dropout=reg["dropout"],
                        max_parameters=max_parameters, example=data.train.x[:2], **model_params)
    INITS.create(recipe.init["name"], model, field="init", **recipe.params("init"))
    model.to(device)
    if recipe.init["data_dependent"]:
        init_from_data(model, data, train["batch_size"], norm)
    check_loss(recipe, data, task, n_outputs, eval_loss)

    # the run's NaN/inf screen is the Trainer's (train.nonfinite): the optimizer runs without one
    optimizer = OPTIMIZERS.create(recipe.optimizer["name"], model.named_parameters(), field="optimizer",
                                  nonfinite="ignore", **recipe.params("optimizer"))
    if train["precision"] == "fp16" and getattr(optimizer, "needs_closure", False):
        raise ConfigError(f"optimizer.name = {recipe.optimizer['name']!r} needs a closure (two gradient "
                          'evaluations per step), which the fp16 GradScaler cannot drive; use train.precision '
                          '= "bf16" or "fp32"')
    base_lr = recipe.optimizer.get("lr", optimizer.param_groups[0]["lr"])
    lr_scales = [g["lr"] / base_lr if base_lr else 1.0 for g in optimizer.param_groups]

    interval = recipe.schedule["interval"]
    horizon = batches.steps_before(train["epochs"], n_train) if interval == "step" else train["epochs"]
    facts.update(lr=base_lr, total_steps=horizon)
    sched_params = fill_from_run(recipe.params("schedule"), facts)
    schedule = SCHEDULES.create(recipe.schedule["name"], field="schedule", **sched_params)
    try:
        check_drives(optimizer, schedule_drives(schedule))
    except ValueError as exc:
        raise ConfigError(f"schedule.cycle_momentum: {exc}") from None

    clip = CLIPPING.create(recipe.clip["name"], field="clip", **recipe.params("clip"))
    augment = AUGMENTATIONS.create(recipe.augment["name"], field="augment", **recipe.params("augment"))
    if augment is not None:
        check_augment(augment, recipe.augment["name"], data, device)
    penalty = bind(recipe.penalty["name"], select(model, recipe.penalty["on"]), recipe.params("penalty"))
    return Setup(recipe=recipe, device=device, data=data, model=model, optimizer=optimizer,
                 schedule=schedule, interval=interval, lr_scales=lr_scales, clip=clip, augment=augment,
                 preprocessor=preprocessor, task=task, loss=loss, eval_loss=eval_loss, monitor=monitor,
                 batches=batches, penalty=penalty)


def loss_entry(recipe: Recipe, data: Dataset) -> tuple[str, int]:
    """The [loss] entry for the data set's task ("auto": `DEFAULT_LOSS`) and the model's number of
    outputs (one for ``bce``); ConfigError when the loss does not fit the task."""
    task, name = data.task, recipe.loss["name"]
    name = DEFAULT_LOSS[task] if name == "auto" else name
    fits = LOSSES.get(name).meta.get("task")
    if fits is not None and fits != task:
        allowed = ["auto"] + [e.name for e in LOSSES if e.meta.get("task") in (None, task)]
        raise ConfigError(f"loss.name = {name!r} — a {fits} loss, but data set {data.name!r} is a {task} "
                          f"task; use one of {', '.join(allowed)}", field="loss.name")
    n_outputs = data.n_outputs
    if name == "bce":
        if data.n_classes != 2:
            raise ConfigError(f"loss.name = 'bce' — binary only (one output, class 1 when it is > 0), but "
                              f"data set {data.name!r} has {data.n_classes} classes; use cross_entropy",
                              field="loss.name")
        n_outputs = 1
    return name, n_outputs


def make_loss(name: str, recipe: Recipe, smoothing: float) -> Callable:
    """The loss callable of entry `name` with the recipe's [loss] fields (and label smoothing, torch's
    convention, where the entry takes it)."""
    params = {} if recipe.loss["name"] == "auto" else recipe.params("loss")
    if "label_smoothing" in LOSSES.get(name).params:
        params["label_smoothing"] = smoothing
    elif smoothing:
        own = " (it has its own: set loss.eps)" if "eps" in LOSSES.get(name).params else ""
        raise ConfigError(f"regularization.label_smoothing = {recipe.regularization['label_smoothing']} — "
                          f"loss {name!r} takes no label smoothing from [regularization]{own}; "
                          "cross_entropy and bce do", field="regularization.label_smoothing")
    return LOSSES.create(name, field="loss", **params)


def monitor_of(recipe: Recipe, data: Dataset) -> str:
    """train.monitor for the data set's task ("auto": `DEFAULT_MONITOR`); ConfigError when the run
    does not report it (or early stopping's own monitor): another task's metric, or top-5
    accuracy with K ≤ 5 classes."""
    task = data.task
    fields = {"train.monitor": recipe.train["monitor"],
              "regularization.early_stopping.monitor": recipe.regularization["early_stopping"]["monitor"]}
    for field, metric in fields.items():
        if metric != "auto":
            try:
                check_metric(metric, task, field)
            except ValueError as exc:
                raise ConfigError(str(exc), field=field) from None
            if metric.endswith("top5") and data.n_classes <= TOP_K:
                raise ConfigError(f"{field} = {metric!r} — top-5 accuracy needs more than {TOP_K} classes; "
                                  f"data set {data.name!r} has {data.n_classes}", field=field)
    return DEFAULT_MONITOR[task] if fields["train.monitor"] == "auto" else fields["train.monitor"]


def check_loss(recipe: Recipe, data: Dataset, task: str, n_outputs: int, loss: Callable) -> None:
    """Call the loss once on zero outputs for two training samples: one that fails or returns
    more than one number fails now, naming the loss. (A model's output width is its builder's
    to check: nnopt.nn.models.check_output.)"""
    y = data.train.y[:2]
    out = torch.zeros(len(y), n_outputs, device=y.device)
    name = recipe.loss["name"]
    try:
        with torch.no_grad():
            value = loss(out, targets(task, out, y))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ConfigError(f"loss.name = {name!r} fails on outputs {tuple(out.shape)} and targets "
                          f"{tuple(y.shape)}: {exc}".split("\n")[0], field="loss.name") from None
    if not torch.is_tensor(value) or value.dim() != 0:
        got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
        raise ConfigError(f"loss.name = {name!r} returns {got} — must return the batch mean as one "
                          "number (a 0-d tensor)", field="loss.name")
