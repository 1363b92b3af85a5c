"""torch's argument names that nnopt spells differently (`nnopt.torch_names`): the table covers every
torch argument of every registered entry's torch counterpart, each conversion gives torch's own
numbers (torch is the oracle), and every entry point says the same thing."""
import inspect
import re
from pathlib import Path

import pytest
import torch
from torch.optim import lr_scheduler as L

import nnopt
import nnopt.cli
from nnopt import Recipe, schedules
from nnopt.errors import ConfigError
from nnopt.registry import OPTIMIZERS, SCHEDULES
from nnopt.torch_names import FAMILY_ROWS, converted, entry_rows, lookup, markdown

from test_hardening_input import refused
from test_schedules_torch import torch_lrs

LR = 0.1
DOCS = Path(__file__).resolve().parents[1] / "docs"


# -- the table covers torch ---------------------------------------------------------------------
def counterparts():
    """(family, entry, torch class) for every registered entry with a torch.optim counterpart (its
    registration's torch_class)."""
    return [(family, e.name, e.meta["torch_class"]) for family, registry in (("schedules", SCHEDULES),
                                                                             ("optimizers", OPTIMIZERS))
            for e in registry if isinstance(e.meta.get("torch_class"), type)]


def torch_args(cls) -> list[str]:
    return [k for k in inspect.signature(cls.__init__).parameters if k not in ("self", "optimizer", "params")]


def test_every_schedule_torch_names_is_found():
    names = {e for f, e, _ in counterparts() if f == "schedules"}
    assert names == {"step", "piecewise", "linear", "polynomial", "exponential", "cosine", "cyclic",
                     "cosine_restarts", "one_cycle"}
    assert len([1 for f, *_ in counterparts() if f == "optimizers"]) >= 12


@pytest.mark.parametrize("family, entry, cls", counterparts(), ids=lambda x: getattr(x, "__name__", x))
def test_each_torch_argument_is_a_field_an_alias_or_a_row(family, entry, cls):
    spec = (SCHEDULES if family == "schedules" else OPTIMIZERS).get(entry).params
    accepted = set(spec) | {a for p in spec.values() for a in p.aliases}
    missing = [k for k in torch_args(cls) if k not in accepted and lookup(family, entry, k) is None]
    assert not missing, f"{entry}: torch {cls.__name__}'s {missing} neither accepted nor a torch_names row"
    row_cls, rows = entry_rows(family, entry)
    assert row_cls == cls.__name__
    for key, row in rows.items():
        assert key in torch_args(cls), f"{key} is not an argument of torch {cls.__name__}"
        assert key not in accepted, f"{entry} accepts {key}: the row could never be shown"
        assert set(row.fields) <= set(spec)


@pytest.mark.parametrize("family, entry, cls", counterparts(), ids=lambda x: getattr(x, "__name__", x))
def test_nnopt_list_answers_every_torch_argument(family, entry, cls, capsys):
    """``nnopt list FAMILY ENTRY`` shows each of torch's arguments: as a field, among a field's
    ``[also: ...]`` names, or as a row saying what to write instead."""
    assert nnopt.cli.main(["list", family, entry]) == 0
    out = capsys.readouterr().out
    fields = set(re.findall(r"^  (\w+) = ", out, re.M))
    also = {a for names in re.findall(r"\[also: ([^\]]+)\]", out) for a in names.split(", ")}
    rows = dict(re.findall(r"^    (\w+) \(torch \w+\) → (.+?)(?:  \(|$)", out, re.M))
    for key in torch_args(cls):
        found = lookup(family, entry, key)
        assert key in fields | also or (found and rows.get(key) == found[1].use), f"{entry}: {key}"


def test_family_wide_rows_are_the_base_class_arguments():
    cls, rows = FAMILY_ROWS["schedules"]
    assert cls == "LRScheduler" and set(rows) <= set(torch_args(L.LRScheduler))
    assert set(FAMILY_ROWS) == {"schedules"}


def test_only_entries_with_a_torch_class_carry_rows():
    for family, registry in (("schedules", SCHEDULES), ("optimizers", OPTIMIZERS)):
        for e in registry:
            assert not e.meta.get("torch_names") or isinstance(e.meta.get("torch_class"), type), e.name


# -- each conversion gives torch's numbers ---------------------------------------------------------
def hinted(family, entry, given):
    """nnopt's fields from torch's values `given`, as the table converts them."""
    out = {}
    for key in given:
        found = lookup(family, entry, key)
        if found and found[1].fields:
            value = converted(found[1], given)
            assert value is not None, key
            out.update(zip(found[1].fields, value if isinstance(value, tuple) else (value,)))
    return out


def assert_lrs(entry, nnopt_kwargs, make, steps):
    f = schedules.create(entry, **nnopt_kwargs)
    for t, (a, b) in enumerate(zip([f(t) for t in range(steps)], torch_lrs(make, steps))):
        assert abs(a - b) <= 1e-9, (t, a, b)


@pytest.mark.parametrize("mode, gamma", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.995)])
@pytest.mark.parametrize("up", [1, 7, 25])
def test_cyclic_step_size_up_is_half_a_cycle(mode, gamma, up):
    given = {"step_size_up": up}
    assert hinted("schedules", "cyclic", given) == {"cycle_steps": 2 * up}
    ours = {"lr": 0.01, "max_lr": 0.2, "mode": mode, "rate": gamma, **hinted("schedules", "cyclic", given)}
    assert_lrs("cyclic", ours,
               lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=up, mode=mode, gamma=gamma,
                                    cycle_momentum=False), 8 * up + 3)
    # an explicit, equal step_size_down is the same cycle
    assert hinted("schedules", "cyclic", {**given, "step_size_down": up}) == {"cycle_steps": 2 * up}
    assert_lrs("cyclic", ours, lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=0.2, step_size_up=up, step_size_down=up,
                                                     mode=mode, gamma=gamma, cycle_momentum=False), 8 * up + 3)


def test_an_asymmetric_cyclic_gets_no_number():
    row = lookup("schedules", "cyclic", "step_size_up")[1]
    assert converted(row, {"step_size_up": 10, "step_size_down": 30}) is None
    with pytest.raises(ConfigError) as info:
        Recipe({"schedule": {"name": "cyclic", "max_lr": 1.0, "step_size_up": 10, "step_size_down": 30}})
    assert "here cycle_steps = 2·step_size_up (" in str(info.value)


@pytest.mark.parametrize("epochs, per_epoch", [(3, 7), (1, 40)])
def test_one_cycle_epochs_times_steps_per_epoch_is_total_steps(epochs, per_epoch):
    given = {"epochs": epochs, "steps_per_epoch": per_epoch}
    assert hinted("schedules", "one_cycle", given) == {"total_steps": epochs * per_epoch}
    assert_lrs("one_cycle", {"lr": LR, **hinted("schedules", "one_cycle", given)},
               lambda o: L.OneCycleLR(o, max_lr=LR, epochs=epochs, steps_per_epoch=per_epoch), epochs * per_epoch)


def test_one_cycle_takes_anneal_strategy_as_anneal():
    assert_lrs("one_cycle", {"lr": LR, "total_steps": 30, "anneal_strategy": "linear"},
               lambda o: L.OneCycleLR(o, max_lr=LR, total_steps=30, anneal_strategy="linear"), 30)


@pytest.mark.parametrize("start, end", [(1.0, 0.05), (0.8, 0.1), (0.5, 0.5)])
def test_linear_factors_are_multiples_of_the_lr(start, end):
    kwargs = hinted("schedules", "linear", {"start_factor": start, "end_factor": end, "lr": LR})
    assert kwargs == pytest.approx({"lr": start * LR, "min_lr": end * LR})
    assert_lrs("linear", {**kwargs, "total_steps": 20},
               lambda o: L.LinearLR(o, start_factor=start, end_factor=end, total_iters=20), 40)


def test_a_rising_linear_lr_is_the_warmup_its_note_gives():
    note = lookup("schedules", "linear", "start_factor")[1].note
    assert "warmup_steps = total_iters, warmup_start_lr = start_factor·lr" in note
    assert_lrs("constant", {"lr": LR, "warmup_steps": 10, "warmup_start_lr": 0.25 * LR},
               lambda o: L.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=10), 30)


def test_cyclic_drives_no_momentum_and_one_cycle_does():
    assert "one_cycle has cycle_momentum" in lookup("schedules", "cyclic", "cycle_momentum")[1].note
    assert not hasattr(schedules.create("cyclic", lr=0.01, max_lr=0.1), "drives")
    assert "momentum" in schedules.create("one_cycle", lr=0.1, total_steps=10, cycle_momentum=True).drives


def trajectory(make, steps=20):
    """Parameters after each step of `make(params)` on a fixed quadratic with a fixed noise (float64)."""
    gen = torch.Generator().manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, 3, generator=gen, dtype=torch.float64))
    noise = torch.randn(steps, 4, 3, generator=gen, dtype=torch.float64)
    opt, out = make([w]), []
    for k in range(steps):
        opt.zero_grad()
        (0.5 * (w * w).sum() + (noise[k] * w).sum()).backward()
        opt.step()
        out.append(w.detach().clone())
    return torch.stack(out)


@pytest.mark.parametrize("entry, given, torch_make", [
    ("momentum", {"nesterov": True}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adam", {"decoupled_weight_decay": True},
     lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
])
def test_a_torch_switch_is_the_entry_the_hint_names(entry, given, torch_make):
    key = next(iter(given))
    use = lookup("optimizers", entry, key)[1].use
    other = re.fullmatch(r"name = '(\w+)'", use)[1]
    hyper = {"lr": 0.05, "weight_decay": 0.1} if entry == "adam" else {"lr": 0.05, "momentum": 0.9}
    ours = trajectory(lambda p: nnopt.optim.create(other, p, no_decay_1d=False, **hyper))
    assert torch.allclose(ours, trajectory(torch_make), atol=1e-10)
    assert not torch.allclose(ours, trajectory(lambda p: nnopt.optim.create(entry, p, no_decay_1d=False, **hyper)))


def test_nesterov_is_already_what_torch_nesterov_true_gives_and_torch_refuses_dampening():
    ours = trajectory(lambda p: nnopt.optim.create("nesterov", p, lr=0.05, momentum=0.9))
    assert torch.allclose(ours, trajectory(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
                          atol=1e-10)
    with pytest.raises(ValueError, match="dampening"):
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9, nesterov=True, dampening=0.5)


def test_adafactor_takes_torchs_eps_pair():
    given = {"eps": (1e-3, 2.0)}
    ours = trajectory(lambda p: nnopt.optim.create("adafactor", p, lr=0.05, **given))
    theirs = trajectory(lambda p: torch.optim.Adafactor(p, lr=0.05, **given))
    default = trajectory(lambda p: nnopt.optim.create("adafactor", p, lr=0.05))
    assert torch.allclose(ours, theirs, atol=1e-9) and not torch.allclose(ours, default)
    with pytest.raises(ConfigError, match=r"ε₂, the floor of RMS\(θ\), must be a number"):
        nnopt.optim.create("adafactor", [torch.nn.Parameter(torch.ones(2))], eps=(None, None))


# -- every entry point says it -------------------------------------------------------------------
CYCLIC = ("schedule.step_size_up is torch CyclicLR's name: here cycle_steps = 2·step_size_up = 200 "
          "(the whole cycle; nnopt's cycles rise and fall equally long)")


def test_recipe_error_text():
    with pytest.raises(ConfigError) as info:
        Recipe({"schedule": {"name": "cyclic", "max_lr": 1.0, "step_size_up": 100}})
    assert str(info.value) == CYCLIC


@pytest.mark.parametrize("section, values, text", [
    ("schedule", {"name": "one_cycle", "epochs": 3, "steps_per_epoch": 50},
     "schedule.epochs is torch OneCycleLR's name: here total_steps = epochs·steps_per_epoch = 150 (none = the "
     "whole run, filled by the Trainer)"),
    ("schedule", {"name": "one_cycle", "steps_per_epoch": 50},
     "schedule.steps_per_epoch is torch OneCycleLR's name: here total_steps = epochs·steps_per_epoch (none"),
    ("schedule", {"name": "linear", "lr": 0.2, "end_factor": 0.25}, "here min_lr = end_factor·(the base lr) = 0.05 ("),
    ("schedule", {"name": "linear", "end_factor": 0.25},
     "here min_lr = end_factor·(the base lr) (the base lr is lr, or the optimizer's"),
    ("schedule", {"name": "cyclic", "max_lr": 1.0, "step_size_up": "abc"}, "here cycle_steps = 2·step_size_up ("),
    ("schedule", {"name": "cyclic", "max_lr": 1.0, "step_size_up": True}, "here cycle_steps = 2·step_size_up ("),
    ("schedule", {"name": "cosine", "last_epoch": 5},
     "schedule.last_epoch is torch LRScheduler's name: here no counterpart (a schedule is a function of t"),
    ("schedule", {"name": "cyclic", "max_lr": 1.0, "scale_fn": "f"}, "torch CyclicLR's name: here mode (triangular"),
    ("optimizer", {"name": "momentum", "nesterov": True},
     "optimizer.nesterov is torch SGD's name: here name = 'nesterov' (Nesterov momentum is an optimizer"),
    ("optimizer", {"name": "adam", "decoupled_weight_decay": True}, "here name = 'adamw' (torch's Adam with"),
    ("optimizer", {"name": "adafactor", "eps": 1e-3}, "optimizer.eps = 0.001 — must be a list of 2 items"),
    ("optimizer", {"name": "nesterov", "dampening": 0.1}, "torch SGD's name: here nothing (torch's Nesterov needs"),
])
def test_recipe_error_texts(section, values, text):
    with pytest.raises(ConfigError) as info:
        Recipe({section: values})
    assert text in str(info.value)


def test_other_unknown_keys_keep_the_plain_message():
    with pytest.raises(ConfigError, match=r"schedule.step_sise is not a known field of schedules 'step' "
                                          r"\(allowed: .*\) — did you mean 'step_size'\?"):
        Recipe({"schedule": {"name": "step", "step_sise": 3}})
    # a torch name of another entry is not this entry's: sgd has nesterov, cosine has no step_size_up row
    assert Recipe({"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True}}).optimizer["nesterov"]
    with pytest.raises(ConfigError, match="is not a known field of schedules 'cosine'"):
        Recipe({"schedule": {"name": "cosine", "step_size_up": 100}})


def test_cli_set_error(tmp_path, capsys):
    out = tmp_path / "run"
    err = refused(["run", "--set", "schedule.name=cyclic", "--set", "schedule.max_lr=1", "--set",
                   "schedule.step_size_up=100", "--out", str(out)], capsys, CYCLIC, out=out)
    assert err.count("\n") == 1


def test_plot_schedule_set_error(tmp_path, capsys):
    out = tmp_path / "lr.png"
    refused(["plot", "schedule", "cyclic", "--set", "max_lr=1", "--set", "step_size_up=50", "-o", str(out)], capsys,
            "--set 'step_size_up=50' — step_size_up is torch CyclicLR's name: here cycle_steps = 2·step_size_up = 100",
            out=out)
    refused(["plot", "schedule", "cosine", "--set", "step_size_up=50", "-o", str(out)], capsys,
            "no schedule named here (cosine) has a parameter 'step_size_up'", out=out)


def test_library_create_errors():
    with pytest.raises(ConfigError, match=re.escape(CYCLIC)):
        schedules.create("cyclic", lr=0.01, max_lr=1.0, step_size_up=100)
    with pytest.raises(ConfigError, match="optimizer.nesterov is torch SGD's name: here name = 'nesterov'"):
        nnopt.optim.create("momentum", [torch.nn.Parameter(torch.zeros(2))], lr=0.1, nesterov=True)


def test_search_space_error_names_the_field():
    from nnopt.tune.space import parse_space

    with pytest.raises(ConfigError, match=r"schedule.step_size_up is torch CyclicLR's name: here cycle_steps = "
                                          r"2·step_size_up \(the whole cycle"):
        parse_space('[schedule]\nname = ["cyclic"]\nmax_lr = [1.0]\nstep_size_up = [50, 100]', Recipe())


def test_playground_form_and_trajectory_errors():
    pytest.importorskip("starlette")
    from nnopt.serve.forms import FormError, recipe_from_form, schema
    from nnopt.serve.surfaces import trajectories

    form = {**schema()["defaults"], "schedule.name": "cyclic", "schedule.max_lr": "1.0",
            "schedule.step_size_up": "100"}
    form = {k: v for k, v in form.items() if not k.startswith("schedule.") or k in
            ("schedule.name", "schedule.max_lr", "schedule.step_size_up")}
    with pytest.raises(FormError) as info:
        recipe_from_form(form)
    assert info.value.field == "schedule.step_size_up" and str(info.value) == CYCLIC
    with pytest.raises(FormError) as info:
        trajectories({"surface": "saddle", "runs": [{"optimizer": "momentum", "fields": {"nesterov": "true"}}]})
    assert info.value.field == "runs.0.nesterov" and "here name = 'nesterov'" in str(info.value)


# -- docs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, page", [("schedules", "schedules.md"), ("optimizers", "optimizers.md")])
def test_docs_carry_the_table(family, page):
    assert markdown(family) in (DOCS / page).read_text(encoding="utf-8")
