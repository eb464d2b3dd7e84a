"""Run test code in a fresh interpreter: a clean ALSA/PortAudio state, optionally another HOME."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, home: Path | None = None) -> subprocess.CompletedProcess:
    """Run `code` (dedented) with the project importable; stdout and stderr captured."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=60, cwd=ROOT)
