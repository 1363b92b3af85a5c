"""nnopt report: one self-contained HTML page (checked in Chromium) and the README's markdown table."""
import re

import pytest
from browser import browser  # noqa: F401

from nnopt import ConfigError
from nnopt.cli import main
from nnopt.lab import EXPERIMENTS, Finding, Spread, Table, experiment, holds, lab_recipe, run_experiment
from nnopt.report.html import MIN_SCALE, claim_number, markdown_table, render


@pytest.fixture(scope="module")
def lab_dirs(tmp_path_factory):
    """Two findings (one HOLDS with a figure and runs, one DOES NOT HOLD) written by run_experiment."""
    from nnopt.lab.plots import figure

    @experiment("report_probe", claim="Training lowers the loss. More words.", precise="val loss falls",
                source="(test)")
    def probe(ctx):
        runs = [ctx.run(lab_recipe({"data": {"n_train": 60}, "model": {"widths": [8]},
                                    "train": {"epochs": 2, "seed": s}}), f"s{s}") for s in ctx.seeds]
        drop = Spread([r.epochs[0]["val_loss"] - r.epochs[1]["val_loss"] for r in runs])
        fig, (ax,) = figure()
        ax.plot([1, 2], [2, 1])
        return Finding(verdict=holds(drop.mean > 0), criterion="drop > 0", measured=f"drop {drop.mean:.3f}",
                       table=Table(["seed", "drop <b>"], [[s, v] for s, v in zip(ctx.seeds, drop.values)]),
                       figures=[ctx.save_figure(fig, "probe", caption="a falling line")], notes="a note & <tag>")

    @experiment("report_probe_fails", claim="Nothing | trains.", precise="p", source="s")
    def fails(ctx):
        return Finding(verdict="DOES NOT HOLD", criterion="c", measured="m", table=Table(["a"], [[1.5]]))

    root = tmp_path_factory.mktemp("lab")
    records = [run_experiment("report_probe", root / "probe", seeds=3, fast=True),
               run_experiment("report_probe_fails", root / "fails", seeds=3, fast=True)]
    yield root, records
    EXPERIMENTS.pop("report_probe"), EXPERIMENTS.pop("report_probe_fails")


def test_page_is_self_contained_and_complete(lab_dirs):
    root, records = lab_dirs
    page = render([root, root / "probe" / "runs" / "s0"])
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched from a network
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2  # the finding's figure and the run's curves
    for anchor in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{anchor}"' in page
    assert 'class="badge holds">HOLDS' in page and 'class="badge fails">DOES NOT HOLD' in page
    assert "drop &lt;b&gt;" in page and "a note &amp; &lt;tag&gt;" in page  # escaped, not injected
    assert "nnopt lab report_probe --fast" in page and "nnopt run" in page and "prefers-color-scheme: dark" in page


def test_markdown_table(lab_dirs):
    root, records = lab_dirs
    lines = markdown_table([root]).splitlines()
    assert lines[0].startswith("| # | experiment | claim | verdict |") and len(lines) == 4
    row = {r.split(" | ")[1].strip("`"): r for r in lines[2:]}
    assert "Training lowers the loss |" in row["report_probe"] and f"**{records[0]['verdict']}**" in row["report_probe"]
    assert "Nothing \\| trains" in row["report_probe_fails"]  # a | in a cell is escaped
    assert claim_number("lr_decay") == 4 and claim_number("report_probe") is None


def test_cli(lab_dirs, tmp_path, capsys):
    root, _ = lab_dirs
    assert main(["report", str(root), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert main(["report", "--markdown-table", str(root / "fails")]) == 0
    assert "report_probe_fails" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="nothing to report"):
        render([tmp_path])


def test_every_figure_loads_in_chromium(lab_dirs, tmp_path, browser):  # noqa: F811
    root, _ = lab_dirs
    path = tmp_path / "report.html"
    path.write_text(render([root, root / "probe" / "runs" / "s1"]))
    backgrounds = {}
    for scheme in ("light", "dark"):
        page = browser.new_page(color_scheme=scheme, viewport={"width": 900, "height": 1000})
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.clientWidth])")
        assert len(sizes) == 2 and all(done and natural > 0 for done, natural, _ in sizes)
        # sized to the page, but never shrunk below MIN_SCALE (a wide one scrolls instead)
        assert all(MIN_SCALE * natural - 1 <= shown <= max(900, MIN_SCALE * natural + 1) for _, natural, shown in sizes)
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert page.locator("nav li").count() == 3  # two claims, one run
        page.close()
    assert backgrounds["light"] != backgrounds["dark"]


def test_compare_and_tune_directories(tmp_path):
    """A real `compare` directory, and a tune study directory in the layout nnopt tune writes."""
    from nnopt.compare import compare
    from nnopt.lab.plots import figure

    cmp_dir = tmp_path / "cmp"
    compare(lab_recipe({"data": {"n_train": 60}, "model": {"widths": [8]}, "train": {"epochs": 1}}),
            {"optimizer.name": ["sgd", "adam"]}, 1, cmp_dir, quiet=True, log=lambda *a: None)
    study = tmp_path / "study"
    study.mkdir()
    (study / "trials.csv").write_text("number,state,value,epochs,seconds,worker,optimizer.lr\n"
                                      "0,COMPLETE,0.81,3,1.0,w0,0.1\n1,PRUNED,,1,0.2,w0,3.0\n"
                                      "2,COMPLETE,0.93,3,1.1,w0,0.01\n")
    (study / "best.toml").write_text('[optimizer]\nlr = 0.01\n')
    fig, (ax,) = figure()
    ax.plot([0, 1, 2], [0.81, 0.81, 0.93])
    fig.savefig(study / "history.png")
    page = render([cmp_dir, study])
    assert "Compare cmp" in page and "optimizer" in page and "Tune study" in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == 2  # val_curves.png, history.png
    cells = re.findall(r"<tr><td>(\d)</td>", page.split("Tune study")[1])
    assert cells == ["2", "0", "1"]  # best value first, the pruned trial (no value) last


def test_a_run_directory_carries_the_doctors_diagnosis(lab_dirs):
    """Oracle: nnopt doctor's own text for the same run, HTML-escaped, is on the page."""
    from html import escape

    from nnopt.doctor import format_diagnosis

    root, _ = lab_dirs
    run_dir = root / "probe" / "runs" / "s0"
    page = render([run_dir])
    assert "Diagnosis (nnopt doctor)" in page
    assert escape(format_diagnosis(run_dir)) in page  # as report.html.esc escapes (quotes too)
