"""Shared bits of the notebook maintenance scripts: where the notebooks are, how to run one."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from helpers.catalogue import default_model

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# THE public repository (GitHub owner/name): the Colab badges, the Colab clone cell and the website's
# links all use it. A fork sets REALTIME_NOTEBOOKS_REPO=owner/name and runs `make nav i18n site`.
REPO = os.environ.get("REALTIME_NOTEBOOKS_REPO") or "realtime-notebooks/realtime-api-notebooks"
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
GA_MODEL = default_model("openai")  # `dialect="ga"` runs: the OpenAI GA persona, on the catalogue's default model


def notebook_paths(folder: Path | None = None) -> list[Path]:
    """The series in `folder` (default notebooks/; notebooks/zh-CN/ for Chinese), in order: NN_topic.ipynb."""
    return sorted(p for p in (folder or NOTEBOOKS).glob("*.ipynb") if NAME.match(p.name))


def notebook_env(dialect: str | None = None, provider: str = "replay") -> dict[str, str]:
    """The environment a notebook runs in: the embedded replay server (in `dialect`), or a live provider."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REALTIME_DIALECT", "REALTIME_MODEL", "REALTIME_REPLAY_URL")}
    env["REALTIME_PROVIDER"] = provider
    if dialect == "ga":  # the model picks the persona: OpenAI GA
        env["REALTIME_MODEL"] = GA_MODEL
    elif dialect:
        env["REALTIME_DIALECT"] = dialect
    return env


def execute(path: Path, timeout: int = 120, dialect: str | None = None, provider: str = "replay"
            ) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel (cwd = its folder) against `provider`; return it."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False, coalesce_streams=True,
                            resources={"metadata": {"path": str(path.parent)}})
    saved, env = dict(os.environ), notebook_env(dialect, provider)  # env before the clear: it copies os.environ
    os.environ.clear()
    os.environ.update(env)
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own start-up chatter
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb
