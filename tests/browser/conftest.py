"""Real-browser fixtures: Debian's chromium driven by Playwright, a JupyterLab server, the built website.

Everything runs on local ports chosen by the OS; screenshots are kept in build/browser/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT = 90  # s: JupyterLab's first start builds its caches
# JupyterLab settings for a test run: no autosave (the copies stay as run), every cell in the DOM, no news toast.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
# A silent ALSA capture and playback device, so that the kernel has a "microphone" and the live panel renders.
SILENT_ALSA = "pcm.!default { type null }\n"


def wait_until(condition, timeout: float, what: str):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        threading.Event().wait(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(artifacts, tmp_path_factory):
    """A fresh headless chromium profile; pages open with a 1280x900 viewport."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `bash tools/setup.sh` installs Debian's chromium as root")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        yield context
        context.close()


def lab_home(home: Path, token: str) -> None:
    """A HOME for JupyterLab: the server config (token, port 0) and the test's lab settings."""
    config = home / ".jupyter"
    config.mkdir(parents=True)
    server = {"IdentityProvider": {"token": token},
              "ServerApp": {"ip": "127.0.0.1", "port": 0, "open_browser": False}}
    (config / "jupyter_server_config.json").write_text(json.dumps(server), encoding="utf-8")
    for plugin, values in LAB_SETTINGS.items():
        path = config / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    (home / ".asoundrc").write_text(SILENT_ALSA, encoding="utf-8")


@pytest.fixture(scope="session")
def lab(tmp_path_factory, artifacts):
    """`make lab` (tools/lab.py) on a free port over a copy of notebooks/ (media/ linked): yields URL and token.

    The token reaches the server through its config file, never the command line.
    """
    root = artifacts / "lab"
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("output", ".ipynb_*"))
    (root / "media").symlink_to(ROOT / "media", target_is_directory=True)
    home = tmp_path_factory.mktemp("lab-home")
    token = secrets.token_hex(16)
    lab_home(home, token)
    runtime = home / "runtime"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(HOME=str(home), JUPYTER_RUNTIME_DIR=str(runtime), REALTIME_PROVIDER="replay",
               JUPYTER_CONFIG_DIR=str(home / ".jupyter"), MPLBACKEND="module://matplotlib_inline.backend_inline")
    env.pop("REALTIME_DIALECT", None)
    log = (artifacts / "jupyterlab.log").open("w")
    process = subprocess.Popen([sys.executable, str(ROOT / "tools" / "lab.py"), str(root / "notebooks")],
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        info = wait_until(lambda: next(iter(runtime.glob("jpserver-*.json")), None) if process.poll() is None
                          else pytest.fail(f"JupyterLab exited; see {log.name}"),
                          SERVER_START_TIMEOUT, "JupyterLab to write its server file")
        port = wait_until(lambda: json.loads(info.read_text() or "{}").get("port"), 10, "the server's port")
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "root": root}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output to the test's own lines
        pass


@pytest.fixture(scope="session")
def website(artifacts):
    """The website built now from the committed notebooks, served on a free port: yields its base URL."""
    build = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py")], capture_output=True, text=True)
    assert build.returncode == 0, f"make site failed:\n{build.stdout}\n{build.stderr}"
    handler = functools.partial(QuietHandler, directory=str(ROOT / "build" / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
