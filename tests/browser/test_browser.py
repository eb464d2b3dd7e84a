"""The series as a browser shows it: lessons run in JupyterLab, and the website in both languages.

Lessons are picked from the committed notebooks, never by number: the core lesson is the first whose
outputs hold both a plot and an audio player; the live lesson is the one that builds the VoicePanel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import ARTIFACTS, ROOT

NOTEBOOKS = ROOT / "notebooks"
LESSON = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
SEARCH = {"en": "WebSocket", "zh": "回放"}  # words the home page of each language holds
RUN_TIMEOUT = 240  # s for a whole lesson: the replay server paces answers like a live service


def lessons(folder: Path = NOTEBOOKS) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if LESSON.match(p.name))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def outputs_text(path: Path) -> str:
    return json.dumps([c.get("outputs", []) for c in cells(path)])


def committed_counts(path: Path) -> tuple[int, int]:
    """(plots, audio players) among a notebook's committed outputs."""
    text = outputs_text(path)
    return text.count('"image/png"'), text.count("<audio")


def title(path: Path) -> str:
    return re.match(r"#\s+(.+)", "".join(cells(path)[0]["source"])).group(1).strip()


def core_lesson() -> Path:
    return next(p for p in lessons() if all(committed_counts(p)))


def live_lesson() -> Path:
    return next(p for p in lessons() if any("VoicePanel(" in "".join(c["source"]) for c in cells(p)))


# -- JupyterLab ------------------------------------------------------------------------------

def open_in_lab(page, lab, path: Path) -> None:
    page.goto(f"{lab['url']}/lab/tree/{path.name}?reset&token={lab['token']}")  # reset: only this notebook open
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.get_by_role("menuitem", name=re.compile(f"^{re.escape(item)}")).first.click()


def prompts(page) -> list[str]:
    return page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()


def wait_for_run(page, upto: int | None = None) -> None:
    """Wait until the code cells (the first `upto` of them) have run, or one has failed."""
    page.wait_for_function(
        """upto => {
            const shown = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
                .map(p => p.innerText).slice(0, upto ?? undefined);
            const failed = [...document.querySelectorAll('.jp-OutputArea')].some(o => o.innerText.includes('Traceback'));
            return failed || shown.every(t => /\\[\\d+\\]/.test(t));
        }""", arg=upto, timeout=RUN_TIMEOUT * 1000)


def assert_no_cell_errors(page) -> None:
    outputs = page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts()
    failed = [text for text in outputs if "Traceback (most recent call last)" in text]
    assert not failed, f"a cell failed:\n{failed[0][:2000]}"
    assert all(re.search(r"\[\d+\]", p) for p in prompts(page)), f"not every cell ran: {prompts(page)}"


def clear_outputs(page) -> None:
    """Clear the committed outputs, so that everything checked afterwards was produced in this browser."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("!document.querySelector('.jp-Notebook .jp-RenderedImage, .jp-Notebook audio')")
    assert not any(re.search(r"\d", p) for p in prompts(page)), "outputs were not cleared"


def playable(page, scope: str) -> list[float]:
    """Durations (s) of the audio players under `scope`, once each has loaded its metadata."""
    page.wait_for_function(f"[...document.querySelectorAll('{scope} audio')].every(a => a.readyState >= 1)")
    return page.eval_on_selector_all(f"{scope} audio", "players => players.map(a => a.duration)")


def image_widths(page, scope: str) -> list[int]:
    page.wait_for_function(f"[...document.querySelectorAll('{scope} img')].every(i => i.complete)")
    return page.eval_on_selector_all(f"{scope} img", "images => images.map(i => i.naturalWidth)")


@pytest.mark.parametrize("path", [p for p in [core_lesson(), live_lesson()]], ids=lambda p: p.stem)
def test_lesson_opens_trusted_and_unchanged(browser, lab, path):
    """As `make lab` opens it: trusted (its HTML outputs, the audio players, are shown) and not modified."""
    page = browser.new_page()
    open_in_lab(page, lab, path)
    # the kernel has told JupyterLab its spec and language once the toolbar shows its name
    kernel = KernelSpecManager().get_kernel_spec("python3").display_name
    page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName", has_text=kernel).wait_for()
    tab = page.locator(".lm-TabBar-tab.jp-mod-current, .lm-TabBar-tab.lm-mod-current").filter(has_text=path.name)
    assert "jp-mod-dirty" not in (tab.first.get_attribute("class") or ""), "opened with unsaved changes"
    plots, players = committed_counts(path)
    assert page.locator(".jp-OutputArea audio").count() == players, "committed audio players shown"
    page.screenshot(path=ARTIFACTS / f"lab-{path.stem}-opened.png")
    page.close()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if ".ipynb_checkpoints" not in p.parts}


def test_core_lesson_runs_in_jupyterlab(browser, lab):
    path = core_lesson()
    shipped = files_under(lab["root"] / "notebooks")
    page = browser.new_page()
    open_in_lab(page, lab, path)
    clear_outputs(page)
    menu(page, "Run", "Run All Cells")
    wait_for_run(page)
    assert_no_cell_errors(page)
    assert files_under(lab["root"] / "notebooks") == shipped, "run outputs belong in output/, not notebooks/"
    plots, players = committed_counts(path)
    widths = image_widths(page, ".jp-RenderedImage")
    assert len(widths) == plots and all(w > 100 for w in widths), f"plots as images: {widths}"
    durations = playable(page, ".jp-OutputArea")
    assert len(durations) == players and all(d > 0.5 for d in durations), f"audio players: {durations}"
    page.locator(".jp-RenderedImage img").first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"lab-{path.stem}-plot.png")
    page.locator(".jp-OutputArea audio").last.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"lab-{path.stem}-player.png")
    page.close()


def test_live_lesson_shows_its_panel_in_jupyterlab(browser, lab):
    path = live_lesson()
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    panel_at = next(i for i, c in enumerate(code) if "VoicePanel(" in "".join(c["source"]))
    page = browser.new_page()
    open_in_lab(page, lab, path)
    clear_outputs(page)
    code_cells = page.locator(".jp-Notebook .jp-CodeCell")
    code_cells.nth(panel_at).locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run All Above Selected Cell")
    wait_for_run(page, upto=panel_at)
    page.keyboard.press("Control+Enter")  # run the selected cell: the panel
    wait_for_run(page, upto=panel_at + 1)
    panel = code_cells.nth(panel_at).locator(".jp-OutputArea .widget-vbox")
    panel.wait_for(timeout=30_000)
    assert panel.locator(".widget-toggle-button", has_text="Talk").is_visible()
    assert panel.locator("button", has_text="Stop answer").is_visible()
    assert "ready" in panel.locator(".widget-label").first.inner_text()
    panel.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"lab-{path.stem}-panel.png")
    code_cells.nth(panel_at + 1).locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run Selected Cell and All Below")
    wait_for_run(page)
    assert_no_cell_errors(page)
    panel.wait_for(state="detached", timeout=10_000)  # the lesson closes its panel further down
    code_cells.nth(panel_at + 1).scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"lab-{path.stem}-closed.png")
    page.close()


# -- the website ------------------------------------------------------------------------------

def nav_slugs(page) -> list[str]:
    hrefs = page.eval_on_selector_all(".md-nav--primary > .md-nav__list > .md-nav__item > a.md-nav__link",
                                      "links => links.map(a => a.getAttribute('href'))")
    return [m.group(1) for h in hrefs if (m := re.search(r"(\d\d_[a-z0-9_]+)/?$", h))]


def search(page, query: str) -> list[str]:
    """The titles the site search lists for `query`."""
    box, results = page.locator("input.md-search__input"), page.locator(".md-search-result__item")
    box.click()
    for _attempt in range(10):  # the index loads in a web worker, which drops a query typed before it is ready
        box.fill("")
        box.press_sequentially(query)
        try:
            results.first.wait_for(timeout=3_000)
            return page.locator(".md-search-result__item h1, .md-search-result__item h2").all_inner_texts()
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the site search found nothing for {query!r}")


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_website(browser, website, locale):
    english = lessons()
    translated = {p.name: p for p in lessons(NOTEBOOKS / "zh-CN")} if locale == "zh" else {}
    prefix = "" if locale == "en" else f"/{locale}"
    page = browser.new_page()
    page.goto(f"{website}{prefix}/")
    assert page.locator("html").get_attribute("lang") == locale
    assert nav_slugs(page) == [p.stem for p in english], "navigation in lesson order"
    page.screenshot(path=ARTIFACTS / f"site-{locale}-home.png")

    core = core_lesson()
    page.locator(".md-nav--primary a.md-nav__link", has_text=title(translated.get(core.name, core))).first.click()
    page.wait_for_url(f"**{prefix}/{core.stem}/")
    assert page.locator("h1").first.inner_text().strip() == title(translated.get(core.name, core))
    plots, players = committed_counts(translated.get(core.name, core))
    widths = image_widths(page, ".jupyter-wrapper .jp-RenderedImage")
    assert len(widths) == plots and all(w > 100 for w in widths), f"plots: {widths}"
    durations = playable(page, ".jupyter-wrapper")
    assert len(durations) == players and all(d > 0.5 for d in durations), f"players: {durations}"
    page.locator(".jupyter-wrapper .jp-RenderedImage img").first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"site-{locale}-{core.stem}.png")

    following = english[english.index(core) + 1]
    page.locator("a.md-footer__link--next").click()
    page.wait_for_url(f"**{prefix}/{following.stem}/")

    other = "zh" if locale == "en" else "en"
    switch = page.locator(f".md-select__link[hreflang='{other}']")
    page.locator(".md-header__option .md-select").hover()
    switch.click()
    page.wait_for_url(re.compile(rf"{'/zh' if other == 'zh' else ''}/{following.stem}/$"))
    assert page.locator("html").get_attribute("lang") == other

    page.goto(f"{website}{prefix}/")
    query = SEARCH[locale]
    found = search(page, query)
    assert found, f"search for {query!r}"
    page.screenshot(path=ARTIFACTS / f"site-{locale}-search.png")
    page.close()
