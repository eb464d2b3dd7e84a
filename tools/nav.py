"""Write the generated cells of every notebook: Colab badge, prev/next links, and the README index.

Idempotent: cells carrying a marker comment are rewritten in place, never added twice.

    python tools/nav.py          # rewrite
    python tools/nav.py --check  # exit 1 if anything would change
"""

from __future__ import annotations

import re
import sys

import nbformat

from notebook_tools import REPO, ROOT, notebook_paths

BADGE, NAV, NAV_END = "<!--COLAB-->", "<!--NAV-->", "<!--NAV-END-->"
INDEX_START, INDEX_END = "<!--INDEX-START-->", "<!--INDEX-END-->"


def title_of(nb) -> str:
    first = nb.cells[0].source if nb.cells else ""
    match = re.match(r"#\s+(.+)", first)
    if not match:
        raise SystemExit("every notebook must start with an H1 title cell")
    return match.group(1).strip()


def link(entry) -> str:
    return f"[{entry[1]}]({entry[0].name})" if entry else ""


def badge(name: str, folder: str = "notebooks") -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/{folder}/{name}"
    return f"{BADGE}\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def nav(prev, nxt, chinese: str = "") -> str:
    left = f"← Previous: {link(prev)}" if prev else "Start of the series"
    right = f"Next: {link(nxt)} →" if nxt else "End of the series"
    other = f" · [中文版]({chinese})" if chinese else ""
    return f"{NAV}\n{left} · [All notebooks](../README.md#the-notebooks) · {right}{other}"


def nav_end(nxt) -> str:
    tail = f"**Next:** {link(nxt)}" if nxt else "**That's the whole series.** Back to the [README](../README.md)."
    return f"{NAV_END}\n{tail}"


ZH_FOLDER = "zh-CN"  # the Chinese edition, built by tools/i18n.py
CELL_IDS = {BADGE: "colab-badge", NAV: "nav-top", NAV_END: "nav-end"}
SETUP_MARKER = "# Setup: in Colab"
CLONE = "/content/realtime-api-notebooks"


def setup_source(folder: str = "notebooks",
                 comment: str = "Setup: in Colab, fetch the series and its helpers; elsewhere they are already installed.",
                 ) -> str:
    """The setup cell: in Colab, clone the series, install its dependencies, import from the clone."""
    return "\n".join([
        f"# {comment}",
        "import sys",
        'if "google.colab" in sys.modules:',
        f"    !git clone -q --depth 1 https://github.com/{REPO} {CLONE}",
        f'    %pip install -q -e "{CLONE}[relay]"',
        f'    sys.path.insert(0, "{CLONE}")  # an editable install is only seen by a new kernel',
        f"    %cd {CLONE}/{folder}",
        "import helpers",
    ])


def put(cells, marker: str, text: str, index: int) -> None:
    """Replace the cell holding `marker`, or insert one at `index` (negative: from the end)."""
    for cell in cells:
        if cell.cell_type == "markdown" and cell.source.startswith(marker):
            cell.source = text
            cell["id"] = CELL_IDS[marker]
            return
    new = nbformat.v4.new_markdown_cell(text, id=CELL_IDS[marker])
    cells.insert(index if index >= 0 else len(cells) + 1 + index, new)


def main(check: bool) -> int:
    paths = notebook_paths()
    books = [(p, nbformat.read(p, as_version=4)) for p in paths]
    entries = [(p, title_of(nb)) for p, nb in books]
    changed = []
    for i, (path, nb) in enumerate(books):
        before = nbformat.writes(nb)
        prev = entries[i - 1] if i else None
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        put(nb.cells, BADGE, badge(path.name), 1)
        chinese = f"{ZH_FOLDER}/{path.name}" if (path.parent / ZH_FOLDER / path.name).exists() else ""
        put(nb.cells, NAV, nav(prev, nxt, chinese), 2)
        put(nb.cells, NAV_END, nav_end(nxt), -1)
        setup = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(SETUP_MARKER)]
        if len(setup) != 1:
            raise SystemExit(f"{path.name}: needs exactly one setup cell starting with {SETUP_MARKER!r}")
        setup[0].source = setup_source()
        if nbformat.writes(nb) != before:
            changed.append(path.name)
            if not check:
                nbformat.write(nb, path)
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    rows = "\n".join(f"| {p.name[:2]} | [{t}](notebooks/{p.name}) |" for p, t in entries)
    index = f"{INDEX_START}\n| # | Notebook |\n|---|---|\n{rows}\n{INDEX_END}"
    new_text = re.sub(re.escape(INDEX_START) + ".*?" + re.escape(INDEX_END), lambda _m: index, text, flags=re.S)
    if new_text != text:
        changed.append("README.md")
        if not check:
            readme.write_text(new_text, encoding="utf-8")
    for name in changed:
        print(("would update " if check else "updated ") + name)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
