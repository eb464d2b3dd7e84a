"""The Chinese edition: notebooks/zh-CN/NN_topic.ipynb built from notebooks/NN_topic.ipynb + i18n/zh-CN/NN_topic.po.

One gettext entry per cell: msgctxt = cell id, msgid = the English cell source, msgstr = the
Chinese cell source. The generated cells (Colab badge, navigation, setup) are not translated
here: they are produced in Chinese by `build`. A code cell's Chinese source may differ from the
English only in string literals and comments (`check` compares both with those masked).

    python tools/i18n.py extract [NN ...]   # create the catalogue of a notebook that has none
    python tools/i18n.py update  [NN ...]   # refresh catalogues: new cells untranslated, changed cells fuzzy
    python tools/i18n.py build   [NN ...]   # write notebooks/zh-CN/*.ipynb and the index in README.zh-CN.md
    python tools/i18n.py run     [NN ...]   # execute the Chinese notebooks against the replay server, store outputs
    python tools/i18n.py check              # exit 1: missing or stale translation, diverging code, stale build

Refreshing a lesson after its English notebook changed (say 07):
    1. python tools/i18n.py update 07     changed cells become fuzzy, with the previous English kept
                                          as `#| msgid` beside the new one; new cells are untranslated
    2. translate: edit i18n/zh-CN/07_*.po (Poedit, Lokalize or a text editor): fill the empty
                                          msgstr, fix each fuzzy one and delete its `fuzzy` flag
    3. python tools/i18n.py build 07      rebuild the notebook (and every neighbour's navigation)
    4. python tools/i18n.py run 07        outputs against the replay server (Mandarin cassette
                                          media/cassettes/zh-CN/07_*.jsonl, from tools/scenarios_zh.py)
    5. python tools/i18n.py check         what `make test` runs, before the strict nbval pass
A renamed notebook keeps its cell ids: `git mv` its catalogue to the new name and delete the old
notebooks/zh-CN/ file before step 1. A new notebook starts with `extract NN` instead of `update`.
A lesson that talks to the model needs its Mandarin scenario in tools/scenarios_zh.py first.
"""

from __future__ import annotations

import argparse
import copy
import io
import re
import sys
import tokenize
from pathlib import Path

import nbformat
import polib

from nav import CELL_IDS, INDEX_END, INDEX_START, NAV, NAV_END, SETUP_MARKER, ZH_FOLDER, badge, setup_source
from notebook_tools import NOTEBOOKS, ROOT, notebook_paths

LOCALE = "zh-CN"
CATALOGUES = ROOT / "i18n" / LOCALE
ZH_NOTEBOOKS = NOTEBOOKS / ZH_FOLDER
ZH_README = ROOT / "README.zh-CN.md"
GENERATED = set(CELL_IDS.values())
SETUP_COMMENT = "设置：在 Colab 中获取本系列及其 helpers；在其他环境中它们已经装好。"
MASK = "<str>"


# -- what is translated, and how two code cells compare ------------------------------------

def is_setup(cell) -> bool:
    return cell.cell_type == "code" and cell.source.startswith(SETUP_MARKER)


def translatable(nb) -> list:
    """The cells a catalogue holds: every non-empty cell except the generated ones."""
    return [c for c in nb.cells if c.id not in GENERATED and not is_setup(c) and c.source.strip()]


def as_python(source: str) -> str:
    """A code cell with each IPython shell or magic line (`!cmd`, `%magic`) turned into a string literal."""
    lines = []
    for line in source.splitlines():
        body = line.lstrip()
        lines.append(line[:len(line) - len(body)] + repr(body) if body[:1] in ("!", "%") else line)
    return "\n".join(lines) + "\n"


def code_shape(source: str) -> list[tuple[int, str]]:
    """The tokens of a code cell with comments dropped and string literals masked."""
    python = as_python(source)
    shape, depth = [], 0
    for token in tokenize.generate_tokens(io.StringIO(python).readline):
        kind = token.type
        if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if kind == getattr(tokenize, "FSTRING_START", -1):
            depth += 1
        if depth or kind == tokenize.STRING:
            if not shape or shape[-1] != (tokenize.STRING, MASK):
                shape.append((tokenize.STRING, MASK))  # adjacent literals collapse into one
        else:
            shape.append((kind, token.string))
        if kind == getattr(tokenize, "FSTRING_END", -1):
            depth -= 1
    return shape


def nothing_to_translate(source: str) -> bool:
    """A code cell without comments or string literals reads the same in Chinese."""
    try:
        kinds = {t.type for t in tokenize.generate_tokens(io.StringIO(as_python(source)).readline)}
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return not kinds & {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_START", -1)}


# -- catalogues -------------------------------------------------------------------------

def catalogue_path(notebook: Path) -> Path:
    return CATALOGUES / f"{notebook.stem}.po"


def new_catalogue(notebook: Path) -> polib.POFile:
    po = polib.POFile(wrapwidth=0)
    po.metadata = {"Project-Id-Version": f"realtime-api-notebooks {notebook.stem}", "Language": LOCALE,
                   "MIME-Version": "1.0", "Content-Type": "text/plain; charset=UTF-8",
                   "Content-Transfer-Encoding": "8bit", "X-Source": f"notebooks/{notebook.name}"}
    return po


def refresh(notebook: Path, po: polib.POFile) -> dict[str, int]:
    """Make `po` follow the English notebook, in its cell order; returns counts of what changed."""
    nb = nbformat.read(notebook, as_version=4)
    old = {e.msgctxt: e for e in po if not e.obsolete}
    counts = {"new": 0, "fuzzy": 0, "dropped": 0}
    entries = []
    for cell in translatable(nb):
        entry = old.pop(cell.id, None)
        if entry is None:
            entry = polib.POEntry(msgctxt=cell.id, msgid=cell.source, msgstr="")
            counts["new"] += 1
        elif entry.msgid != cell.source:
            entry.previous_msgid, entry.msgid = entry.msgid, cell.source
            if "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
            counts["fuzzy"] += 1
        entry.comment = f"{cell.cell_type} cell"
        if cell.cell_type == "code" and nothing_to_translate(cell.source):
            entry.msgstr, entry.flags, entry.previous_msgid = cell.source, [], None
        entries.append(entry)
    counts["dropped"] = len(old)
    po[:] = entries
    return counts


def load_catalogue(notebook: Path) -> polib.POFile | None:
    path = catalogue_path(notebook)
    return polib.pofile(str(path), wrapwidth=0) if path.exists() else None


def problems(notebook: Path, po: polib.POFile | None) -> list[str]:
    """Why the catalogue cannot build a current Chinese notebook (empty when it can)."""
    name = notebook.stem
    if po is None:
        return [f"{name}: no catalogue {catalogue_path(notebook).relative_to(ROOT)} (run: tools/i18n.py extract {name[:2]})"]
    entries = {e.msgctxt: e for e in po if not e.obsolete}
    found = []
    for cell in translatable(nbformat.read(notebook, as_version=4)):
        where = f"{name} cell {cell.id}"
        entry = entries.get(cell.id)
        if entry is None or not entry.msgstr:
            found.append(f"{where}: missing translation")
        elif entry.msgid != cell.source or "fuzzy" in entry.flags:
            found.append(f"{where}: stale translation (the English cell changed; run update, translate, drop fuzzy)")
        elif cell.cell_type == "code" and diverges(cell.source, entry.msgstr):
            found.append(f"{where}: the Chinese code differs from the English beyond strings and comments")
    return found


def diverges(english: str, chinese: str) -> bool:
    try:
        return code_shape(english) != code_shape(chinese)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return True


# -- building the Chinese notebooks ------------------------------------------------------

def zh_title(po: polib.POFile, nb) -> str:
    entry = next(e for e in po if e.msgctxt == nb.cells[0].id)
    match = re.match(r"#\s+(.+)", entry.msgstr)
    if not match:
        raise SystemExit(f"the translated title of {po.metadata['X-Source']} must stay an H1")
    return match.group(1).strip()


def nav_cells(name: str, prev, nxt) -> dict[str, str]:
    """The generated markdown cells of a Chinese notebook, by cell id."""
    english = f"[English](../{name})"
    left = f"← 上一篇：[{prev[1]}]({prev[0]})" if prev else "本系列的第一篇"
    right = f"下一篇：[{nxt[1]}]({nxt[0]}) →" if nxt else "本系列的最后一篇"
    tail = f"**下一篇：**[{nxt[1]}]({nxt[0]})" if nxt else "**整个系列到此结束。** 返回 [README](../../README.zh-CN.md)。"
    return {
        "colab-badge": badge(name, f"notebooks/{ZH_FOLDER}"),
        "nav-top": f"{NAV}\n{left} · [全部笔记本](../../README.zh-CN.md#笔记本目录) · {right} · {english}",
        "nav-end": f"{NAV_END}\n{tail}",
    }


def translate(english, po: polib.POFile, generated: dict[str, str], previous) -> nbformat.NotebookNode:
    """The Chinese notebook: English cells with Chinese sources; outputs kept where a cell is unchanged."""
    entries = {e.msgctxt: e.msgstr for e in po if not e.obsolete}
    kept = {c.id: c for c in previous.cells} if previous is not None else {}
    nb = copy.deepcopy(english)
    for cell in nb.cells:
        if cell.id in generated:
            cell.source = generated[cell.id]
        elif is_setup(cell):
            cell.source = setup_source(f"notebooks/{ZH_FOLDER}", SETUP_COMMENT)
        elif cell.source.strip():
            cell.source = entries[cell.id]
        if cell.cell_type == "code":
            old = kept.get(cell.id)
            same = old is not None and old.source == cell.source
            cell.outputs = old.outputs if same else []
            cell.execution_count = old.execution_count if same else None
    if previous is not None:
        nb.metadata = previous.metadata
    return nb


def series() -> list[tuple[Path, object, polib.POFile | None]]:
    return [(p, nbformat.read(p, as_version=4), load_catalogue(p)) for p in notebook_paths()]


def built() -> tuple[dict[Path, nbformat.NotebookNode], str]:
    """Every Chinese notebook as `build` would write it, and the README.zh-CN.md text."""
    books = [(p, nb, po) for p, nb, po in series() if po is not None and not problems(p, po)]
    entries = [(p.name, zh_title(po, nb)) for p, nb, po in books]
    out = {}
    for i, (path, nb, po) in enumerate(books):
        target = ZH_NOTEBOOKS / path.name
        previous = nbformat.read(target, as_version=4) if target.exists() else None
        generated = nav_cells(path.name, entries[i - 1] if i else None, entries[i + 1] if i + 1 < len(entries) else None)
        out[target] = translate(nb, po, generated, previous)
    rows = "\n".join(f"| {n[:2]} | [{t}](notebooks/{ZH_FOLDER}/{n}) | [English](notebooks/{n}) |" for n, t in entries)
    index = f"{INDEX_START}\n| # | 笔记本 | 英文版 |\n|---|---|---|\n{rows}\n{INDEX_END}"
    text = ZH_README.read_text(encoding="utf-8")
    if INDEX_START not in text:
        raise SystemExit(f"README.zh-CN.md needs a {INDEX_START} … {INDEX_END} block for the index")
    text = re.sub(re.escape(INDEX_START) + ".*?" + re.escape(INDEX_END), lambda _m: index, text, flags=re.S)
    return out, text


def sources(nb) -> list[tuple[str, str, str]]:
    return [(c.id, c.cell_type, c.source) for c in nb.cells]


# -- commands ---------------------------------------------------------------------------

def selected(numbers: list[str]) -> list[Path]:
    paths = [p for p in notebook_paths() if not numbers or p.name[:2] in numbers]
    if numbers and len(paths) != len(set(numbers)):
        raise SystemExit(f"unknown notebook number among {numbers}")
    return paths


def cmd_extract(numbers: list[str], only_new: bool) -> int:
    CATALOGUES.mkdir(parents=True, exist_ok=True)
    for path in selected(numbers):
        po = load_catalogue(path)
        if po is not None and only_new:
            print(f"{catalogue_path(path).name}: exists (use update to refresh it)")
            continue
        po = po if po is not None else new_catalogue(path)
        counts = refresh(path, po)
        po.save(str(catalogue_path(path)))
        print(f"{catalogue_path(path).name}: {counts['new']} new, {counts['fuzzy']} fuzzy, "
              f"{counts['dropped']} dropped, {len(po.untranslated_entries())} untranslated")
    return 0


def cmd_build(numbers: list[str]) -> int:
    for path, _, po in series():
        if (not numbers or path.name[:2] in numbers) and po is not None:
            for problem in problems(path, po):
                print(problem)
    books, readme = built()
    ZH_NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    for target, nb in books.items():
        if target.exists() and nbformat.writes(nbformat.read(target, as_version=4)) == nbformat.writes(nb):
            continue
        nbformat.write(nb, target)
        print(f"built {target.relative_to(ROOT)}")
    ZH_README.write_text(readme, encoding="utf-8")
    return 0


def cmd_run(numbers: list[str]) -> int:
    from regenerate_notebooks import regenerate, sanitize_patterns
    patterns = sanitize_patterns()
    for path in selected(numbers):
        target = ZH_NOTEBOOKS / path.name
        if not target.exists():
            raise SystemExit(f"{target.relative_to(ROOT)} is not built yet (tools/i18n.py build {path.name[:2]})")
        regenerate(target, patterns)
        print(f"regenerated {target.relative_to(ROOT)}", flush=True)
    return 0


def cmd_check() -> int:
    found = [problem for path, _, po in series() for problem in problems(path, po)]
    books, readme = built()
    for target, nb in books.items():
        if not target.exists() or sources(nbformat.read(target, as_version=4)) != sources(nb):
            found.append(f"{target.relative_to(ROOT)}: not built from the current catalogue (run: tools/i18n.py build)")
        elif any(c.cell_type == "code" and c.source.strip() and c.execution_count is None for c in nb.cells):
            found.append(f"{target.relative_to(ROOT)}: cells without stored outputs (run: tools/i18n.py run {target.name[:2]})")
    if readme != ZH_README.read_text(encoding="utf-8"):
        found.append("README.zh-CN.md: the notebook index is not current (run: tools/i18n.py build)")
    extra = {p.name for p in ZH_NOTEBOOKS.glob("*.ipynb")} - {p.name for p in books}
    found += [f"notebooks/{ZH_FOLDER}/{name}: no English notebook or catalogue builds it" for name in sorted(extra)]
    for problem in found:
        print(problem)
    print(f"i18n check: {len(found)} problem(s) in {len(books)} Chinese notebook(s)")
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["extract", "update", "build", "run", "check"])
    parser.add_argument("numbers", nargs="*", metavar="NN", help="notebook numbers (default: all)")
    args = parser.parse_args(argv)
    if args.command in ("extract", "update"):
        return cmd_extract(args.numbers, only_new=args.command == "extract")
    if args.command == "build":
        return cmd_build(args.numbers)
    if args.command == "run":
        return cmd_run(args.numbers)
    return cmd_check()


if __name__ == "__main__":
    sys.exit(main())
