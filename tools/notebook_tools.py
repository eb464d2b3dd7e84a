"""Shared bits of the notebook maintenance scripts: where the notebooks are, how to run one."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REPO = "realtime-notebooks/realtime-api-notebooks"  # GitHub owner/name used by the Colab badges
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


def notebook_paths() -> list[Path]:
    """The series, in order: notebooks/NN_topic.ipynb."""
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if NAME.match(p.name))


def replay_env(dialect: str | None = None) -> dict[str, str]:
    """The environment a notebook runs in against the embedded replay server."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REALTIME_DIALECT", "REALTIME_MODEL", "REALTIME_REPLAY_URL")}
    env["REALTIME_PROVIDER"] = "replay"
    if dialect == "ga":  # the model picks the persona: OpenAI GA
        env["REALTIME_MODEL"] = "gpt-realtime"
    elif dialect:
        env["REALTIME_DIALECT"] = dialect
    return env


def execute(path: Path, timeout: int = 120, dialect: str | None = None) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel (cwd = its folder) and return it."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, coalesce_streams=True,
                            resources={"metadata": {"path": str(path.parent)}})
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(replay_env(dialect))
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own start-up chatter
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb
