"""Re-execute notebooks against the replay server and store their outputs (what nbval checks).

    python tools/regenerate_notebooks.py [NN ...]

The replay server serves the same recorded session every time, so outputs repeat. The few
values that follow the clock (latencies, timeline plots) are kept as stored when the new
output matches the old one under tests/nbval_sanitize.cfg, exactly as nbval compares them:
regenerating twice gives byte-identical files.
"""

from __future__ import annotations

import re
import sys

import nbformat

from notebook_tools import ROOT, execute, notebook_paths

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
SKIPPED = {"image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json"}


def sanitize_patterns() -> list[tuple[str, str]]:
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8")
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.M)


def comparable(outputs, patterns) -> list:
    """Outputs reduced to what nbval compares, sanitized."""
    def clean(value: str) -> str:
        for regex, replace in patterns:
            value = re.sub(regex, replace, value)
        return value

    out = []
    for output in outputs:
        if output.output_type == "stream":
            out.append((output.name, clean(output.text)))
        elif output.output_type == "error":
            out.append((output.ename, clean(output.evalue)))
        else:
            data = {k: clean(v if isinstance(v, str) else "".join(v))
                    for k, v in output.get("data", {}).items() if k not in SKIPPED}
            out.append(sorted(data.items()))
    return out


def regenerate(path, patterns) -> None:
    old = nbformat.read(path, as_version=4)
    nb = execute(path)
    previous = {cell.source: cell for cell in old.cells if cell.cell_type == "code"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        before = previous.get(cell.source)
        if cell.cell_type == "code" and before is not None and before.execution_count == cell.execution_count \
                and comparable(before.outputs, patterns) == comparable(cell.outputs, patterns):
            cell.outputs = before.outputs
    nb.metadata.pop("widgets", None)  # widget state holds fresh model ids on every run (the outputs carry HTML)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nbformat.write(nb, path)


def main(selected: list[str]) -> int:
    patterns = sanitize_patterns()
    for path in notebook_paths():
        if not selected or path.name[:2] in selected:
            regenerate(path, patterns)
            print(f"regenerated {path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
