"""A headless Chromium driven by selenium, for the tests of what rnngen puts on a page;
the test is skipped where chromium, chromedriver or selenium is missing."""
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def driver(profile, what="the page", *flags):
    """A selenium Chrome driver on headless Chromium with its profile in ``profile``
    (quit it when done); skips the calling test (``what`` it tests) where one is missing."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium and chromedriver (apt-get install chromium chromium-driver); "
                    f"skipping the browser test of {what}")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="the browser test drives chromium with selenium "
                                           "(pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


def page_browser(what):
    """A module-scoped pytest fixture: one headless Chromium for a test module's pages
    (``what`` they show, for the skip message)."""
    @pytest.fixture(scope="module")
    def browser(tmp_path_factory):
        chrome = driver(tmp_path_factory.mktemp("profile"), what, "--window-size=1200,1600")
        yield chrome
        chrome.quit()

    return browser


# every plot's legend box, plot box, and the box of each plotted point and line
MEASURE = """
return Array.from(document.querySelectorAll('svg.curve')).map(function (svg) {
  function box(el) { var r = el.getBoundingClientRect();
                     return [r.left, r.top, r.right, r.bottom]; }
  return {kind: svg.getAttribute('data-kind'),
          legend: box(svg.querySelector('g.legend')),
          plot: box(svg.querySelector('rect.box')),
          marks: Array.from(svg.querySelectorAll('polyline.series, circle')).map(box)};
});
"""


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
