"""The shared browser fixture: the system Chromium runs the page's JavaScript and draws on a canvas."""
from browser import browser  # noqa: F401


def test_chromium_runs_javascript_and_canvas(browser):  # noqa: F811
    page = browser.new_page()
    page.set_content("<p data-testid=out></p><canvas id=c width=4 height=4></canvas><script>"
                     "const g = document.getElementById('c').getContext('2d');"
                     "g.fillStyle = 'rgb(255, 0, 0)'; g.fillRect(0, 0, 4, 4);"
                     "document.querySelector('[data-testid=out]').textContent = 6 * 7 + ':' +"
                     " g.getImageData(1, 1, 1, 1).data.join(',');</script>")
    assert page.get_by_test_id("out").inner_text() == "42:255,0,0,255"
    page.close()
