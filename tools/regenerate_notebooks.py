"""Re-execute notebooks against the replay server and store their outputs (what nbval checks).

    python tools/regenerate_notebooks.py [NN ...]

Outputs are deterministic: the replay server serves the same recorded session every time.
"""

from __future__ import annotations

import sys

import nbformat

from notebook_tools import execute, notebook_paths

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def regenerate(path) -> None:
    nb = execute(path)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def main(selected: list[str]) -> int:
    for path in notebook_paths():
        if not selected or path.name[:2] in selected:
            regenerate(path)
            print(f"regenerated {path.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
