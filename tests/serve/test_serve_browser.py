"""The playground in a real browser (system Chromium via playwright): the 2-D view, live training,
inline errors, two tabs. NNOPT_FIGURES=DIR also saves the screenshots into DIR (docs/figures)."""
import os
import shutil
import threading
import time

import pytest

pytest.importorskip("starlette")
from browser import browser  # noqa: E402,F401

from nnopt.serve.command import serve_in_thread, warm_up  # noqa: E402

VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(scope="module")
def url():
    warm_up()  # the lazy imports of a first build, paid here rather than inside the first test
    address, stop = serve_in_thread()
    yield address
    stop()


@pytest.fixture
def page(browser, url):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda error: errors.append(error))
    tab.goto(url)
    tab.wait_for_selector("body[data-ready=true]")
    tab.wait_for_function("window.nnopt.sid !== null")
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(tab, path):
    """A PNG of the page at `path`; also into $NNOPT_FIGURES when set (docs/figures)."""
    tab.screenshot(path=str(path))
    assert path.read_bytes()[:4] == b"\x89PNG"
    if os.environ.get("NNOPT_FIGURES"):
        shutil.copy(path, os.path.join(os.environ["NNOPT_FIGURES"], path.name))


def train_state(tab):
    return tab.evaluate("({status: nnopt.train.status, step: nnopt.train.step, frames: nnopt.train.frames,"
                        " records: nnopt.train.records, draws: nnopt.boundaryDraws})")


def boundary_pixels(tab):
    return tab.evaluate("document.querySelector('[data-testid=plot-boundary]').toDataURL()")


def colored_pixels(tab, testid, rgb):
    """How many pixels of the canvas are within 30 of `rgb` in each channel."""
    return tab.evaluate("""([id, rgb]) => {
        const c = document.querySelector(`[data-testid="${id}"]`);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - rgb[0]) < 30 && Math.abs(d[i + 1] - rgb[1]) < 30 && Math.abs(d[i + 2] - rgb[2]) < 30) n++;
        return n;
    }""", [testid, rgb])


def test_saddle_sgd_and_momentum_trajectories_differ_as_the_chapter_says(page, tmp_path):
    """Start at (1.5, 0.001) on x² − y²: SGD creeps along x to the saddle point and only slowly
    leaves it along y; momentum overshoots x = 0 and escapes along y far sooner."""
    assert page.get_by_test_id("surface-select").input_value() == "saddle"
    assert page.get_by_test_id("traj-field-runs.0.optimizer").input_value() == "sgd"
    assert page.get_by_test_id("traj-field-runs.1.optimizer").input_value() == "momentum"
    page.get_by_test_id("traj-run").click()
    page.wait_for_function("window.nnopt.trajDone", timeout=20_000)
    sgd, momentum = page.evaluate("nnopt.traj.runs")
    sx = [p[0] for p in sgd["points"]]
    assert all(b < a for a, b in zip(sx, sx[1:])) and sx[-1] > 0  # monotone, never past the saddle
    assert min(p[0] for p in momentum["points"]) < 0  # overshoots
    assert abs(momentum["points"][-1][1]) > 100 * abs(sgd["points"][-1][1])
    assert momentum["losses"][-1] < sgd["losses"][-1]
    # both drawn: the palette's blue (sgd) and red (momentum) on the contour canvas and the loss plot
    for testid in ("traj-canvas", "traj-loss"):
        assert colored_pixels(page, testid, [31, 119, 180]) > 50
        assert colored_pixels(page, testid, [214, 39, 40]) > 50
    lab = page.get_by_test_id("traj-lab").inner_text()
    assert "nnopt lab saddle_points" in lab and "nnopt lab momentum" in lab
    screenshot(page, tmp_path / "serve_trajectories.png")
    frames = sorted(page.evaluate("nnopt.frameTimes"))
    assert len(frames) >= 30 and frames[int(0.95 * len(frames))] < 16, frames  # a frame renders in < 16 ms


def test_train_moons_live_loss_falls_and_the_boundary_moves(page, tmp_path):
    page.get_by_test_id("tab-train").click()
    assert page.get_by_test_id("field-data.name").input_value() == "moons"
    page.get_by_test_id("field-train.epochs").fill("2000")  # still running when paused, on a fast machine too
    page.get_by_test_id("train-start").click()
    page.wait_for_function("nnopt.train.status === 'running' && nnopt.boundaryDraws >= 1", timeout=60_000)
    first = boundary_pixels(page)
    time.sleep(3)
    state = train_state(page)
    assert state["status"] == "running" and state["frames"] >= 10
    records = state["records"]
    assert len(records) >= 3 and records[-1]["train_loss"] < 0.8 * records[0]["train_loss"]
    assert boundary_pixels(page) != first
    screenshot(page, tmp_path / "serve.png")

    page.get_by_test_id("train-pause").click()
    page.wait_for_function("nnopt.train.status === 'paused'")
    step = train_state(page)["step"]
    time.sleep(0.5)
    assert train_state(page)["step"] == step  # paused means paused
    page.get_by_test_id("train-step").click()
    page.wait_for_function(f"nnopt.train.step === {step + 1} && nnopt.train.status === 'paused'")
    page.get_by_test_id("export-recipe").click()
    page.wait_for_function("document.querySelector('[data-testid=recipe-toml]').textContent !== ''")
    toml = page.get_by_test_id("recipe-toml").inner_text()
    assert '[data]\nname = "moons"' in toml and "widths = [16, 16]" in toml
    page.get_by_test_id("train-reset").click()
    page.wait_for_function("nnopt.train.status === 'idle'")


def test_bad_values_get_an_inline_error_and_the_server_keeps_going(page):
    page.get_by_test_id("tab-train").click()
    page.get_by_test_id("field-optimizer.lr").fill("-1")
    page.get_by_test_id("train-start").click()
    error = page.get_by_test_id("error-optimizer.lr")
    error.wait_for()
    assert error.inner_text() == "optimizer.lr = -1 — must be >= 0"
    assert "invalid" in page.get_by_test_id("field-optimizer.lr").get_attribute("class")
    assert train_state(page)["status"] == "idle"
    page.get_by_test_id("field-optimizer.lr").fill("0.1")
    page.get_by_test_id("field-model.widths").fill("[16, oops]")
    page.get_by_test_id("export-recipe").click()
    page.get_by_test_id("error-model.widths").wait_for()
    assert page.get_by_test_id("error-optimizer.lr").inner_text() == ""  # the old error is cleared
    assert "model.widths" in page.get_by_test_id("error-model.widths").inner_text()

    page.get_by_test_id("tab-surfaces").click()
    page.get_by_test_id("traj-field-runs.1.momentum").fill("lots")
    page.get_by_test_id("traj-run").click()
    page.get_by_test_id("traj-error-runs.1.momentum").wait_for()
    assert page.get_by_test_id("traj-error-runs.1.momentum").inner_text() == \
        "momentum.momentum = 'lots' — must be a number in [0, 1)"
    page.get_by_test_id("traj-field-runs.1.momentum").fill("0.9")
    page.get_by_test_id("traj-run").click()  # the server still answers
    page.wait_for_function("window.nnopt.trajDone", timeout=20_000)


def test_two_tabs_train_independently_and_a_closed_tab_stops(browser, url):  # noqa: F811
    tabs = []
    for data, lr in (("moons", "0.1"), ("circles", "0.05")):
        context = browser.new_context(viewport=VIEWPORT)
        tab = context.new_page()
        tab.goto(url)
        tab.wait_for_selector("body[data-ready=true]")
        tab.wait_for_function("window.nnopt.sid !== null")
        tab.get_by_test_id("tab-train").click()
        tab.get_by_test_id("field-data.name").select_option(data)
        tab.get_by_test_id("field-optimizer.lr").fill(lr)
        tab.get_by_test_id("field-train.epochs").fill("100000")
        tab.get_by_test_id("train-start").click()
        tabs.append((context, tab))
    for _, tab in tabs:
        tab.wait_for_function("nnopt.train.status === 'running' && nnopt.train.frames >= 3", timeout=60_000)
    sids = [tab.evaluate("nnopt.sid") for _, tab in tabs]
    assert sids[0] != sids[1]
    # one tab's controls do not reach the other's run
    tabs[0][1].get_by_test_id("train-pause").click()
    tabs[0][1].wait_for_function("nnopt.train.status === 'paused'")
    before = tabs[1][1].evaluate("nnopt.train.step")
    tabs[1][1].wait_for_function(f"nnopt.train.step > {before}")
    assert tabs[1][1].evaluate("nnopt.train.status") == "running"
    # each tab shows its own data: the boundary's points differ
    points = [tab.evaluate("JSON.stringify(nnopt.train.boundary.points)") for _, tab in tabs]
    assert points[0] != points[1]
    threads = {sid: [t for t in threading.enumerate() if t.name == f"nnopt-train-{sid[:8]}"] for sid in sids}
    assert all(len(found) == 1 for found in threads.values())
    tabs[1][0].close()  # closing the tab ends its training
    threads[sids[1]][0].join(15)
    assert not threads[sids[1]][0].is_alive() and threads[sids[0]][0].is_alive()
    tabs[0][0].close()
    threads[sids[0]][0].join(15)
    assert not threads[sids[0]][0].is_alive()


LAYOUT = """() => {
    // text boxes of every chart inside its canvas, legends above the plot (no curve under them)
    const charts = Object.entries(NNPlot.layout).filter(([id]) => document.getElementById(id).offsetParent);
    const bad = [];
    for (const [id, c] of charts) {
        for (const b of [...c.labels, ...c.legend])
            if (b.x0 < 0 || b.x1 > c.w || b.y0 < 0 || b.y1 > c.h) bad.push(`${id}: "${b.text}" outside the canvas`);
        for (const b of c.legend) if (b.y1 > c.plot.y0) bad.push(`${id}: legend "${b.text}" over the plot`);
    }
    // no visible control wider than its box, no select too narrow for its text, nothing overlapping its row
    const probe = document.createElement("span");
    probe.style.cssText = "position:absolute;visibility:hidden;white-space:nowrap;font:12px system-ui,sans-serif";
    document.body.append(probe);
    for (const e of document.querySelectorAll(".controls input, .controls select, .controls button, .controls label")) {
        if (!e.offsetParent) continue;
        const r = e.getBoundingClientRect(), p = e.parentElement.getBoundingClientRect();
        if (r.right > p.right + 1 || r.left < p.left - 1) bad.push(`${e.dataset.testid || e.textContent.slice(0, 20)} overflows its box`);
        if (e.tagName === "SELECT") {
            probe.textContent = e.options[e.selectedIndex].text;
            if (probe.getBoundingClientRect().width + 18 > r.width) bad.push(`${e.dataset.testid}: "${probe.textContent}" truncated`);
        }
    }
    for (const head of document.querySelectorAll(".run-head")) {
        const [a, b] = [...head.children].map((e) => e.getBoundingClientRect());
        if (a.right > b.left) bad.push("an optimizer select overlaps its remove button");
    }
    probe.remove();
    return {bad, charts: charts.length};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_layout_charts_keep_their_text_inside_and_nothing_overflows(browser, url, scheme, tmp_path):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function("window.nnopt.sid !== null")
    page.get_by_test_id("surface-select").select_option("rosenbrock")  # f > 0: the log toggle applies
    page.get_by_test_id("traj-field-steps").fill("1000")  # the x-axis ends at 1000: its label must fit
    page.get_by_test_id("traj-run").click()
    page.wait_for_function("window.nnopt.trajDone", timeout=30_000)
    assert page.evaluate("NNPlot.layout['traj-loss'].labels.some((b) => b.text === '1000')")
    result = page.evaluate(LAYOUT)
    assert result["charts"] == 1 and not result["bad"], result["bad"]
    page.get_by_test_id("tab-train").click()
    page.get_by_test_id("train-speed").select_option("max")
    page.get_by_test_id("field-train.epochs").fill("30")
    page.get_by_test_id("train-start").click()
    page.wait_for_function("nnopt.train.status === 'finished'", timeout=60_000)
    result = page.evaluate(LAYOUT)
    assert result["charts"] == 4 and not result["bad"], result["bad"]
    assert page.evaluate("nnopt.train.layers") == ["layer 1: Linear 2→16", "layer 2: Linear 16→16",
                                                   "layer 3: Linear 16→2"]
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(21, 25, 30)") is (scheme == "dark")
    assert page.evaluate("NNPlot.theme().fg") == ("#e6e6e6" if scheme == "dark" else "#222")
    screenshot(page, tmp_path / f"serve_{scheme}.png")
    context.close()


def test_a_finished_run_its_verdict_and_the_export_lifecycle(browser, url):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function("window.nnopt.sid !== null")
    page.get_by_test_id("tab-train").click()
    assert page.get_by_test_id("train-speed").input_value() == "100"  # a pace a person can follow
    page.get_by_test_id("train-speed").select_option("max")
    page.get_by_test_id("field-optimizer.lr").fill("50")
    page.get_by_test_id("field-train.epochs").fill("8")
    page.get_by_test_id("train-start").click()
    page.wait_for_function("['finished', 'failed'].includes(nnopt.train.status)", timeout=60_000)
    if page.evaluate("nnopt.train.status") == "finished":
        assert "epoch 8/8" in page.get_by_test_id("train-status").inner_text()
    verdict = page.get_by_test_id("train-verdict")
    assert verdict.is_visible() and "nnopt doctor" in verdict.inner_text()

    page.get_by_test_id("export-recipe").click()
    page.wait_for_function("document.querySelector('[data-testid=recipe-toml]').textContent !== ''")
    page.get_by_test_id("copy-recipe").click()
    page.wait_for_function("document.querySelector('[data-testid=copy-recipe]').textContent === 'copied'")
    assert "lr = 50" in page.evaluate("navigator.clipboard.readText()")
    lab = page.locator("[data-testid^=copy-lab-]").first
    lab.click()
    assert page.evaluate("navigator.clipboard.readText()").startswith("nnopt lab ")
    with page.expect_download() as download:
        page.get_by_test_id("download-recipe").click()
    assert download.value.suggested_filename == "recipe.toml"
    assert "lr = 50" in open(download.value.path(), encoding="utf-8").read()
    page.get_by_test_id("train-reset").click()
    page.wait_for_function("nnopt.train.status === 'idle'")
    assert page.get_by_test_id("recipe-toml").inner_text() == "" and not page.get_by_test_id("recipe-toml").is_visible()
    page.get_by_test_id("export-recipe").click()
    page.wait_for_function("document.querySelector('[data-testid=recipe-toml]').textContent !== ''")
    page.get_by_test_id("field-optimizer.lr").fill("0.2")  # a form change: the old export no longer matches
    assert page.get_by_test_id("recipe-toml").inner_text() == ""
    context.close()


def test_entries_keep_their_values_and_digits_has_no_boundary_box(page):
    page.get_by_test_id("tab-train").click()
    advanced = page.get_by_test_id("advanced-optimizer")
    assert advanced.get_attribute("open") is None and advanced.locator("[data-field='optimizer.fused']").count() == 1
    assert page.get_by_test_id("plot-boundary").is_visible()
    page.get_by_test_id("field-data.name").select_option("digits")
    assert not page.get_by_test_id("plot-boundary").is_visible()  # no empty "2-D only" box
    page.get_by_test_id("field-data.name").select_option("moons")
    assert page.get_by_test_id("field-data.n_samples").input_value() == "500"  # the recipe's, not the entry's 1000
    assert page.get_by_test_id("plot-boundary").is_visible()


def test_a_diverged_trajectory_is_labelled_readably(page):
    """SGD at lr 2 on x² − y²: y grows ×5 a step and overflows; "diverged" is written in dark red on
    a white box (not in the run's colour on the dark contours)."""
    page.get_by_test_id("traj-field-runs.0.lr").fill("2")
    page.get_by_test_id("traj-field-steps").fill("1000")
    page.get_by_test_id("traj-run").click()
    page.wait_for_function("window.nnopt.trajDone", timeout=20_000)
    assert page.evaluate("nnopt.traj.runs.map((r) => r.diverged)") == [True, False]
    assert colored_pixels(page, "traj-canvas", [176, 0, 32]) > 20
    legend = page.evaluate("NNPlot.layout['traj-loss'].legend.map((b) => b.text)")
    assert legend == ["sgd (diverged)", "momentum"]
