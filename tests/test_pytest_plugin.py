"""The pytest plugin shipped with the package, used from a throwaway project outside this repository.

The package is pip-installed (no network: --no-deps --no-build-isolation) into a folder of its own,
a project with its own conftest and test file is written to a temporary folder, and pytest runs
there: the plugin's `realtime_replay` fixture is found through the package's ``pytest11`` entry
point, serves the project's cassette folder, passes a clean client and fails one the live
service would refuse.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONFTEST = '''
import pathlib
import pytest

@pytest.fixture
def realtime_cassettes():
    return pathlib.Path(__file__).parent / "cassettes"
'''

TESTS = '''
import json
import websocket  # a learner's own client: plain websocket-client, nothing from helpers

def turn(url, session, mistake=None):
    ws = websocket.create_connection(url + "/v1/realtime?model=step-1o-audio&cassette=03_text_turn", timeout=5)
    try:
        assert json.loads(ws.recv())["type"] == "session.created"
        if mistake:
            ws.send(json.dumps(mistake))
            assert json.loads(ws.recv())["type"] == "error"
        ws.send(json.dumps({"type": "session.update", "session": session}))
        json.loads(ws.recv())
        ws.send(json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": "What is the Realtime API?"}]}}))
        ws.send(json.dumps({"type": "response.create"}))
        words = []
        while True:
            event = json.loads(ws.recv())
            if event["type"] == "response.text.delta":
                words.append(event["delta"])
            if event["type"] == "response.done":
                return "".join(words)
    finally:
        ws.close()

BOGUS = {"type": "session.update", "session": {"modalities": ["text"], "bogus": 1}}

def test_clean_client(realtime_replay):
    assert turn(realtime_replay.url, {"modalities": ["text"], "instructions": "Be brief."})

def test_expected_refusal_is_declared(realtime_replay):
    realtime_replay.expect_errors("unknown_parameter")
    assert turn(realtime_replay.url, {"modalities": ["text"]}, BOGUS)

def test_undeclared_refusal_fails(realtime_replay):
    assert turn(realtime_replay.url, {"modalities": ["text"]}, BOGUS)

def test_unconsumed_frames_fail(realtime_replay):
    ws = websocket.create_connection(realtime_replay.url + "/v1/realtime?model=step-1o-audio&cassette=03_text_turn")
    ws.recv()
    ws.close()
'''


def test_plugin_in_a_throwaway_project(tmp_path):
    site = tmp_path / "site"
    build = tmp_path / "build"
    shutil.copytree(REPO, build, ignore=shutil.ignore_patterns(".venv", ".git", "notebooks", "log", "*.pyc",
                                                                 "__pycache__", "output", "build"))
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(build)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert list(site.glob("realtime_notebooks_helpers-*.dist-info"))

    project = tmp_path / "project"
    (project / "cassettes").mkdir(parents=True)
    shutil.copy(REPO / "media" / "cassettes" / "03_text_turn.jsonl", project / "cassettes")
    (project / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (project / "test_my_client.py").write_text(textwrap.dedent(TESTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REALTIME_", "PYTEST_"))}
    env["PYTHONPATH"] = str(site)  # the installed copy, not this checkout
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "-o", "addopts=", "--rootdir", str(project), str(project)],
                         cwd=project, capture_output=True, text=True, timeout=300, env=env)
    out = ran.stdout + ran.stderr
    assert "2 passed" in out and "2 failed" in out, out[-4000:]
    assert "FAILED test_my_client.py::test_undeclared_refusal_fails" in out and "refused ['unknown_parameter']" in out
    assert "FAILED test_my_client.py::test_unconsumed_frames_fail" in out
    assert "left unconsumed" in out, out
    where = subprocess.run([sys.executable, "-c", "import helpers; print(helpers.__file__)"], cwd=project,
                           capture_output=True, text=True, env=env)
    assert where.stdout.startswith(str(site)), where.stdout
