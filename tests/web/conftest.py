"""Fixtures for the browser tests: a logger serving its web view from a thread, and Chromium.

Chromium and chromedriver come from Debian's packages (`.ci/run` installs them); the browser
runs headless with a fresh profile and no network access beyond 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import CHROMIUM_ARGS, LoggerThread, artefact_dir, find_binary, web_home


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggerThread]:
    lt = LoggerThread(web_home(tmp_path_factory.mktemp("web-home")))
    lt.start()
    yield lt
    lt.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return artefact_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # selenium-manager must not try to download anything: the driver path is given.
    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = find_binary("chromium", "chromium-browser")
    for arg in CHROMIUM_ARGS:
        opts.add_argument(arg)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.add_argument("--window-size=1280,900")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=opts, service=Service(executable_path=find_binary("chromedriver"))
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
