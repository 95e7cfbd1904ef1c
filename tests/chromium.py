"""Debian's headless Chromium as the browser tests launch it: one place for its path, its
flags and its driver. tests/test_console.py drives it through Selenium and chromedriver;
tests/test_docs_offline.py runs it once per page (--dump-dom). `make test` installs the
packages when missing."""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# No sandbox (containers run it as root), no GPU, and nothing the browser would fetch for
# itself (updates, sync, QUIC probes): a test sees only the requests of its page.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def require(*paths):
    """Fail (not skip) when a browser binary is missing."""
    for path in paths:
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} missing: apt-get install -y chromium chromium-driver (make test does)", pytrace=False)


def command(profile, *flags):
    """The command line of one Chromium run with a fresh profile folder."""
    require(CHROMIUM)
    return [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *flags]


def driver(profile, downloads, *flags):
    """A Selenium-driven Chromium with a fresh profile whose downloads land in `downloads`
    without asking; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require(CHROMIUM, CHROMEDRIVER)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return browser
