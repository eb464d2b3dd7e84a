"""`make run` names the provider it runs against and never passes a replay off as a live run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST = sorted((ROOT / "notebooks").glob("01_*.ipynb"))[0].name[:2]


def run(provider: str | None, **keys: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("REALTIME_")}
    if provider:
        env["REALTIME_PROVIDER"] = provider
    env.update(keys)
    return subprocess.run([sys.executable, "tools/run_notebooks.py", FIRST], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_live_provider_without_its_key_runs_nothing():
    for provider, key in (("openai", "OPENAI_API_KEY"), ("stepfun", "STEPFUN_API_KEY")):
        result = run(provider)
        assert result.returncode == 2
        assert result.stdout == ""
        assert key in result.stderr and "nothing was run" in result.stderr


def test_a_live_provider_with_a_key_runs_live_and_keeps_the_key_out_of_the_output():
    key = "sk-run-notebooks-test-not-a-real-key"
    result = run("openai", OPENAI_API_KEY=key)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("run: 1 notebooks against openai live at wss://api.openai.com"), lines
    assert lines[-1] == "openai: 0 passed, 1 failed"  # no such key (and no network here): the live run fails
    assert result.returncode == 1
    assert key not in result.stdout + result.stderr


def test_the_default_is_the_replay_server_and_says_so():
    result = run(None)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines[0] == "run: 1 notebooks against the replay server (synthesized sessions, no key)"
    assert lines[-1] == "replay: 1 passed, 0 failed"
