"""The Chinese edition: the i18n check bites (stale, diverging, missing), and the Mandarin cassettes serve."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import scenarios_2026  # noqa: E402
import scenarios_2026_zh  # noqa: E402
import scenarios_lessons  # noqa: E402
import scenarios_zh  # noqa: E402

import helpers  # noqa: E402
import i18n  # noqa: E402
import notebook_tools  # noqa: E402
import scenarios as scenarios_en  # noqa: E402
from helpers import events  # noqa: E402
from helpers.cassette import load  # noqa: E402
from helpers.replay import serve_in_background  # noqa: E402
from nav import setup_source  # noqa: E402
from notebook_tools import REPO  # noqa: E402

ZH_CASSETTES = ROOT / "media" / "cassettes" / "zh-CN"


# -- the check, on a temporary copy of the repository -------------------------------------

SCRATCH = ("01_connect", "03_text_turn", "05_audio_output")  # enough notebooks for prev/next and the index


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A scratch checkout with three notebooks, their catalogues and Chinese editions; the tool pointed at it."""
    for folder in ("notebooks", "notebooks/zh-CN", "i18n/zh-CN"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for stem in SCRATCH:
        for path in (f"notebooks/{stem}.ipynb", f"notebooks/zh-CN/{stem}.ipynb", f"i18n/zh-CN/{stem}.po"):
            shutil.copy(ROOT / path, tmp_path / path)
    shutil.copy(ROOT / "README.zh-CN.md", tmp_path / "README.zh-CN.md")
    monkeypatch.setattr(notebook_tools, "NOTEBOOKS", tmp_path / "notebooks")
    for name, path in {"ROOT": tmp_path, "CATALOGUES": tmp_path / "i18n" / "zh-CN",
                       "ZH_NOTEBOOKS": tmp_path / "notebooks" / "zh-CN",
                       "ZH_README": tmp_path / "README.zh-CN.md"}.items():
        monkeypatch.setattr(i18n, name, path)
    assert i18n.main(["build"]) == 0  # the navigation and index of a three-notebook series
    return tmp_path


@pytest.fixture
def run(repo, capsys):
    """`tools/i18n.py ARGS` in the scratch checkout: (exit code, what it printed)."""
    def run_tool(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = i18n.main(list(args))
        return code, capsys.readouterr().out
    return run_tool


def catalogue(repo: Path, stem: str) -> polib.POFile:
    return polib.pofile(str(repo / "i18n" / "zh-CN" / f"{stem}.po"), wrapwidth=0)


def first_entry(po: polib.POFile, cell_type: str, needle: str = "") -> polib.POEntry:
    return next(e for e in po if e.comment == f"{cell_type} cell" and needle in e.msgid and e.msgid != e.msgstr)


def edit_english_cell(repo: Path, stem: str, cell_id: str, new_source: str) -> None:
    path = repo / "notebooks" / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if c.id == cell_id).source = new_source
    nbformat.write(nb, path)


def test_check_passes_on_the_committed_edition(capsys):
    assert i18n.main(["check"]) == 0, capsys.readouterr().out


def test_check_passes_on_the_scratch_copy(run):
    code, out = run("check")
    assert code == 0 and "0 problem(s) in 3 Chinese notebook(s)" in out, out


def test_check_fails_when_an_english_cell_changes_and_update_marks_it_fuzzy(repo, run):
    entry = first_entry(catalogue(repo, "03_text_turn"), "markdown", "## Overview")
    edit_english_cell(repo, "03_text_turn", entry.msgctxt, entry.msgid + "\nOne more English sentence.")
    code, out = run("check")
    assert code == 1
    assert f"03_text_turn cell {entry.msgctxt}: stale translation" in out

    assert run("update", "03")[0] == 0
    updated = next(e for e in catalogue(repo, "03_text_turn") if e.msgctxt == entry.msgctxt)
    assert "fuzzy" in updated.flags and updated.previous_msgid == entry.msgid
    assert updated.msgid.endswith("One more English sentence.") and updated.msgstr == entry.msgstr
    assert run("check")[0] == 1, "a fuzzy entry is still stale"


def test_check_fails_when_chinese_code_diverges(repo, run):
    po = catalogue(repo, "03_text_turn")
    entry = first_entry(po, "code", "client.send(")
    entry.msgstr = entry.msgstr.replace("client.send(", "client.close(); client.send(", 1)
    po.save()
    code, out = run("check")
    assert code == 1
    assert f"03_text_turn cell {entry.msgctxt}: the Chinese code differs" in out


def test_strings_and_comments_may_differ_but_not_code():
    english = 'x = f"{n:3} items"  # count\n!echo "hi"\nprint("hello", x)'
    assert not i18n.diverges(english, 'x = f"{n:3} 个"\n# 计数\n!echo "你好"\nprint("你好", x)')
    assert i18n.diverges(english, 'x = f"{n:3} items"\n!echo "hi"\nprint("hello", x, 1)')
    assert i18n.diverges(english, 'x = f"{n:3} items"\n!echo "hi"\nprint("hello", y)')
    assert i18n.diverges(english, 'x = (')  # untokenizable Chinese code is a divergence, not a crash


def test_check_fails_when_a_translation_is_missing(repo, run):
    po = catalogue(repo, "05_audio_output")
    entry = first_entry(po, "markdown")
    entry.msgstr = ""
    po.save()
    code, out = run("check")
    assert code == 1
    assert f"05_audio_output cell {entry.msgctxt}: missing translation" in out
    (repo / "i18n" / "zh-CN" / "05_audio_output.po").unlink()
    assert "05_audio_output: no catalogue" in run("check")[1]


def test_check_fails_when_a_built_notebook_is_out_of_date(repo, run):
    po = catalogue(repo, "01_connect")
    entry = first_entry(po, "markdown")
    entry.msgstr += "\n\n补充一句。"
    po.save()
    code, out = run("check")
    assert code == 1 and "notebooks/zh-CN/01_connect.ipynb: not built" in out
    assert run("build", "01")[0] == 0
    code, out = run("check")  # a markdown change keeps the stored outputs
    assert code == 0, out

    code_entry = first_entry(po, "code", "print(")
    code_entry.msgstr = code_entry.msgstr.replace("print(", "# 多一行注释\nprint(", 1)
    po.save()
    run("build", "01")
    code, out = run("check")
    assert code == 1 and "01_connect.ipynb: cells without stored outputs (run: tools/i18n.py run 01)" in out


def test_every_english_notebook_links_to_its_chinese_counterpart_and_back():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        english = nbformat.read(path, as_version=4)
        chinese = nbformat.read(ROOT / "notebooks" / "zh-CN" / path.name, as_version=4)
        assert f"[中文版](zh-CN/{path.name})" in next(c.source for c in english.cells if c.id == "nav-top")
        assert f"[English](../{path.name})" in next(c.source for c in chinese.cells if c.id == "nav-top")
        badge = next(c.source for c in chinese.cells if c.id == "colab-badge")
        assert badge.endswith(f"colab.research.google.com/github/{REPO}/blob/main/notebooks/zh-CN/{path.name})")
        setup = [c.source for c in chinese.cells if c.cell_type == "code" and "git clone" in c.source]
        assert setup == [setup_source("notebooks/zh-CN", i18n.SETUP_COMMENT)]  # Colab: cd into notebooks/zh-CN
    assert "[English](README.md)" in (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "(README.zh-CN.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_editions_write_to_separate_output_folders():
    # `make notebooks-check` runs both editions at once: a shared file (a recording, a log folder
    # that a lesson empties) would let one edition's kernel pull the other's out from under it.
    for path in sorted((ROOT / "notebooks" / "zh-CN").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for line in cell.source.splitlines():
                    if "output" in line and "../../output" in line:
                        assert "../../output/zh-CN" in line, f"{path.name} {cell.id}: {line}"
                    assert '"../output' not in line, f"{path.name} {cell.id}: {line}"


# -- the Mandarin cassettes ------------------------------------------------------------

def test_every_english_scenario_has_a_mandarin_twin_with_the_same_turns():
    english = {s.name: s for s in scenarios_en.SCENARIOS + scenarios_lessons.SCENARIOS}
    chinese = {s.name.removeprefix(scenarios_zh.PREFIX): s for s in scenarios_zh.SCENARIOS}
    assert {s.name for s in scenarios_en.SCENARIOS} <= set(chinese) <= set(english)
    for name, scenario in chinese.items():
        assert [type(s) for s in scenario.steps] == [type(s) for s in english[name].steps], name
        assert scenario.responses == english[name].responses
        assert load(ZH_CASSETTES / f"{name}.jsonl").meta["provenance"]["script"] == scenario.name


def test_every_mandarin_2026_scenario_mirrors_its_english_namesake():
    english = {s.name: s for s in scenarios_2026.SCENARIOS_2026}
    for scenario in scenarios_2026_zh.SCENARIOS:
        twin = english[scenario.name.removeprefix(scenarios_2026_zh.PREFIX)]
        assert [type(s) for s in scenario.steps] == [type(s) for s in twin.steps], scenario.name
        assert (scenario.responses, scenario.provider, scenario.model, scenario.kind) == \
            (twin.responses, twin.provider, twin.model, twin.kind), scenario.name
        calls = [(s.server_label, s.name, s.arguments) for s in scenario.steps if isinstance(s, scenarios_2026.McpCall)]
        assert calls == [(s.server_label, s.name, s.arguments) for s in twin.steps
                         if isinstance(s, scenarios_2026.McpCall)], scenario.name  # the real MCP server's tools
        cassette = load(ZH_CASSETTES / f"{scenario.name.removeprefix(scenarios_2026_zh.PREFIX)}.jsonl")
        assert cassette.meta["provenance"]["script"] == scenario.name


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed: cannot regenerate")
def test_mandarin_cassettes_regenerate_byte_for_byte(tmp_path):
    names = [s.name for s in (*scenarios_zh.SCENARIOS, *scenarios_2026_zh.SCENARIOS)]
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "synthesize_cassettes.py"), "--out", str(tmp_path),
                             "--only", *names], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    drifted = [n for n in names if (tmp_path / f"{n}.jsonl").read_bytes() != (ROOT / "media/cassettes" /
                                                                               f"{n}.jsonl").read_bytes()]
    assert drifted == [], "run tools/synthesize_cassettes.py --only " + " ".join(drifted)
    assert sorted(p.name for p in ZH_CASSETTES.glob("*.jsonl")) == sorted(f"{n[6:]}.jsonl" for n in names)


def test_a_subfolder_cassette_serves_a_mandarin_answer():
    with serve_in_background(ROOT / "media" / "cassettes") as server, \
            helpers.connect("replay", cassette="zh-CN/03_text_turn", url=server.url, speed=0, log=False) as client:
        client.wait_for("session.created")
        client.send(events.user_text("用两三句话说说，什么是 Realtime API？"))
        client.send(events.response_create(modalities=["text"]))
        done = client.wait_for("response.done", timeout=10)
    text = done["response"]["output"][0]["content"][0]["text"]
    assert text.startswith("Realtime API 让你的程序") and done["response"]["status"] == "completed"
