"""One setting names the public repository: every notebook's Colab badge and clone cell use it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools")]

import nbformat  # noqa: E402

from notebook_tools import NOTEBOOKS, REPO, notebook_paths  # noqa: E402

BOOKS = notebook_paths() + notebook_paths(NOTEBOOKS / "zh-CN")
COLAB = re.compile(r"colab\.research\.google\.com/github/([^/\s)]+/[^/\s)]+)/blob/main/([^\s)]+)")
CLONE = re.compile(r"git clone [^\n]*?https://github\.com/([^/\s]+/[^/\s]+?)(?:\.git)?\s")


def sources(path: Path) -> str:
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)


def test_the_setting_is_an_owner_and_a_name():
    assert re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", REPO), REPO


def test_every_notebook_opens_itself_in_colab_from_the_repository():
    assert BOOKS, "no notebooks found"
    for path in BOOKS:
        badges = COLAB.findall(sources(path))
        assert badges, f"{path.name}: no Colab badge"
        for repo, target in badges:
            assert repo == REPO, f"{path.relative_to(ROOT)}: badge points at {repo}, not REPO={REPO} (run make nav)"
            assert (ROOT / target).is_file(), f"{path.relative_to(ROOT)}: badge opens {target}, not in the repository"


def test_every_notebook_clones_the_repository_in_colab():
    for path in BOOKS:
        clones = CLONE.findall(sources(path))
        assert clones == [REPO], f"{path.relative_to(ROOT)}: clones {clones}, not [REPO={REPO}] (run make nav)"


def test_no_tool_spells_the_repository_out_again():
    spelled = [p.name for p in (ROOT / "tools").glob("*.py") if p.name != "notebook_tools.py"
               and REPO in p.read_text(encoding="utf-8")]
    assert not spelled, f"these tools hard-code {REPO}; import REPO from notebook_tools instead: {spelled}"
