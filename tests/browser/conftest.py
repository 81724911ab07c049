"""JupyterLab on a copy of the course, and headless Chromium to drive it (``make test-browser``).

JupyterLab is started the way ``make lab`` starts it (``jupyter/jupyter_server_config.py``,
with the course's ``overrides.json`` installed), with fresh user settings. A failing test
saves a screenshot of the browser in ``build/browser/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.notebook_tools import REPO_ROOT

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = REPO_ROOT / "build" / "browser"
TOKEN = "course-browser-test"
# The flags this machine's closed network needs: no background connections, a fresh profile.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def course_copy(folder: Path) -> Path:
    """The course's files (those git does not ignore), copied into ``folder``."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                           capture_output=True, text=True, check=True)
    for name in files.stdout.splitlines():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    return folder


def wait_for_server(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {seconds} s")


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it listens, the copy of the course it serves, its log."""

    url: str
    course: Path
    log: Path

    def address(self, page: str) -> str:
        return f"{self.url}/{page}?token={TOKEN}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab on a copy of the course, as ``make lab`` starts it."""
    scratch = tmp_path_factory.mktemp("lab")
    course = course_copy(scratch / "course")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(scratch / "config"), JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"), JUPYTER_PREFER_ENV_PATH="1")
    config = course / "jupyter" / "jupyter_server_config.py"
    assert config.exists(), f"{config} is missing (Jupyter would ignore a missing config file)"
    port = free_port()
    log = scratch / "jupyterlab.log"
    command = [sys.executable, "-m", "jupyter", "lab", f"--config={config}",
               "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={TOKEN}", *(["--allow-root"] if os.geteuid() == 0 else [])]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=scratch, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(url, server)
        yield Lab(url, course, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def browser(request, tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    if getattr(request.node, "failed_call", True):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{request.node.name}.png"))
    driver.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Note on the test whether its call failed, for the screenshot of the ``browser`` fixture."""
    report = yield
    if report.when == "call":
        item.failed_call = report.failed
    return report
