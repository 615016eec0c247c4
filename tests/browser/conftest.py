"""Fixtures of the browser tests: one JupyterLab per served folder, one headless Chromium,
a fresh page per test, and a folder of screenshots listed at the end of the run.

Every test module here sets `pytestmark = pytest.mark.browser`; all of them skip, saying why
and how to enable them, when there is no Chromium (labdriver.chromium_missing_reason).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import labdriver

BROWSER_TESTS = Path(__file__).parent
_screenshots: list[Path] = []


def pytest_collection_modifyitems(config, items):
    reason = labdriver.chromium_missing_reason()
    for item in items:
        if reason and BROWSER_TESTS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    if _screenshots:
        terminalreporter.section("screenshots of the notebooks in JupyterLab")
        for path in _screenshots:
            terminalreporter.write_line(str(path))


@pytest.fixture(scope="session")
def lab_for():
    """`lab_for(folder)`: a running JupyterLab serving `folder` (one per folder per session)."""
    servers: dict[Path, labdriver.LabServer] = {}

    def get(folder: Path) -> labdriver.LabServer:
        folder = folder.resolve()
        if folder not in servers:
            servers[folder] = labdriver.LabServer(folder).start()
        return servers[folder]

    yield get
    unclean = {str(folder): server.stop() for folder, server in servers.items()}
    assert not any(unclean.values()), f"JupyterLab did not stop cleanly: {unclean}"


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = labdriver.launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    page = labdriver.new_lab_page(chromium)
    yield page
    page.context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory):
    """ZI2ZI_SCREENSHOTS names the folder; otherwise a temporary one (printed at the end)."""
    chosen = os.environ.get("ZI2ZI_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshot_dir):
    """`screenshot(name)`: the path to save a screenshot to; listed in the run's summary."""

    def path_for(name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        _screenshots.append(path)
        return path

    return path_for
