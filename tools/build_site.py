"""Build the website of the series from the committed notebooks: their outputs as they are, nothing re-runs.

    python tools/build_site.py      # -> build/site/ (English at /, Chinese at /zh/)

Lessons are found by glob in each language's folder (notebooks/, notebooks/zh-CN/); a lesson not yet
translated shows the English notebook on the Chinese site. Links between notebooks become links
between pages; other relative links point at the repository (REPO).
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

from nav import title_of
from notebook_tools import NOTEBOOKS, REPO, ROOT, notebook_paths

STAGE = ROOT / "build" / "site-src"
SITE = ROOT / "build" / "site"
# site locale -> (notebook folder, README whose first paragraph opens the home page)
LANGUAGES = {"en": (NOTEBOOKS, ROOT / "README.md"), "zh": (NOTEBOOKS / "zh-CN", ROOT / "README.zh-CN.md")}
HOME_TITLE = {"en": "Home", "zh": "首页"}
LESSONS_HEADING = {"en": "The lessons", "zh": "课程目录"}
LINK = re.compile(r"(\]\()([^)\s]+)(\))")
LESSON_PATH = re.compile(r"^(notebooks(?:/[A-Za-z-]+)?)/(\d\d_[a-z0-9_]+)\.ipynb$")
SITE_FOLDER = {"notebooks": "", "notebooks/zh-CN": "zh/"}  # notebook folder -> where its pages are on the site
README_PAGE = {"README.md": "", "README.zh-CN.md": "zh/"}


def site_link(target: str, folder: str, page: str) -> str:
    """Where a link written in a file under `folder` points, from the page at `page` (site-relative: "zh/03_x/").

    A lesson in the same folder stays in the page's language; a lesson in the other language's folder
    goes to that language's page; a README goes to its language's home; any other file goes to the repository.
    """
    if re.match(r"^[a-z]+:|^#|^/", target):
        return target
    path, _, fragment = target.partition("#")
    path = posixpath.normpath(posixpath.join(folder, path))
    home = "zh/" if page.startswith("zh/") else ""
    lesson = LESSON_PATH.match(path)
    if lesson and lesson.group(1) == folder:
        dest = home + lesson.group(2) + "/"
    elif lesson and lesson.group(1) in SITE_FOLDER:
        dest = SITE_FOLDER[lesson.group(1)] + lesson.group(2) + "/"
    elif path in README_PAGE:
        dest = README_PAGE[path]
    else:
        return f"https://github.com/{REPO}/blob/main/{path}" + (f"#{fragment}" if fragment else "")
    relative = posixpath.relpath(dest or ".", page or ".")
    return (relative if relative == "." else relative + "/") + (f"#{fragment}" if fragment and lesson else "")


def site_markdown(text: str, folder: str, page: str) -> str:
    return LINK.sub(lambda m: m.group(1) + site_link(m.group(2), folder, page) + m.group(3), text)


def stage_notebook(src: Path, dest: Path, page: str) -> str:
    """Copy a notebook with its links made site links (outputs untouched); return its title."""
    nb = nbformat.read(src, as_version=4)
    folder = src.parent.relative_to(ROOT).as_posix()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = site_markdown(cell.source, folder, page)
    nbformat.write(nb, dest)
    return title_of(nb)


def introduction(readme: Path) -> str:
    """The README's first paragraph after its title."""
    paragraphs = [p.strip() for p in readme.read_text(encoding="utf-8").split("\n\n")]
    return next(p for p in paragraphs if p and not p.startswith("#"))


def languages(config: dict) -> list[dict]:
    return next(p["i18n"] for p in config["plugins"] if isinstance(p, dict) and "i18n" in p)["languages"]


def stage() -> dict:
    """Write build/site-src/: the docs of each language and a mkdocs config with the lesson-order nav."""
    shutil.rmtree(STAGE, ignore_errors=True)
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    english = {p.name: p for p in notebook_paths()}
    for language in languages(config):
        locale = language["locale"]
        folder, readme = LANGUAGES[locale]
        docs = STAGE / "docs" / locale
        docs.mkdir(parents=True)
        prefix = "" if language.get("default") else f"{locale}/"  # where this language's pages are on the site
        translated = {p.name: p for p in notebook_paths(folder)}
        nav = [{HOME_TITLE[locale]: "index.md"}]
        lines = []
        for name in english:  # the English series sets the order; translations fill in
            page = f"{prefix}{Path(name).stem}/"
            title = stage_notebook(translated.get(name, english[name]), docs / name, page)
            nav.append({title: name})
            lines.append(f"- [{title}]({name})")
        intro = site_markdown(introduction(readme), "", prefix)
        (docs / "index.md").write_text(f"# {language.get('site_name') or config['site_name']}\n\n{intro}\n\n"
                                       f"## {LESSONS_HEADING[locale]}\n\n" + "\n".join(lines) + "\n",
                                       encoding="utf-8")
        language["nav"] = nav
    config.update(repo_url=f"https://github.com/{REPO}", docs_dir=str(STAGE / "docs"), site_dir=str(SITE),
                  hooks=[str(ROOT / hook) for hook in config["hooks"]])
    return config


def main() -> int:
    config = stage()
    config_path = STAGE / "mkdocs.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    print(f"site: building {', '.join(lang['locale'] for lang in languages(config))} "
          f"from the committed notebooks into {SITE.relative_to(ROOT)}/")
    quiet = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's end-of-life notice, printed on every build
    command = [sys.executable, "-m", "mkdocs", "build", "--quiet", "--clean", "-f", str(config_path)]
    return subprocess.call(command, env=quiet)


if __name__ == "__main__":
    sys.exit(main())
