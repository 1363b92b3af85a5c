"""The system Chromium (Debian `chromium`) driven by Playwright, for browser tests.

Import the fixture into a test module: `from browser import browser  # noqa: F401`, then open pages
with `browser.new_context().new_page()`. Playwright's own browser download is not used: the executable
is `$NNOPT_CHROMIUM` or the first of chromium, chromium-browser, google-chrome on PATH. Without a
browser (or the playwright package) the tests are skipped with the reason — except under CI, where
that is a failure, so a CI run never passes without having run them.
"""
import os
import shutil

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_executable():
    """The path of the system Chromium, or None."""
    explicit = os.environ.get("NNOPT_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return next((path for path in map(shutil.which, NAMES) if path), None)


def _unavailable(reason):
    """Fail under CI (browser tests must run there), skip elsewhere."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI runs the browser tests, but {reason}")
    pytest.skip(f"browser test skipped: {reason}")


_shared: dict = {"users": 0}  # one Playwright per process: a second sync_playwright() cannot start


@pytest.fixture(scope="session")
def browser():
    """A headless system Chromium for the whole session (a Playwright `Browser`), shared by every
    test module that imports this fixture."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package 'playwright' is not installed (pip install -e '.[test]')")
    path = chromium_executable()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium, or set NNOPT_CHROMIUM; "
                     "scripts/system-deps.sh installs it as root)")
    if _shared["users"] == 0:
        playwright = sync_playwright().start()
        try:  # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
            _shared["browser"] = playwright.chromium.launch(executable_path=path, headless=True,
                                                            args=["--no-sandbox", "--disable-gpu"])
        except Exception:
            playwright.stop()
            raise
        _shared["playwright"] = playwright
    _shared["users"] += 1
    try:
        yield _shared["browser"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            _shared.pop("browser").close()
            _shared.pop("playwright").stop()
