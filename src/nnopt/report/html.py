"""`nnopt report`: lab findings, runs, compare and tune directories as one self-contained HTML page.

    write_report(["lab/all-20261201", "runs/default-run-..."], "report.html")

Every figure is inlined as a base64 PNG (the page opens without a network or the directories);
each lab finding shows the chapter's claim, the precise version and its source, the setup (the
recipes it trained), the table, the figures, the verdict with its criterion, and how to rerun it.
A directory is recognised by what it holds: ``finding.json`` (a lab experiment), ``summary.json``
+ ``metrics.jsonl`` (a run), ``results.json`` (a compare), ``trials.csv`` (a tune study); any
other directory is searched two levels down (``nnopt lab all`` writes one subdirectory per claim,
so ``nnopt report lab`` finds every ``nnopt lab NAME`` and ``nnopt lab all`` written under lab/).

A directory may come from someone else, so the page is safe to open whatever it holds: every
field is HTML-escaped (anchors are made from a slug, never from a field), only files inside a
finding's own directory are read (`inputs.inside`), and each input is checked (`inputs`): a bad
file named on the command line is a one-line error naming it; one found below it is
skipped with a warning naming its folder, so one broken finding does not hide the others.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import re
import sys
import time
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from ..paths import check_output
from ..train.rundir import RunDir, read_json, read_text
from .inputs import inside, load_finding, read_trials

BADGE = {"HOLDS": "holds", "HOLDS IN PART": "partial", "HOLDS WHEN": "partial", "DOES NOT HOLD": "fails",
         "INCONCLUSIVE": "unsure"}  # "HOLDS WHEN …" (a regime map's headline) by its first two words

CSS = """
:root { --bg: #fdfdfb; --fg: #1d1d1f; --muted: #5f6368; --rule: #d9d9d6; --code: #f1f1ee; --link: #1a5fb4;
  --holds: #1e7e34; --fails: #b3261e; --unsure: #9a6700; --partial: #3b6ea8; --fig: #ffffff; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #17181a; --fg: #e6e6e3; --muted: #a0a4a8; --rule: #3a3c40; --code: #24262a; --link: #8ab4f8;
    --holds: #4caf50; --fails: #ef5350; --unsure: #f0b429; --partial: #6ea8e0; --fig: #f4f4f2; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 58rem; padding: 2rem 1.25rem 4rem; background: var(--bg); color: var(--fg);
  font: 17px/1.6 Charter, "Bitstream Charter", "Iowan Old Style", Georgia, serif; }
h1, h2, h3, nav, table, .meta, .badge { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.9rem; margin-bottom: .2rem; } h2 { font-size: 1.35rem; margin-top: 3rem;
  border-top: 1px solid var(--rule); padding-top: 1.2rem; } h3 { font-size: 1.02rem; margin: 1.4rem 0 .4rem; }
a { color: var(--link); } .meta { color: var(--muted); font-size: .85rem; }
blockquote { margin: .6rem 0; padding: .2rem 1rem; border-left: 4px solid var(--rule); font-style: italic; }
code, pre { font: .85rem/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; background: var(--code);
  border-radius: 4px; } code { padding: .05rem .3rem; } pre { padding: .7rem .9rem; overflow-x: auto; }
table { border-collapse: collapse; font-size: .82rem; margin: .5rem 0; display: block; overflow-x: auto; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { border-bottom-width: 2px; }
figure { margin: 1rem 0; width: calc(100vw - 2.5rem); position: relative; left: 50%;
  transform: translateX(-50%); overflow-x: auto; } /* wider than the text column, up to the window */
figure img { display: block; max-width: 100%; height: auto; background: var(--fig); margin: 0 auto;
  border-radius: 4px; padding: 4px; } figcaption { color: var(--muted); font-size: .85rem; }
.badge { display: inline-block; padding: .1rem .55rem; border-radius: 999px; color: #fff; font-size: .78rem;
  font-weight: 600; letter-spacing: .02em; white-space: nowrap; vertical-align: .1em; }
.holds { background: var(--holds); } .fails { background: var(--fails); } .unsure { background: var(--unsure); }
.partial { background: var(--partial); }
.fast-banner { border: 2px solid var(--unsure); border-radius: 6px; padding: .5rem .8rem; font-size: .95rem; }
.verdict { font-size: 1.02rem; margin: 1rem 0; } nav ol { padding-left: 1.4rem; } nav li { margin: .15rem 0; }
details summary { cursor: pointer; color: var(--muted); font-size: .9rem; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def png_data(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


MIN_SCALE = 0.86  # a figure is never shown below this fraction of its pixels: 7 pt at 120 dpi stays 10 px


def img(data: bytes, caption: str) -> str:
    """A figure, inlined; shown at the window's width but never narrower than MIN_SCALE of its own
    width (a wide multi-panel figure scrolls sideways rather than shrinking its text below 10 px)."""
    width = int.from_bytes(data[16:20], "big") if data[12:16] == b"IHDR" else 0  # the PNG header's width
    return (f'<figure><img src="{png_data(data)}" alt="{esc(caption)}" loading="eager"'
            f' style="min-width: {round(width * MIN_SCALE)}px">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def html_table(headers: Sequence, rows: Sequence[Sequence]) -> str:
    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else "-" if v is None else str(v)

    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def verdict_kind(verdict) -> str:
    """The BADGE key of a verdict ("HOLDS WHEN <regimes>" → "HOLDS WHEN"); unknown → INCONCLUSIVE."""
    verdict = str(verdict)
    return "HOLDS WHEN" if verdict.startswith("HOLDS WHEN ") else verdict if verdict in BADGE else "INCONCLUSIVE"


def badge(verdict: str) -> str:
    return f'<span class="badge {BADGE[verdict_kind(verdict)]}">{esc(verdict)}</span>'


def parts_table(parts: Sequence) -> str:
    """A finding's parts, one row each: verdict, the part (a derivation marked), what was measured, its
    negative control's verdict, its preconditions, and why it does not hold. Fields that are not the
    expected shape (someone else's finding.json) show as text."""
    rows = []
    for p in parts:
        p = p if isinstance(p, dict) else {"name": p}
        control = p.get("control") if isinstance(p.get("control"), dict) else {}
        pre = [c for c in p.get("preconditions") or [] if isinstance(c, dict)]
        checks = "<br>".join(f"{'✓' if c.get('met') else '✗'} {esc(c.get('what', ''))}"
                             + (f" ({esc(c.get('measured'))})" if c.get("measured") else "") for c in pre)
        tag = " <em>(the lab's derivation: not counted in the verdict)</em>" if p.get("derivation") else ""
        regime = f'<span class="meta">regime: {esc(p["regime"])}</span><br>' if p.get("regime") else ""
        rows.append(f"<tr><td>{badge(p.get('verdict', 'INCONCLUSIVE'))}</td><td>{regime}{esc(p.get('name', ''))}{tag}"
                    f"<br><span class=\"meta\">{esc(p.get('criterion', ''))}</span></td><td>{esc(p.get('measured', ''))}"
                    + (f"<br><em>why:</em> {esc(p['why'])}" if p.get("why") else "") + "</td><td>"
                    + (f"{badge(control.get('verdict', 'INCONCLUSIVE'))} {esc(control.get('what', ''))}<br>"
                       f"<span class=\"meta\">{esc(control.get('measured', ''))}</span>" if control else "—")
                    + f"</td><td>{checks or '—'}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("verdict", "part (criterion fixed before the run)", "measured",
                                             "negative control (must not hold)", "preconditions"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def kind_of(path: Path) -> str | None:
    if (path / "finding.json").is_file():
        return "finding"
    if (path / "summary.json").is_file() and (path / "metrics.jsonl").is_file():
        return "run"
    if (path / "results.json").is_file():
        return "compare"
    if (path / "trials.csv").is_file():
        return "tune"
    return None


def collect(paths: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """(kind, directory) for each path, or for the directories up to two levels below it when it is
    none of the kinds (``lab/`` holds ``adagrad_rmsprop-<time>/`` and ``all-<time>/<claim>/``);
    a path that holds nothing reportable is a ConfigError."""
    found = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ConfigError(f"{p} — not a directory (give lab, run, compare or tune directories)")
        kind = kind_of(p)
        items = [(kind, p)] if kind else found_under(p, depth=2)
        if not items:
            raise ConfigError(f"{p} holds no finding.json, run, compare or tune results (nothing to report)")
        found += items
    return found


def found_under(folder: Path, depth: int) -> list[tuple[str, Path]]:
    """(kind, directory) of the reportable directories below `folder`, at most `depth` levels down,
    not looking inside one that is found (a finding's own runs/ belong to it)."""
    items = []
    for d in sorted(folder.iterdir()):
        if d.is_dir() and not d.is_symlink():
            kind = kind_of(d)
            items += [(kind, d)] if kind else found_under(d, depth - 1) if depth > 1 else []
    return items


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def readable(paths: Sequence[str | Path], read) -> list:
    """`read(kind, path)` of each directory `collect(paths)` finds; one found one level down whose
    files are bad is left out with a warning naming its folder (the others still make a page); a
    bad path given is an error, and so is a page left with nothing."""
    given, out = set(map(Path, paths)), []
    for kind, path in collect(paths):
        try:
            out.append(read(kind, path))
        except ConfigError as exc:
            if path in given:
                raise
            warn(f"{path} skipped: {exc}")
    if not out:
        raise ConfigError(f"nothing to report: every directory under {', '.join(map(str, paths))} was skipped")
    return out


def slug(text: str) -> str:
    """An anchor made of [a-z0-9-] only, whatever `text` holds (a field of someone's finding.json)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def claim_number(name: str) -> int | None:
    """The claim's number in the chapter: NN of its module ``lab/experiments/cNN_*.py``."""
    from ..lab import all_experiments

    exp = next((e for e in all_experiments() if e.name == name), None)
    match = re.search(r"\.c(\d+)_", exp.fn.__module__ + ".") if exp else None
    return int(match.group(1)) if match else None


def claim_order(records: list[dict]) -> list[tuple[int | None, dict]]:
    """(number, finding) in the chapter's order; experiments without a number last."""
    numbered = [(claim_number(r["experiment"]), r) for r in records]
    return sorted(numbered, key=lambda nr: (nr[0] is None, nr[0] or 0))


def finding_section(record: dict, path: Path, anchor: str, number: int | None) -> str:
    name = record["experiment"]
    table = record.get("table") or {"headers": [], "rows": []}
    captions = record.get("captions") or {}

    def caption(f: Path) -> str:
        """The figure's name and the finding's one-line caption for it (what to look at), if any."""
        say = captions.get(str(f.relative_to(Path(path).resolve())))
        return f"{name}: {f.stem.replace('_', ' ')}" + (f" — {say}" if isinstance(say, str) else "")

    figs = "".join(img(f.read_bytes(), caption(f)) for f in own_files(path, record.get("figures", []), "figure"))
    parts = record.get("parts") or []
    verdict = (f"<h3>Parts</h3>{parts_table(parts)}<p class=\"verdict\">{badge(record['verdict'])} the claim's "
               "verdict, from its parts</p>" if parts else
               f"<p class=\"verdict\">{badge(record['verdict'])} {esc(record['measured'])}<br>"
               f"<span class=\"meta\">criterion (fixed before the run): {esc(record['criterion'])}</span></p>")
    recipes = record.get("recipes", [])
    first = own_files(path, recipes[:1], "recipe")
    example = read_text(first[0]) if first else ""
    setup = (f"<p>{len(recipes)} training runs; their exact recipes are in <code>{esc(path)}/recipes/</code>.</p>"
             + (f"<details><summary>the first recipe, <code>{esc(recipes[0])}</code></summary>"
                f"<pre>{esc(example)}</pre></details>" if example else "")) if recipes else \
        "<p>No training runs: the experiment works on tensors with <code>nnopt.optim</code> directly.</p>"
    rerun = f"nnopt lab {name}" + (" --fast" if record.get("fast") else "")
    if recipes:
        rerun += f"\nnnopt run {path}/{recipes[0]}      # any single run of it"
    notes = f"<h3>Notes</h3><p>{esc(record['notes'])}</p>" if record.get("notes") else ""
    cpu = f", {record['cpu_s']:.1f} s CPU" if "cpu_s" in record else ""
    fast = " (--fast)" if record.get("fast") else ""
    return f"""<section id="{anchor}">
<h2>{f"{number}. " if number else ""}{esc(name.replace('_', ' '))} {badge(record['verdict'])}</h2>
<blockquote>{esc(record['claim'])}</blockquote>
<h3>Precise version</h3><p>{esc(record.get('precise', ''))}</p>
<p class="meta">Source: {esc(record.get('source', ''))}</p>
<h3>Setup</h3>{setup}
<h3>Measurements</h3>{html_table(table['headers'], table['rows'])}
{figs}
{verdict}{notes}
<h3>Rerun</h3><pre>{esc(rerun)}</pre>
<p class="meta">seeds {esc(record['seeds'])} · {record['time_s']:.1f} s wall{cpu}{fast}
 · nnopt {esc(record.get('nnopt_version', '?'))} · {esc(path)}</p>
</section>"""


def own_files(folder: Path, names: Sequence[str], what: str) -> list[Path]:
    """The files `names` that lie inside `folder`; a name that points outside it (absolute, ``..``,
    a link out) is skipped with a warning, never read."""
    files = []
    for name in names:
        f = inside(folder, name)
        if f is None and (Path(name).is_absolute() or not (Path(folder) / name).resolve().is_relative_to(
                Path(folder).resolve())):
            warn(f"{folder}/finding.json: {what} {name!r} is outside the finding's folder; not read")
        elif f is not None:
            files.append(f)
    return files


def run_curves_png(path: Path) -> bytes:
    """Loss and accuracy per epoch (train and validation) and the lr per logged step of one run."""
    from ..lab.plots import figure

    lines = RunDir(path).metrics()
    epochs, steps = ([m for m in lines if m["kind"] == kind] for kind in ("epoch", "step"))
    fig, (a_loss, a_acc, a_lr) = figure(3, width=4.2, height=3.2)
    x = [e.get("epoch") for e in epochs]
    for split in ("train", "val"):
        a_loss.plot(x, [e.get(f"{split}_loss") for e in epochs], marker=".", label=split)
        a_acc.plot(x, [e.get(f"{split}_acc") for e in epochs], marker=".", label=split)
    a_loss.set(xlabel="epoch", ylabel="loss (cross-entropy)", yscale="log", title="loss")
    a_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    a_lr.plot([s.get("step") for s in steps], [s.get("lr") for s in steps])
    a_lr.set(xlabel="step", ylabel="learning rate", title="learning rate")
    for ax in (a_loss, a_acc, a_lr):
        ax.grid(alpha=0.3)
    a_loss.legend(fontsize=8), a_acc.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def pngs(path: Path) -> str:
    """Every PNG directly in `path` (and in its figures/ and landscape/ folders), inlined."""
    files = [f for d in (path, path / "figures", path / "landscape") if d.is_dir() for f in sorted(d.glob("*.png"))]
    return "".join(img(f.read_bytes(), f"{path.name}: {f.stem.replace('_', ' ')}") for f in files)


def run_section(path: Path, anchor: str) -> str:
    s = RunDir(path).summary()
    curves = img(run_curves_png(path), f"{path.name}: curves")  # checks metrics.jsonl before the doctor reads it
    keys = ["status", "epochs", "steps", "final_val_acc", "best_val_acc", "test_acc", "test_loss", "time_s"]
    rows = [[k, s.get(k)] for k in keys if k in s]
    recipe = read_text(path / "recipe.toml") if (path / "recipe.toml").is_file() else ""
    land = path / "landscape" / "landscape.json"
    extra = ""
    if land.is_file():
        L = read_json(land)
        extra = html_table(["landscape", "value"], [[k, v] for k, v in L.items() if not isinstance(v, (list, dict))])
    from ..doctor import format_diagnosis

    diagnosis = f"<h3>Diagnosis (nnopt doctor)</h3><pre>{esc(format_diagnosis(path))}</pre>"
    return f"""<section id="{anchor}"><h2>Run {esc(path.name)}</h2>
{html_table(['result', 'value'], rows)}{curves}{extra}{pngs(path)}
{diagnosis}<details><summary>recipe.toml</summary><pre>{esc(recipe)}</pre></details>
<h3>Rerun</h3><pre>nnopt run {esc(path)}/recipe.toml</pre></section>"""


def compare_section(path: Path, anchor: str) -> str:
    table = read_text(path / "table.txt") if (path / "table.txt").is_file() else ""
    return f"""<section id="{anchor}"><h2>Compare {esc(path.name)}</h2><pre>{esc(table)}</pre>{pngs(path)}</section>"""


def tune_section(path: Path, anchor: str, top: int = 15) -> str:
    header, trials = read_trials(path / "trials.csv")
    if "value" in header:
        i = header.index("value")
        trials.sort(key=lambda r: -float(r[i]) if r[i] not in ("", "None", "nan") else float("inf"))
    best = read_text(path / "best.toml") if (path / "best.toml").is_file() else ""
    return f"""<section id="{anchor}"><h2>Tune {esc(path.name)}</h2>
<p class="meta">{len(trials)} trials; the best {min(top, len(trials))} by value:</p>{html_table(header, trials[:top])}
{pngs(path)}<details><summary>best.toml</summary><pre>{esc(best)}</pre></details></section>"""


def render(paths: Sequence[str | Path], title: str = "nnopt report") -> str:
    """The report page for `paths` (see the module docstring), as one HTML string."""
    sections, numbers = {"run": run_section, "compare": compare_section, "tune": tune_section}, itertools.count()

    def read(kind: str, p: Path):
        rec = load_finding(p) if kind == "finding" else {}
        anchor = f"{kind}-{next(numbers)}" + (f"-{slug(rec['experiment'])}" if rec else "")
        try:
            section = finding_section(rec, p, anchor, claim_number(rec["experiment"])) if rec else \
                sections[kind](p, anchor)
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a field of the wrong shape
            raise ConfigError(f"{p}: its {kind} files do not have the shape nnopt writes ({type(exc).__name__}: "
                              f"{exc})") from None
        return kind, p, {**rec, "_anchor": anchor, "_section": section}

    items = readable(paths, read)
    findings = claim_order([rec for kind, _, rec in items if kind == "finding"])
    toc, toc_dirs, body = [], [], []
    for n, rec in findings:
        anchor = rec["_anchor"]
        claim = rec["claim"] if len(rec["claim"]) <= 110 else rec["claim"][:110] + "…"
        toc.append((f'<li value="{n}">' if n else "<li>") + f'<a href="#{anchor}">'
                   f'{esc(rec["experiment"].replace("_", " "))}</a> {badge(rec["verdict"])}'
                   f' <span class="meta">— {esc(claim)}</span></li>')
        body.append(rec["_section"])
    for kind, p, rec in (item for item in items if item[0] != "finding"):
        toc_dirs.append(f'<li><a href="#{rec["_anchor"]}">{kind} {esc(p.name)}</a></li>')
        body.append(rec["_section"])
    lists = (f"<ol>{''.join(toc)}</ol>" if toc else "") + (f"<ul>{''.join(toc_dirs)}</ul>" if toc_dirs else "")
    counts = {v: sum(verdict_kind(r["verdict"]) == v for _, r in findings) for v in BADGE}
    summary = " · ".join(f"{badge(v)} {c}" for v, c in counts.items() if c) if findings else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>{esc(title)}</title><style>{CSS}</style></head>
<body><header><h1>{esc(title)}</h1>
<p class="meta">generated {time.strftime('%Y-%m-%d %H:%M')} by <code>nnopt report</code> · {summary}</p>
{fast_banner([r for _, r in findings])}</header>
<nav><h3>Contents</h3>{lists}</nav>
<main>{''.join(body)}</main></body></html>
"""


def fast_banner(findings: list[dict]) -> str:
    """The header's warning when findings ran at ``nnopt lab --fast`` (the tests' small budget)."""
    fast = sum(bool(r.get("fast")) for r in findings)
    if not fast:
        return ""
    which = "All" if fast == len(findings) else f"{fast} of {len(findings)}"
    return (f'<p class="fast-banner"><strong>--fast</strong>: {which} findings ran on the tests\' small budget '
            "(tiny data, few epochs), so their verdicts and numbers are not the chapter's measurements; "
            "rerun <code>nnopt lab NAME</code> without --fast for those.</p>")


def write_report(paths: Sequence[str | Path], out: str | Path, title: str = "nnopt report") -> Path:
    """Render `paths` into the HTML file `out`; returns its path. `out` may not lie inside a
    directory the page is made from (``-o RUN/model.pt`` would overwrite an input)."""
    out = check_output("-o", out, directory=False)
    for _, folder in collect(paths):
        if out.resolve().is_relative_to(folder.resolve()):
            raise ConfigError(f"-o {out} is inside {folder}, one of the report's inputs; "
                              "write the page outside the directories it reports")
    page = render(paths, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def markdown_table(paths: Sequence[str | Path]) -> str:
    """The README's table of claims and verdicts, generated from the finding.json files under `paths`."""
    records = claim_order([r for r in readable(paths, lambda k, p: load_finding(p) if k == "finding" else None) if r])
    if not records:
        raise ConfigError("no finding.json under " + ", ".join(map(str, paths)))
    lines = ["| # | experiment | claim | verdict | parts (measured) | wall / CPU time (s) |", "|---|---|---|---|---|---|"]
    for n, r in records:
        claim = r["claim"].split(". ")[0].rstrip(".")
        parts = [p for p in r.get("parts") or [] if isinstance(p, dict)]
        measured = "<br>".join(f"{p.get('verdict')}: {p.get('name')}" + (" (lab's derivation)" if p.get("derivation")
                                                                          else "") + f" — {p.get('measured')}"
                               for p in parts) if parts else r["measured"]
        cells = [str(n or ""), f"`{r['experiment']}`", claim, f"**{r['verdict']}**", measured,
                 f"{r['time_s']:.0f} / {r['cpu_s']:.0f}" if "cpu_s" in r else f"{r['time_s']:.0f}"]
        cells[-1] += " (--fast)" if r.get("fast") else ""
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)
