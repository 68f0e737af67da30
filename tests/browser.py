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
