"""nnopt report on directories someone else wrote: a payload in any field never runs (checked in
Chromium with a dialog handler), no file outside a finding's folder is read, `-o` never overwrites
an input, and every malformed input is a one-line error naming the file (and line) — or, for one
bad finding among many, a warning naming its folder. A `--fast` lab says so in the header; wide
figures keep their text legible."""
import json
import re
import shutil

import matplotlib.pyplot as plt
import pytest
from browser import browser  # noqa: F401

from nnopt.cli import main
from nnopt.lab.plots import figure
from nnopt.report.html import MIN_SCALE, render

PAYLOAD = 'x"><img src=x onerror=alert(1)><script>alert(2)</script>\'"`'


def png(path, width_in=2.0):
    fig, (ax,) = figure(1, width=width_in, height=2.0)
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def write_finding(folder, **fields):
    """A valid finding.json (the fields nnopt lab writes), `fields` replacing or adding keys."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figures").mkdir(exist_ok=True)
    fig = "figures/" + png(folder / "figures" / "f.png")
    record = {"experiment": folder.name, "claim": "c.", "precise": "p", "source": "s", "verdict": "HOLDS",
              "criterion": "k", "measured": "m", "table": {"headers": ["a"], "rows": [[1]]}, "figures": [fig],
              "notes": "", "seeds": [0, 1, 2], "fast": False, "time_s": 1.0, "cpu_s": 1.0, "recipes": [],
              "nnopt_version": "0"}
    record.update(fields)
    (folder / "finding.json").write_text(json.dumps(record))
    return folder


def cli(capsys, *argv):
    code = main(["report", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, err


# -- script in a field ---------------------------------------------------------------------------
def test_a_payload_in_every_field_never_runs_in_chromium(tmp_path, browser):  # noqa: F811
    folder = tmp_path / "lab" / "evil"
    write_finding(folder)
    record = json.loads((folder / "finding.json").read_text())
    (folder / "recipes").mkdir()
    (folder / "recipes" / "r.toml").write_text(PAYLOAD)
    evil = {k: PAYLOAD for k, v in record.items() if isinstance(v, str)}
    part = {k: PAYLOAD for k in ("name", "verdict", "criterion", "measured", "why", "regime")}
    part.update(control={"verdict": PAYLOAD, "what": PAYLOAD, "measured": PAYLOAD}, derivation=True,
                preconditions=[{"what": PAYLOAD, "met": True, "measured": PAYLOAD}])
    evil.update(table={"headers": [PAYLOAD], "rows": [[PAYLOAD, 1.5]]}, seeds=[PAYLOAD],
                figures=["figures/f.png", PAYLOAD], recipes=["recipes/r.toml"], verdict=PAYLOAD,
                parts=[part, PAYLOAD], captions={"figures/f.png": PAYLOAD})
    write_finding(folder, **evil)
    page_path = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "lab"), "-o", str(page_path)]) == 0
    text = page_path.read_text()
    assert "<img src=x" not in text and "<script>alert" not in text
    assert text.count("&lt;img src=x onerror=alert(1)&gt;") >= 25  # every field shown, as text
    ids = re.findall(r'\b(?:id|href)="#?([^"]*)"', text)
    assert ids and all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)  # anchors made from a slug only
    dialogs = []
    page = browser.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    for link in page.locator("nav a").all():
        link.click()
    page.wait_for_timeout(200)
    assert dialogs == [] and page.locator("img[src='x']").count() == 0
    page.close()


def test_files_outside_the_findings_folder_are_never_read(tmp_path, capsys):
    secret_png = png(tmp_path / "secret.png")
    (tmp_path / "secret.toml").write_text("SECRET_RECIPE = 1\n")
    folder = tmp_path / "lab" / "f"
    write_finding(folder)
    (folder / "link.png").symlink_to(tmp_path / secret_png)
    write_finding(folder, figures=["../../secret.png", str(tmp_path / "secret.png"), "link.png"],
                  recipes=["../../secret.toml"])
    page = render([folder])
    err = capsys.readouterr().err
    assert "<img" not in page and "SECRET_RECIPE" not in page
    assert err.count("outside the finding's folder; not read") == 4 and "secret.toml" in err


# -- -o onto an input, an unwritable -o --------------------------------------------------------
@pytest.mark.parametrize("target", ["finding.json", "figures/f.png", "new.html"])
def test_o_inside_an_input_is_refused(tmp_path, capsys, target):
    folder = write_finding(tmp_path / "f")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    code, err = cli(capsys, folder, "-o", folder / target)
    assert code == 2 and "one of the report's inputs" in err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("out", ["/dev/null/x.html", "/proc/x.html", "", " "])
def test_o_that_cannot_be_written_is_one_line(tmp_path, capsys, out):
    folder = write_finding(tmp_path / "f")
    code, err = cli(capsys, folder, "-o", out)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: -o = ")


def test_o_a_directory_is_refused(tmp_path, capsys):
    folder = write_finding(tmp_path / "f")
    code, err = cli(capsys, folder, "-o", tmp_path)
    assert code == 2 and "is a directory" in err


# -- malformed findings --------------------------------------------------------------------------
BAD_FINDINGS = {
    "empty": (b"", "finding.json:1 — not valid JSON"),
    "truncated": (b'{"experiment": "x", "cl', "finding.json:1 — not valid JSON"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8"), "null": (b"null", "holds a JSON null"),
    "list": (b"[1, 2]", "holds a JSON list"), "object": (b"{}", "missing field(s) experiment"),
    "deep": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "wrong time": (json.dumps({"experiment": "x", "claim": "c", "verdict": "HOLDS", "criterion": "k",
                               "measured": "m", "time_s": "abc"}).encode(), "time_s = \"abc\" — must be a number"),
    "figures a string": (None, "figures = \"f.png\" — must be a list"),
    "table a list": (None, "table = [] — must be an object"),
    "figure a number": (None, "figures must be a list of file names"),
}
FIELDS = {"figures a string": {"figures": "f.png"}, "table a list": {"table": []}, "figure a number": {"figures": [3]}}


@pytest.mark.parametrize("case", list(BAD_FINDINGS))
def test_a_bad_finding_given_is_a_one_line_error_naming_it(tmp_path, capsys, case):
    content, expected = BAD_FINDINGS[case]
    folder = write_finding(tmp_path / "bad", **FIELDS.get(case, {}))
    if content is not None:
        (folder / "finding.json").write_bytes(content)
    code, err = cli(capsys, folder, "-o", tmp_path / "r.html")
    assert code == 2 and err.count("\n") == 1, err
    assert str(folder / "finding.json") in err and expected in err
    assert not (tmp_path / "r.html").exists()


def test_one_bad_finding_among_many_is_skipped_with_a_warning(tmp_path, capsys):
    for name in ("a", "b", "c"):
        write_finding(tmp_path / "lab" / name)
    (tmp_path / "lab" / "b" / "finding.json").write_text('{"experiment": ')
    code, err = cli(capsys, tmp_path / "lab", "-o", tmp_path / "r.html")
    assert code == 0 and f"warning: {tmp_path / 'lab' / 'b'} skipped" in err and "finding.json:1 — not valid JSON" in err
    page = (tmp_path / "r.html").read_text()
    assert page.count("<section") == 2
    for name in ("a", "c"):
        (tmp_path / "lab" / name / "finding.json").write_text("null")
    code, err = cli(capsys, tmp_path / "lab", "-o", tmp_path / "r2.html")
    assert code == 2 and "every directory" in err and not (tmp_path / "r2.html").exists()


def test_markdown_table_skips_a_bad_finding_too(tmp_path, capsys):
    write_finding(tmp_path / "lab" / "a")
    write_finding(tmp_path / "lab" / "b", verdict=7)
    code, err = cli(capsys, "--markdown-table", tmp_path / "lab")
    assert code == 0 and "verdict = 7 — must be a string" in err


# -- malformed run and tune files --------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from nnopt.lab import lab_recipe
    from nnopt.train import train

    path = tmp_path_factory.mktemp("run") / "r"
    train(lab_recipe({"data": {"n_train": 60}, "model": {"widths": [4]}, "train": {"epochs": 2}}), path, quiet=True)
    return path


METRICS = {"truncated": ('{"kind": "epoch", "epo', "metrics.jsonl:3 — not a JSON line"),
           "no kind": ('{"epoch": 1}', "metrics.jsonl:3 — a record must be a JSON object with a \"kind\""),
           "string loss": ('{"kind": "epoch", "epoch": 1, "val_loss": "high"}',
                           "metrics.jsonl:3 — val_loss = \"high\" — must be a number"),
           "binary": ("\udcff\udcfe", "not UTF-8")}


@pytest.mark.parametrize("case", list(METRICS))
def test_a_bad_metrics_line_is_named(run_dir, tmp_path, capsys, case):
    bad, expected = METRICS[case]
    copy = shutil.copytree(run_dir, tmp_path / "r")
    lines = (copy / "metrics.jsonl").read_text().splitlines()
    lines.insert(2, bad)
    (copy / "metrics.jsonl").write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
    code, err = cli(capsys, copy, "-o", tmp_path / "r.html")
    assert code == 2 and str(copy / "metrics.jsonl") in err and expected in err, err


@pytest.mark.parametrize("content, expected", [("{", "summary.json:1 — not valid JSON"),
                                                       ("[1]", "summary.json holds a JSON list")])
def test_a_bad_summary_is_named(run_dir, tmp_path, capsys, content, expected):
    copy = shutil.copytree(run_dir, tmp_path / "r")
    (copy / "summary.json").write_text(content)
    code, err = cli(capsys, copy, "-o", tmp_path / "r.html")
    assert code == 2 and str(copy / "summary.json") in err and expected in err


@pytest.mark.parametrize("row, expected", [("0,COMPLETE,abc,1", "trials.csv:3 — value = 'abc'"),
                                           ("0,COMPLETE", "trials.csv:3 — 2 columns, the header has 4")])
def test_a_bad_trials_csv_is_named(tmp_path, capsys, row, expected):
    study = tmp_path / "study"
    study.mkdir()
    (study / "trials.csv").write_text(f"number,state,value,epochs\n1,COMPLETE,0.5,1\n{row}\n")
    code, err = cli(capsys, study, "-o", tmp_path / "r.html")
    assert code == 2 and str(study / "trials.csv") in err and expected in err


# -- --fast, wide figures ------------------------------------------------------------------------
def test_a_fast_lab_says_so_in_the_header(tmp_path):
    write_finding(tmp_path / "lab" / "a", fast=True)
    write_finding(tmp_path / "lab" / "b")
    header = render([tmp_path / "lab"]).split("</header>")[0]
    assert 'class="fast-banner"' in header and "1 of 2 findings" in header
    assert 'class="fast-banner"' not in render([tmp_path / "lab" / "b"])


def test_wide_figures_keep_text_legible_in_chromium(tmp_path, browser):  # noqa: F811
    folder = write_finding(tmp_path / "wide")
    name = png(folder / "figures" / "wide.png", width_in=23.0)  # 2,300 px, as nesterov's three panels
    write_finding(folder, figures=["figures/f.png", f"figures/{name}"])
    (tmp_path / "r.html").write_text(render([folder]))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((tmp_path / "r.html").as_uri())
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all("figure img", "els => els.map(e => [e.naturalWidth, e.clientWidth])")
    page.close()
    assert [n for n, _ in sizes] == [200, 2300]
    assert all(shown >= MIN_SCALE * natural - 1 for natural, shown in sizes)  # never shrunk below 0.86
    assert sizes[0][1] <= 1280


def test_a_full_disk_while_writing_is_one_line(tmp_path, capsys, monkeypatch):
    import errno
    from pathlib import Path

    folder = write_finding(tmp_path / "f")
    real = Path.write_text

    def full(self, *a, **k):
        if self.name == "r.html":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    code, err = cli(capsys, folder, "-o", tmp_path / "r.html")
    assert code == 2 and err == f"error: cannot write {tmp_path / 'r.html'}: No space left on device — free some " \
                                "space or choose another output directory\n"
