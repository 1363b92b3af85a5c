"""The lab framework: parts, preconditions, negative controls, the headline, the noise-proof comparison
helpers (against scipy's t-tests), finding.json, --on, the registration metadata and the CLI."""
import json

import pytest
from scipy import stats

from nnopt import ConfigError, Recipe
from nnopt.cli import main
from nnopt.lab import (DOES_NOT_HOLD, EXPERIMENTS, HOLDS, HOLDS_IN_PART, INCONCLUSIVE, Check, Finding, Part,
                       Precondition, Spread, Table, exceeds, experiment, headline, interval, judge, lab_recipe,
                       matches, run_experiment)
from nnopt.lab.command import LIST_WIDTH, list_table


def tiny_recipe(ctx, seed, overrides=()):
    return ctx.recipe({"model": {"widths": [16]}, "train": {"epochs": 2}}, seed, overrides)


@pytest.fixture
def tiny_experiment():
    @experiment("tiny_probe", claim="training lowers the loss", precise="val loss after 2 epochs < after 1",
                source="(test)", accepts_recipe=True, shows={"optimizer.name": ["adagrad"]}, number=99)
    def tiny(ctx):
        runs = ctx.runs(lambda s: tiny_recipe(ctx, s), "trained")
        frozen = ctx.runs(lambda s: tiny_recipe(ctx, s, {"optimizer.lr": 0.0}), "lr0")
        drop = {k: rs.spread(lambda r: r.epochs[0]["val_loss"] - r.epochs[1]["val_loss"])
                for k, rs in (("trained", runs), ("lr 0", frozen))}
        ctx.part("the loss falls", criterion="val loss falls from epoch 1 to 2 for every seed",
                 check=lambda d: Check(d.lo > 0, f"drop {d.fmt()}"), on=drop["trained"],
                 control=("learning rate 0", drop["lr 0"]),
                 preconditions=[Precondition("two epochs ran", len(runs[0].epochs) == 2)])
        from nnopt.lab.plots import figure

        fig, (ax,) = figure()
        ax.plot([0, 1], [0, 1])
        return ctx.finding(table=Table(["seed", "drop"], [[s, v] for s, v in zip(ctx.seeds, drop["trained"].values)]),
                           figures=[ctx.save_figure(fig, "probe", caption="the line goes up")],
                           numbers={"drop": drop["trained"]})

    yield "tiny_probe"
    EXPERIMENTS.pop("tiny_probe")


def test_finding_json_parts_controls_and_recipes(tmp_path, tiny_experiment):
    record = run_experiment(tiny_experiment, tmp_path, seeds=3, fast=True)
    on_disk = json.loads((tmp_path / "finding.json").read_text())
    assert on_disk == record and record["verdict"] == HOLDS and record["seeds"] == [0, 1, 2]
    (part,) = record["parts"]
    assert part["verdict"] == HOLDS and part["control"]["what"] == "learning rate 0"
    assert part["control"]["verdict"] == DOES_NOT_HOLD  # lr 0: the loss does not fall
    assert part["preconditions"] == [{"what": "two epochs ran", "met": True, "measured": ""}]
    assert record["captions"] == {"figures/probe.png": "the line goes up"} and record["number"] == 99
    assert len(record["recipes"]) == 6 and "recipes/lr0-s2.toml" in record["recipes"]
    assert Recipe.load(tmp_path / "recipes" / "trained-s1.toml").train["seed"] == 1
    assert len(record["numbers"]["drop"]["values"]) == 3


def test_on_runs_the_protocol_on_the_users_recipe(tmp_path, tiny_experiment):
    user = tmp_path / "mine.toml"
    user.write_text('[model]\nname = "mlp"\nwidths = [8, 8]\n[train]\nepochs = 2\nbatch_size = 50\n')
    record = run_experiment(tiny_experiment, tmp_path / "out", seeds=3, fast=True, on=user)
    assert record["on"] == str(user)
    trained = Recipe.load(tmp_path / "out" / "recipes" / "lr0-s2.toml")
    assert trained.model["widths"] == [8, 8] and trained.train["batch_size"] == 50  # the user's workload
    assert trained.optimizer["lr"] == 0.0 and trained.train["seed"] == 2  # the protocol's overrides
    with pytest.raises(ConfigError, match="does not train recipes"):
        run_experiment("adagrad_rmsprop", tmp_path / "x", on=user)


def test_fewer_than_three_seeds_is_refused(tmp_path, tiny_experiment):
    with pytest.raises(ConfigError, match="--seeds = 2"):
        run_experiment(tiny_experiment, tmp_path, seeds=2)


def test_cli_lab(tmp_path, tiny_experiment, capsys):
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny_probe" in out and max(len(line) for line in out.splitlines()) <= LIST_WIDTH  # the footnote too
    assert main(["lab", tiny_experiment, "--fast", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert "HOLDS         the loss falls — drop" in out and "control (learning rate 0): DOES NOT HOLD" in out
    assert main(["lab", "tiny_prob", "--out", str(tmp_path / "y")]) == 2
    assert "did you mean 'tiny_probe'" in capsys.readouterr().err
    assert main(["lab", tiny_experiment, "--on", str(tmp_path / "none.toml"), "--out", str(tmp_path / "z")]) == 2
    assert "none.toml" in capsys.readouterr().err
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


def test_list_says_which_accept_on_and_the_measured_times():
    rows = {line.split()[1]: line for line in list_table().splitlines()[2:] if line.split()[0].isdigit()}
    assert all(len(line) <= LIST_WIDTH for line in rows.values())
    for name, exp in EXPERIMENTS.items():
        if name in rows:
            assert (" yes " in rows[name]) == exp.accepts_recipe


@pytest.mark.parametrize("paired", [False, True])
def test_interval_is_scipys_t_interval(paired):
    a, b = Spread([1.0, 1.4, 1.1, 1.3]), Spread([0.2, 0.9, 0.5, 0.1])
    test = (stats.ttest_rel(a.values, b.values) if paired else
            stats.ttest_ind(a.values, b.values, equal_var=False))
    ci = test.confidence_interval(0.95)
    d, lo, hi = interval(a, b, paired=paired)
    assert d == pytest.approx(a.mean - b.mean) and (lo, hi) == pytest.approx((ci.low, ci.high))


def test_comparisons_cannot_pass_on_noise():
    noisy, other = Spread([0.50, 0.62, 0.41]), Spread([0.47, 0.58, 0.44])  # gap 0.027, seed std ~0.1
    assert not exceeds(noisy, other).ok and not exceeds(other, noisy).ok
    assert exceeds(Spread([0.90, 0.91, 0.92]), Spread([0.50, 0.52, 0.51]), by=0.3).ok
    assert not exceeds(Spread([0.90, 0.91, 0.92]), Spread([0.50, 0.52, 0.51]), by=0.45).ok
    assert "95% interval" in exceeds(noisy, other).measured
    # equivalence must be shown: a wide interval is not "equal"
    assert not matches(noisy, other, tol=0.05).ok
    assert matches(Spread([0.500, 0.501, 0.502]), Spread([0.501, 0.5015, 0.500]), tol=0.01).ok
    assert exceeds(Spread([2.0, 2.0, 2.0]), Spread([1.0, 1.0, 1.0])).ok  # deterministic: the point itself


def part(verdict, regime=None, derivation=False):
    return Part("p", "c", verdict, "m", "" if verdict == HOLDS else "why", regime, derivation)


@pytest.mark.parametrize("verdicts, expected", [
    ([part(HOLDS), part(HOLDS)], HOLDS),
    ([part(HOLDS), part(DOES_NOT_HOLD)], HOLDS_IN_PART),
    ([part(HOLDS), part(INCONCLUSIVE)], HOLDS_IN_PART),
    ([part(DOES_NOT_HOLD), part(INCONCLUSIVE)], DOES_NOT_HOLD),
    ([part(INCONCLUSIVE), part(INCONCLUSIVE)], INCONCLUSIVE),
    ([part(HOLDS, "noisy moons"), part(DOES_NOT_HOLD, "digits")], "HOLDS WHEN noisy moons"),
    ([part(HOLDS), part(HOLDS, "deep"), part(DOES_NOT_HOLD, "shallow")], "HOLDS WHEN deep"),
    ([part(HOLDS, "a"), part(INCONCLUSIVE, "b")], HOLDS_IN_PART),
    ([part(HOLDS), part(DOES_NOT_HOLD, derivation=True)], HOLDS),  # the lab's derivation never decides
])
def test_headline(verdicts, expected):
    assert headline(verdicts) == expected
    Finding(verdict=expected, criterion="", measured="", table=Table([], []))  # a valid verdict


def test_judge_preconditions_and_controls():
    def check(x):
        return Check(x > 1, f"x = {x}")

    assert judge("p", criterion="x > 1", check=check, on=2, control=("off", 0)).verdict == HOLDS
    unmet = judge("p", criterion="x > 1", check=check, on=0, why="w",
                  preconditions=[Precondition("the cliff is hit", False, "0 of 3 starts")])
    assert unmet.verdict == INCONCLUSIVE and unmet.why == "precondition not met: the cliff is hit (0 of 3 starts)"
    passes = judge("p", criterion="x > 1", check=check, on=2, control=("broken", 5))
    assert passes.verdict == INCONCLUSIVE and "negative control (broken) passes" in passes.why
    assert passes.control.verdict == HOLDS
    with pytest.raises(ValueError, match="needs why="):
        judge("p", criterion="x > 1", check=check, on=0)
    assert judge("p", criterion="x > 1", check=check, on=0, why="too small").why == "too small"


def test_a_comparison_short_of_power_is_inconclusive_and_one_against_the_claim_does_not_hold():
    """Absence of evidence is not evidence of absence: an estimate on the claimed side whose 95%
    interval reaches the threshold is INCONCLUSIVE (scipy's Welch interval decides which side)."""
    from scipy import stats

    wide, low = Spread([5.0, 2.9, 7.4]), Spread([2.0, 1.96, 2.05])  # clipping's fast RNN: d = 3.1, lo < 0
    assert stats.ttest_ind(wide.values, low.values, equal_var=False).confidence_interval(0.95).low < 0
    short = exceeds(wide, low)
    assert not short.ok and short.underpowered
    part_ = judge("p", criterion="a > b", check=lambda a: exceeds(a, low), on=wide, why="w")
    assert part_.verdict == INCONCLUSIVE and part_.why.startswith("underpowered")
    against = judge("p", criterion="a > b", check=lambda a: exceeds(low, a), on=wide, why="it does not")
    assert against.verdict == DOES_NOT_HOLD and not exceeds(low, wide).underpowered
    assert not exceeds(Spread([1.0, 1.1, 0.9]), Spread([0.5, 0.5, 0.5]), by=0.6).underpowered  # d below `by`
    # equivalence: a point estimate inside ±tol with a wide interval is short of power, one outside is not
    assert matches(Spread([0.50, 0.62, 0.41]), Spread([0.47, 0.58, 0.44]), tol=0.05).underpowered
    assert not matches(Spread([0.60, 0.62, 0.61]), Spread([0.40, 0.42, 0.41]), tol=0.05).underpowered


def test_all_of_is_underpowered_only_when_every_failing_check_is():
    from nnopt.lab import all_of

    short, plain_fail, ok = Check(False, "a", underpowered=True), Check(False, "b"), Check(True, "c")
    assert all_of(ok, ok).ok and not all_of(ok, ok).underpowered
    assert all_of(short, ok).underpowered and all_of(short, short).underpowered
    assert not all_of(short, plain_fail).underpowered and not all_of(short, plain_fail).ok
    assert all_of(short, ok).measured == "a; c"


def test_finding_rejects_an_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        Finding(verdict="MOSTLY", criterion="", measured="", table=Table([], []))


def test_lab_recipe_another_component_starts_from_its_defaults():
    r = lab_recipe({"model": {"name": "mlp", "widths": [64]}}, 3, {"model.name": "rnn", "data.name": "digits_seq"})
    assert r.model["name"] == "rnn" and "widths" not in r.model and r.train["seed"] == 3
    assert r.train["threads"] == 1 and r.train["checkpoint"] is False
    same = lab_recipe({"model": {"name": "mlp", "widths": [64]}}, None, {"model.name": "mlp"})
    assert same.model["widths"] == [64]


def test_registrations_link_valid_recipe_fields():
    from nnopt.lab import all_experiments
    from nnopt.serve.lab_links import lab_links, links

    default = Recipe()
    for exp in all_experiments():
        assert exp.number is not None and exp.claim and exp.source
        for field_name in exp.shows:
            # a recipe section's field (some exist only for some components, e.g. a text data set's augment)
            assert field_name == "surface" or field_name.split(".")[0] in default.resolved, field_name
    table = links()
    assert table["optimizer.name"]["momentum"] == "momentum"
    assert [x["name"] for x in lab_links([("optimizer.name", "nesterov", True)])] == ["nesterov"]
    warm = [("schedule.warmup_steps", 100, True)]
    assert [x["name"] for x in lab_links(warm)] == ["cyclic_warmup"]
    assert lab_links([("schedule.warmup_steps", 0, False)]) == []  # "*": only a value other than the default


def test_report_shows_parts_controls_captions_and_the_markdown_table(tmp_path, tiny_experiment):
    from nnopt.report.html import markdown_table, render

    run_experiment(tiny_experiment, tmp_path / "probe", seeds=3, fast=True)
    page = render([tmp_path / "probe"])
    assert "<h3>Parts</h3>" in page and "learning rate 0" in page and "the line goes up" in page
    assert "✓ two epochs ran" in page and 'class="badge holds">HOLDS</span> the claim' in page
    table = markdown_table([tmp_path / "probe"])
    assert "| **HOLDS** | HOLDS: the loss falls — drop" in table
    # a part of someone else's finding.json is shown as text, escaped
    record = json.loads((tmp_path / "probe" / "finding.json").read_text())
    record["parts"] = [{"name": "<script>x</script>", "verdict": "HOLDS WHEN <b>", "control": "odd"}, "text"]
    record["verdict"] = "HOLDS WHEN <b>"
    (tmp_path / "probe" / "finding.json").write_text(json.dumps(record))
    page = render([tmp_path / "probe"])
    assert "<script>x" not in page and "&lt;script&gt;x" in page and 'class="badge partial"' in page


def test_save_figure_needs_a_caption(tmp_path):
    from nnopt.lab import LabContext
    from nnopt.lab.plots import figure

    ctx = LabContext("probe", tmp_path, [0, 1, 2], True)
    fig, _ = figure()
    with pytest.raises(ValueError, match="'probe': a caption .* is required"):
        ctx.save_figure(fig, "probe", caption="  ")
    assert not (tmp_path / "figures" / "probe.png").exists() and ctx.captions == {}


def test_every_experiment_captions_its_figures_and_counts_its_seeds():
    """Read from the experiments' source: every ctx.save_figure call passes a caption, and no text hard-codes a
    number of seeds (a title or header says len(ctx.seeds), which --seeds changes)."""
    import ast
    import re
    from pathlib import Path

    import nnopt.lab.experiments as package

    files = sorted(Path(package.__file__).parent.glob("c[0-9]*.py"))
    assert len(files) >= 27
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "save_figure":
                caption = [k.value for k in node.keywords if k.arg == "caption"] + node.args[2:3]
                assert caption and not (isinstance(caption[0], ast.Constant) and not caption[0].value.strip()), \
                    f"{path.name}:{node.lineno}: save_figure without a caption"
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            shown = [node] if name in ("set_title", "suptitle", "set", "Table") else \
                [k.value for k in node.keywords if k.arg in ("label", "title")]
            for text in (n.value for part in shown for n in ast.walk(part)
                         if isinstance(n, ast.Constant) and isinstance(n.value, str)):
                assert not re.search(r"\b\d+ seeds?\b", text), f"{path.name}:{node.lineno}: {text!r}"
